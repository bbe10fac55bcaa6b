"""What `mlpipe run` and `mlpipe validate` show on the terminal, with `rich`.

One line per stage (name, seconds, the stage's key figure), a live progress line
while a stage runs (on a terminal only), and on failure the stage's log file and
the last lines of its error. The full output of every stage goes to
`<run>/logs/<stage>.log`; `--verbose` streams it to the terminal as well.

Stages report progress with `mlpipe.runtime.logs.progress`, a log line
`... mlpipe.progress: <unit> <done>/<total> <note>` in their output stream; the
runner reads it from there (`parse_progress`), so the stages need no channel
besides the one KFP gives them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

PROGRESS_LINE = re.compile(
    r"\bmlpipe\.progress: (?P<unit>[\w-]+) (?P<done>\d+)/(?P<total>\d+|\?)(?: (?P<note>.*))?$"
)
ERROR_LINE = re.compile(r"^\s*(?:[\w.]+\.)?(\w*(?:Error|Exception)): (.+)$")
NAME_WIDTH = 16
TAIL_LINES = 8


@dataclasses.dataclass(frozen=True)
class ProgressMark:
    unit: str
    done: int
    total: int | None
    note: str = ""

    def __str__(self) -> str:
        total = "?" if self.total is None else self.total
        return f"{self.unit} {self.done}/{total}" + (f" {self.note}" if self.note else "")


def parse_progress(line: str) -> ProgressMark | None:
    """The progress mark in a line of a stage's output, if it is one."""
    match = PROGRESS_LINE.search(line.rstrip())
    if not match:
        return None
    total = match.group("total")
    return ProgressMark(
        match.group("unit"),
        int(match.group("done")),
        None if total == "?" else int(total),
        match.group("note") or "",
    )


def last_error_index(lines: list[str]) -> int | None:
    """Index of the last exception line a task printed, skipping TF's interpreter-exit noise
    ("Exception ignored in ... __del__") and kfp.local's own "RuntimeError: Task" line."""
    for index in range(len(lines) - 1, -1, -1):
        match = ERROR_LINE.match(lines[index])
        noise = any("Exception ignored" in ln or "__del__" in ln for ln in lines[max(0, index - 4) : index])
        if match and not noise and "RuntimeError: Task" not in lines[index]:
            return index
    return None


def error_message(lines: list[str]) -> str | None:
    """The message of the last exception (our errors name file, column or value)."""
    index = last_error_index(lines)
    if index is None:
        return None
    match = ERROR_LINE.match(lines[index])
    assert match is not None
    return match.group(2) if match.group(1) == "UserInputError" else f"{match.group(1)}: {match.group(2)}"


_FRAMING = re.compile(r"^\d\d:\d\d:\d\d\.\d+ - (INFO|ERROR) - |^-{20,}$")


USER_ERRORS = ("UserInputError", "RowError")  # mlpipe.errors: what the user can fix, said in one line


def is_user_error(lines: list[str]) -> bool:
    """Whether the last exception a task printed is one of ours that names what to fix."""
    index = last_error_index(lines)
    if index is None:
        return False
    match = ERROR_LINE.match(lines[index])
    return match is not None and match.group(1) in USER_ERRORS


def negative_outcome(name: str, part: dict[str, Any]) -> bool:
    """A stage that succeeded with a verdict against the model: not blessed, not pushed."""
    if name == "evaluate":
        return part.get("blessing", {}).get("blessed") is False
    if name == "infra_validate":
        return part.get("infra", {}).get("blessed") is False
    if name == "push":
        return part.get("push", {}).get("pushed") is False
    return False


def error_tail(lines: list[str], count: int = TAIL_LINES) -> list[str]:
    """The last lines of a failed task's error: the traceback's end up to the exception line,
    else the last lines it printed (without kfp.local's framing)."""
    index = last_error_index(lines)
    if index is None:
        kept = [ln for ln in lines if ln.strip() and not _FRAMING.search(ln)]
        chosen = kept[-count:]
    else:
        chosen = [ln for ln in lines[max(0, index - count + 1) : index + 1] if ln.strip()]
    # kfp.local indents a task's output by 4 spaces
    return [ln[4:] if ln.startswith("    ") else ln for ln in chosen]


# ---- the key figure of each stage --------------------------------------------------------------


def _number(value: Any, digits: int = 4) -> str:
    return f"{value:.{digits}f}" if isinstance(value, int | float) else "n/a"


def _short(text: str, width: int = 70) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def stage_figure(name: str, part: dict[str, Any], metadata: dict[str, dict]) -> str:
    """One short phrase for a finished stage, from what it adds to summary.json (`part`) and its
    output artifacts' metadata (`metadata`: output name -> metadata)."""
    if name == "ingest" and "data" in part:
        data = part["data"]
        return f"train {data.get('train_rows', 0):,} rows, eval {data.get('eval_rows', 0):,} rows"
    if name == "statistics":
        counts = {
            k.removesuffix("_examples"): v
            for k, v in metadata.get("statistics", {}).items()
            if k.endswith("_examples")
        }
        order = sorted(counts, key=lambda split: (split != "train", split != "eval", split))
        return ", ".join(f"{split} {int(counts[split]):,} examples" for split in order)
    if name == "schema":
        origin = str(metadata.get("schema", {}).get("origin", ""))
        if origin.startswith("curated:"):
            return f"curated {Path(origin.removeprefix('curated:')).name}"
        return {"curated": "curated (the config's)", "inferred": "inferred from the train statistics"}.get(
            origin, origin
        )
    if name == "validate" and "validation" in part:
        counts = part["validation"]
        found, blocking = counts.get("anomalies", 0), counts.get("blocking_anomalies", 0)
        warnings = found - blocking
        kinds = [f"{blocking} blocking"] * bool(blocking) + [
            f"{warnings} warning{'s' * (warnings != 1)}"
        ] * bool(warnings)
        text = f"{found} anomal{'y' if found == 1 else 'ies'}" + (f" ({', '.join(kinds)})" if kinds else "")
        return f"{text}, max drift {_number(counts.get('max_drift'), 3)}"
    if name == "validation_gate":
        return "passed"
    if name == "tune" and "tuning" in part:
        tuning = part["tuning"]
        if not tuning.get("tuned"):
            why = f" ({tuning['off_because']})" if tuning.get("off_because") else ""
            return f"off{why}: the config's hyperparameters"
        return f"{tuning.get('trials')} trials, best val AUC {_number(tuning.get('best_score'))}"
    if name == "train" and "training" in part:
        training = part["training"]
        return (
            f"eval AUC {_number(training.get('metrics', {}).get('eval_auc'))}, "
            f"{training.get('epochs_run')} epochs"
        )
    if name == "evaluate" and "blessing" in part:
        blessing = part["blessing"]
        auc = _number(part.get("metrics", {}).get("overall", {}).get("auc"))
        if blessing.get("blessed"):
            return f"AUC {auc}, blessed"
        reasons = blessing.get("reasons") or []
        return _short(f"AUC {auc}, NOT blessed: " + "; ".join(reasons))
    if name == "infra_validate" and "infra" in part:
        infra = part["infra"]
        if not infra.get("blessed"):
            return _short("NOT blessed: " + "; ".join(infra.get("reasons") or []))
        latency = infra.get("latency", {})
        return f"blessed, p99 {_number(latency.get('batch_1_p99_ms'), 1)} ms at batch 1"
    if name == "push" and "push" in part:
        push = part["push"]
        if push.get("pushed"):
            line = f"pushed version {push.get('version')}" + (" (reused)" if push.get("reused") else "")
            shadow = (push.get("serving") or {}).get("target") == "shadow"
            return line + (" to the shadow (mlpipe promote serves it)" if shadow else "")
        return _short("not pushed: " + "; ".join(push.get("reasons") or []))
    # any other step (the monitoring pipeline's) names its own figure in an output's metadata
    return next((str(m["figure"]) for m in metadata.values() if m.get("figure")), "")


# ---- reporters ---------------------------------------------------------------------------------


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
                figure if ok else "FAILED" + (f": {_short(figure, 100)}" if figure else ""),
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
