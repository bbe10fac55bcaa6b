"""Ending a local run's stage processes when the run is interrupted (Ctrl-C, `kill`, a CI timeout).

kfp.local's SubprocessRunner starts each task with `subprocess.Popen` in our own
process group and waits on it, and its DockerRunner starts a container and
streams its logs: a signal that ends `mlpipe run` would leave either running.
While `stage_processes_ended_on_interrupt()` is active, each task process
starts in a session (process group) of its own and each container is tracked;
on SIGINT, SIGTERM or SIGHUP every live process group is sent SIGTERM (SIGKILL
after a grace period, for the group's stragglers too), every container is
killed, and `RunInterrupted` unwinds the run so its summary can say so.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

from mlpipe.run.preimported import StageProcess, executor_call, ready

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
GRACE_SECONDS = 5.0


class RunInterrupted(BaseException):
    """Raised in the run by the signal handler; a BaseException, so no `except Exception` in
    kfp.local or a stage wrapper takes it for a task failure."""

    def __init__(self, signum: int):
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # what a shell reports for a process ended by the signal


class _Live:
    """The task processes and containers running now."""

    def __init__(self) -> None:
        self.lock = threading.RLock()  # reentrant: the handler may run while this thread holds it
        self.processes: set[subprocess.Popen] = set()
        self.containers: list[Any] = []
        self.ending = False

    def end_all(self, grace: float) -> None:
        """End every live task; a signal arriving meanwhile finds it under way and returns."""
        if self.ending:
            return
        self.ending = True
        try:
            self._end_all(grace)
        finally:
            self.ending = False

    def _end_all(self, grace: float) -> None:
        with self.lock:
            processes, containers = list(self.processes), list(self.containers)
        for process in processes:
            _signal_group(process.pid, signal.SIGTERM)
        # poll(), never wait(): the handler may run inside the task's own wait(), whose lock
        # wait() would block on; kfp.local's loop reaps the task afterwards.
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(p.poll() is None for p in processes):
            time.sleep(0.05)
        for process in processes:  # the leader's children too, whether or not it is gone
            _signal_group(process.pid, signal.SIGKILL)
        for container in containers:
            with contextlib.suppress(Exception):  # already gone, or the engine is unreachable
                container.kill()


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _tracked_subprocess_runner(live: _Live, preimported: bool):
    """kfp.local's `run_local_subprocess` (same output handling), each task in its own session;
    with `preimported`, kfp executor tasks are forked from the pre-imported server instead,
    once it is ready."""

    def run_local_subprocess(full_command: list[str]) -> int:
        call = executor_call(full_command) if preimported and ready() else None
        if call is not None:
            process = StageProcess(*call)
        else:
            process = subprocess.Popen(
                full_command,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                bufsize=1,
                start_new_session=True,
            )
        with live.lock:
            live.processes.add(process)
        try:
            with process.stdout:
                for line in iter(process.stdout.readline, ""):
                    print(line, end="")
            print("\n")
            return process.wait()
        finally:
            with live.lock:
                live.processes.discard(process)

    return run_local_subprocess


def _tracked_container_runner(live: _Live, original):
    """kfp.local's `run_docker_container`, with every container it starts recorded."""

    def run_docker_container(client, image: str, command: list[str], volumes: dict) -> int:
        containers, started = client.containers, []

        class Containers:
            def __getattr__(self, name: str):
                return getattr(containers, name)

            def run(self, *args, **kwargs):
                container = containers.run(*args, **kwargs)
                started.append(container)
                with live.lock:
                    live.containers.append(container)
                return container

        class Client:
            def __getattr__(self, name: str):
                return Containers() if name == "containers" else getattr(client, name)

        try:
            return original(Client(), image, command, volumes)
        finally:
            with live.lock:
                live.containers = [c for c in live.containers if all(c is not s for s in started)]

    return run_docker_container


@contextlib.contextmanager
def stage_processes_ended_on_interrupt(
    grace: float = GRACE_SECONDS, preimported: bool = False
) -> Iterator[None]:
    """Run kfp.local tasks so that a signal ends them all and raises `RunInterrupted`;
    `preimported`: fork kfp executor tasks from `preimported`'s server (started by the caller).

    Signal handlers can only be set in the main thread; elsewhere tasks still run in their
    own sessions and whatever is left is ended when the block exits.
    """
    from kfp.local import docker_task_handler, subprocess_task_handler

    live = _Live()
    interrupted: list[int] = []

    def on_signal(signum: int, frame) -> None:
        if live.ending:  # a signal while ending the tasks: that is under way already
            return
        live.end_all(grace)
        if not interrupted:  # a later signal, while the run unwinds, only ends what is left
            interrupted.append(signum)
            raise RunInterrupted(signum)

    originals = (subprocess_task_handler.run_local_subprocess, docker_task_handler.run_docker_container)
    subprocess_task_handler.run_local_subprocess = _tracked_subprocess_runner(live, preimported)
    docker_task_handler.run_docker_container = _tracked_container_runner(live, originals[1])
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {signum: signal.signal(signum, on_signal) for signum in SIGNALS}
    try:
        yield
    finally:
        subprocess_task_handler.run_local_subprocess, docker_task_handler.run_docker_container = originals
        live.end_all(grace)
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def mark_interrupted(summary: dict, stop: RunInterrupted) -> dict:
    """The summary of an interrupted run: `status: interrupted`, the stage it stopped in,
    the signal and the exit code `mlpipe run` ends with."""
    running = [s["name"] for s in summary.get("stages", []) if s["status"] == "interrupted"]
    summary.update(
        status="interrupted",
        failed_stage=running[-1] if running else None,
        error=f"{stop}: its stage processes were ended",
        signal=signal.Signals(stop.signum).name,
        exit_code=stop.exit_code,
    )
    return summary
