"""The one exception type for mistakes a user can fix (bad config, bad data).

Stages raise it with a message that names the file, column or value; the CLI
prints that message alone, without a traceback, because the traceback would
only hide it.
"""


class UserInputError(ValueError):
    """Bad input that the user can correct; the message says where and what."""


class RowError(UserInputError):
    """Bad input at a line (and column): a reader working on parts of a file in parallel
    uses them to report the error that a reader going from the top would have met first."""

    def __init__(self, message: str, line: int, column: str | None = None):
        super().__init__(message)
        self.line = line
        self.column = column
