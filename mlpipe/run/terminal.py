"""What `mlpipe run` and `mlpipe validate` show on the terminal, with `rich`.

One line per stage (name, seconds, the stage's key figure), a live progress line
while a stage runs (on a terminal only), and on failure the stage's log file and
the last lines of its error. The full output of every stage goes to
`<run>/logs/<stage>.log`; `--verbose` streams it to the terminal as well.

Stages report progress with `mlpipe.runtime.logs.progress`, a log line
`... mlpipe.progress: <unit> <done>/<total> <note>` in their output stream; the
runner reads it from there (`stage_output.parse_progress`), so the stages need no
channel besides the one KFP gives them.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from mlpipe.run.stage_output import NAME_WIDTH, ProgressMark, shorten


class Reporter:
    """Silent: the stage logs are written, nothing is shown (library use, tests)."""

    verbose = False
    stream: IO[str] | None = None  # where --verbose streams the stages' output

    def begin(self, title: str, logs: str) -> None:
        pass

    def started(self, name: str) -> None:
        pass

    def progress(self, name: str, mark: ProgressMark) -> None:
        pass

    def finished(
        self,
        name: str,
        ok: bool,
        seconds: float,
        figure: str,
        log: Path | None,
        tail: list[str],
        negative: bool = False,
    ) -> None:
        """`ok`: the stage succeeded; `negative`: with a verdict against the model (not blessed,
        not pushed). A failed stage's `figure` is its error; `tail` the traceback's end."""

    def close(self) -> None:
        pass


class TerminalReporter(Reporter):
    """One line per stage; on a terminal a live progress line for the running stage."""

    def __init__(self, file: IO[str] | None = None, verbose: bool = False, live: bool | None = None):
        from rich.console import Console

        self.verbose = verbose
        self.stream = file if file is not None else sys.stdout
        self.console = Console(file=self.stream, highlight=False)
        self.live = (self.console.is_terminal and not verbose) if live is None else live
        self._bar = None
        self._tasks: dict[str, Any] = {}

    def _print(self, *objects: Any) -> None:
        (self._bar.console if self._bar is not None else self.console).print(*objects, soft_wrap=True)

    def begin(self, title: str, logs: str) -> None:
        from rich.text import Text

        self._print(Text.assemble((title, "bold"), (f"  (logs: {logs})", "dim")))
        if self.live:
            from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                SpinnerColumn(),
                TextColumn(f"{{task.description:<{NAME_WIDTH}}}"),
                BarColumn(bar_width=24),
                TimeElapsedColumn(),
                TextColumn("{task.fields[mark]}", style="dim"),
                console=self.console,
                transient=True,
            )
            self._bar.start()

    def started(self, name: str) -> None:
        if self._bar is not None:
            self._tasks[name] = self._bar.add_task(name, total=None, mark="")

    def progress(self, name: str, mark: ProgressMark) -> None:
        if self._bar is not None and name in self._tasks:
            self._bar.update(self._tasks[name], completed=mark.done, total=mark.total, mark=str(mark))

    def finished(
        self,
        name: str,
        ok: bool,
        seconds: float,
        figure: str,
        log: Path | None,
        tail: list[str],
        negative: bool = False,
    ) -> None:
        from rich.text import Text

        if self._bar is not None and name in self._tasks:
            self._bar.remove_task(self._tasks.pop(name))
            self._bar.refresh()  # no stale bar of this stage above its line
        mark = ("! ", "bold yellow") if ok and negative else ("✓ ", "green") if ok else ("✗ ", "bold red")
        line = Text.assemble(
            mark,
            (f"{name:<{NAME_WIDTH}}", "bold" if not ok else ""),
            (f"{seconds:6.1f} s  ", "dim"),
            # a failed stage's whole error follows once, in the summary
            (
                figure if ok else "FAILED" + (f": {shorten(figure, 100)}" if figure else ""),
                "yellow" if negative else "" if ok else "red",
            ),
        )
        self._print(line)
        if not ok:
            if log is not None:
                self._print(Text(f"  log: {log}", style="bold"))
            for tail_line in tail:
                self._print(Text(f"  | {tail_line}", style="dim"))

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


# ---- the output of a stage ---------------------------------------------------------------------


class StageOutput(io.TextIOBase):
    """Where a task's output goes: its log file, and the terminal with --verbose. Keeps the
    lines (for the error of a failed task) and hands each complete line to `on_line`."""

    def __init__(
        self,
        log: IO[str],
        passthrough: IO[str] | None = None,
        on_line: Callable[[str], None] | None = None,
    ):
        self.log = log
        self.passthrough = passthrough
        self.on_line = on_line
        self.lines: list[str] = []
        self._partial = ""

    def write(self, text: str) -> int:
        self.log.write(text)
        self.log.flush()
        if self.passthrough is not None:
            self.passthrough.write(text)
        *complete, self._partial = (self._partial + text).split("\n")
        for line in complete:
            self.lines.append(line)
            if self.on_line is not None:
                self.on_line(line)
        return len(text)

    def flush(self) -> None:
        self.log.flush()
        if self.passthrough is not None:
            self.passthrough.flush()

    def close_lines(self) -> list[str]:
        """All lines, the unterminated last one included."""
        if self._partial:
            self.lines.append(self._partial)
            self._partial = ""
        return self.lines


# ---- in-process work (mlpipe validate) ---------------------------------------------------------


def terminal_stream() -> IO[str]:
    """A stream to the terminal that `capture_process_output` does not capture: a copy of
    file descriptor 1 when sys.stdout is it, else sys.stdout itself (e.g. under pytest)."""
    try:
        if sys.stdout.fileno() == 1:
            sys.stdout.flush()
            return os.fdopen(os.dup(1), "w", buffering=1, encoding=sys.stdout.encoding, errors="replace")
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        pass
    return sys.stdout


@contextlib.contextmanager
def capture_process_output(log_path: Path) -> Iterator[None]:
    """Send everything this process prints while in the block to `log_path`: Python's
    stdout/stderr, the logging module, warnings, and the C++ libraries' writes to file
    descriptors 1 and 2 (TensorFlow, Beam). Restored afterwards."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a", buffering=1, encoding="utf-8", errors="replace") as log:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(AttributeError, ValueError, OSError):
                stream.flush()
        saved = {}
        for fd in (1, 2):
            with contextlib.suppress(OSError):
                saved[fd] = os.dup(fd)
                os.dup2(log.fileno(), fd)
        root = logging.getLogger()
        handlers, level = root.handlers[:], root.level
        handler = logging.StreamHandler(log)
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
        )
        root.handlers = [handler]
        root.setLevel(logging.INFO)
        logging.captureWarnings(True)
        try:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                yield
        finally:
            logging.captureWarnings(False)
            root.handlers, root.level = handlers, level
            log.flush()
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)


class Steps:
    """The steps of in-process work (`mlpipe validate`) shown like pipeline stages: `with
    steps("ingest") as step: ...; step["figure"] = "..."` prints its line when the block ends;
    output of the block goes to `log_path` unless verbose."""

    def __init__(self, reporter: Reporter, log_path: Path):
        self.reporter = reporter
        self.log_path = log_path

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[dict[str, str]]:
        import time

        info: dict[str, str] = {"figure": ""}
        self.reporter.started(name)
        start = time.perf_counter()
        capture = contextlib.nullcontext() if self.reporter.verbose else capture_process_output(self.log_path)
        try:
            with capture:
                yield info
        except BaseException:
            # the caller reports the error itself (`mlpipe` prints a user error in one line)
            self.reporter.finished(name, False, time.perf_counter() - start, "", self.log_path, [])
            raise
        self.reporter.finished(name, True, time.perf_counter() - start, info["figure"], None, [])
