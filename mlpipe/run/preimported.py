"""Local stage processes forked from a parent that has already imported TF, TFDV, TFMA and Beam.

Every stage of a local run is a fresh Python process, and importing TensorFlow, TFDV or TFMA
costs 5-8 s in each (on Adult, about half of a run). kfp.local starts a task as
`sh -ec '<write the component source>; python3 -m kfp.dsl.executor_main ...' <source> <args>`.
Here the same kfp executor, with the same arguments, runs in a process that Python's
`multiprocessing` forkserver forks from a server which imported the heavy modules once:
each stage still has a process (and a session) of its own, its own environment and working
directory, and its exit code; only the imports are shared. The server imports nothing that
starts TensorFlow's runtime, so each stage initializes its own.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

EXECUTOR_MODULE = "kfp.dsl.executor_main"
# What the stages import (each stage's core modules import these lazily, in the function).
PRELOAD = (
    "tensorflow",
    "keras",
    "tensorflow_data_validation",
    "tensorflow_model_analysis",
    "apache_beam",
    EXECUTOR_MODULE,
    "mlpipe.runtime.logs",
    "mlpipe.config.io",
    "mlpipe.run.preimport_ready",  # last: writes the ready marker
)
READY_VARIABLE = "MLPIPE_PREIMPORT_READY"
_ready_marker: Path | None = None


def enabled() -> bool:
    """Off with `MLPIPE_PREIMPORT=0`: every stage then starts as kfp.local starts it (a fresh
    interpreter), e.g. to compare timings or to rule the forked processes out."""
    return os.environ.get("MLPIPE_PREIMPORT", "1") != "0"


def _context():
    return multiprocessing.get_context("forkserver")


def start(log_path: str | Path) -> None:
    """Start the server (once per process) and let it import in the background: its output
    (import warnings) goes to `log_path`, never to the terminal."""
    from multiprocessing import forkserver

    global _ready_marker
    context = _context()
    context.set_forkserver_preload(list(PRELOAD))
    if _ready_marker is None:
        _ready_marker = Path(tempfile.mkdtemp(prefix="mlpipe-preimport-")) / "ready"
    added = {"_KFP_RUNTIME": "true", READY_VARIABLE: str(_ready_marker)}  # kfp without its client
    with (
        open(log_path, "a", encoding="utf-8") as log,
        _fds_to(log.fileno()),
        mock.patch.dict(os.environ, added),
    ):
        forkserver.ensure_running()


def ready() -> bool:
    """Whether the server has finished its imports: a stage started before then would wait for
    them, so it starts as a fresh interpreter instead (the first stage, while the server imports)."""
    return _ready_marker is not None and _ready_marker.exists()


@contextlib.contextmanager
def _fds_to(fd: int) -> Iterator[None]:
    """stdout and stderr (the file descriptors a child inherits) sent to `fd` meanwhile."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for copy in saved:
            os.close(copy)


def executor_call(full_command: list[str]) -> tuple[str, list[str]] | None:
    """(component source, executor arguments) of a kfp.local task command that runs a
    Python component with kfp's executor; None for any other command."""
    if len(full_command) >= 4 and full_command[:2] == ["sh", "-ec"] and EXECUTOR_MODULE in full_command[2]:
        return full_command[3], full_command[4:]
    return None


def _run_executor(source: str, args: list[str], environ: dict[str, str], cwd: str, output) -> None:
    """The forked stage: its own session, output into `output`, then kfp's executor as
    `python -m kfp.dsl.executor_main` would run it."""
    os.setsid()
    os.dup2(output.fileno(), 1)
    os.dup2(output.fileno(), 2)
    output.close()
    sys.stdout.reconfigure(line_buffering=True)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(environ)
    os.environ["_KFP_RUNTIME"] = "true"
    # As in a fresh interpreter: no root handlers (absl's, added at import), so the executor's
    # logging.basicConfig takes effect and its lines reach the stage log.
    for handler in list(logging.root.handlers):
        logging.root.removeHandler(handler)
    logging.root.setLevel(logging.WARNING)
    from kfp.dsl import executor_main

    with tempfile.TemporaryDirectory() as program_path:
        module = Path(program_path) / "ephemeral_component.py"
        module.write_text(source)
        sys.argv = [EXECUTOR_MODULE, "--component_module_path", str(module), *args]
        executor_main.executor_main()


class StageProcess:
    """A forked stage with what the run's interrupt handling uses of a `Popen`: pid, poll,
    wait, and its output as lines."""

    def __init__(self, source: str, args: list[str]) -> None:
        context = _context()
        read, write = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_run_executor,
            args=(source, args, dict(os.environ), os.getcwd(), write),
            name="mlpipe-stage",
        )
        self._process.start()
        write.close()
        self.stdout = os.fdopen(os.dup(read.fileno()), "r", encoding="utf-8", errors="replace")
        read.close()
        self.pid = self._process.pid

    def poll(self) -> int | None:
        return None if self._process.is_alive() else self._process.exitcode

    def wait(self) -> int:
        self._process.join()
        self.stdout.close()
        return self._process.exitcode
