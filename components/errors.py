"""The one exception type for mistakes a user can fix (bad config, bad data).

Stages raise it with a message that names the file, column or value; the CLI
prints that message alone, without a traceback, because the traceback would
only hide it.
"""


class UserInputError(ValueError):
    """Bad input that the user can correct; the message says where and what."""
