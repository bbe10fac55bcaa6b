"""The interrupt guard in process: a signal ends the task's whole process group (grandchildren too) and
every container, raises RunInterrupted once, and the previous handlers come back."""

from __future__ import annotations

import json
import os
import signal
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from mlpipe.run.interrupt import RunInterrupted, mark_interrupted, stage_processes_ended_on_interrupt

# A task that starts a grandchild which ignores nothing and outlives its parent unless its group is killed.
TASK = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
open(sys.argv[1], "w").write(str(child.pid))
print("started", flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _ended(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not _alive(pid)


def _signal_self_soon(signum: int, after: float) -> threading.Timer:
    timer = threading.Timer(after, os.kill, (os.getpid(), signum))
    timer.start()
    return timer


def test_a_signal_ends_the_tasks_process_group_and_raises_once(tmp_path, capsys):
    from kfp.local import subprocess_task_handler

    before = signal.getsignal(signal.SIGTERM)
    pid_file = tmp_path / "grandchild.pid"
    started = time.monotonic()
    with pytest.raises(RunInterrupted) as info:
        with stage_processes_ended_on_interrupt(grace=2.0):
            _signal_self_soon(signal.SIGTERM, 3.0)
            subprocess_task_handler.run_local_subprocess([sys.executable, "-c", TASK, str(pid_file)])
    assert time.monotonic() - started < 20  # not the task's 120 s
    assert info.value.exit_code == 143 and "SIGTERM" in str(info.value)
    assert _ended(int(pid_file.read_text())), "the task's child outlived the run"
    assert signal.getsignal(signal.SIGTERM) is before
    assert subprocess_task_handler.run_local_subprocess.__module__ == "kfp.local.subprocess_task_handler"
    assert "started" in capsys.readouterr().out  # the task's output still passes through


def test_a_signal_ends_a_stage_forked_from_the_stage_server_and_its_children(
    tmp_path, capsys, monkeypatch, stage_server
):
    """The same task as a kfp component run by kfp's executor, forked from the pre-imported server."""
    from kfp.local import subprocess_task_handler

    monkeypatch.delenv("MLPIPE_PREIMPORT", raising=False)
    pid_file = tmp_path / "grandchild.pid"
    source = "def task(pid_file: str):\n    import sys\n    sys.argv[1:] = [pid_file]\n" + textwrap.indent(
        TASK, "    "
    )
    executor_input = {
        "inputs": {"parameterValues": {"pid_file": str(pid_file)}},
        "outputs": {"outputFile": str(tmp_path / "output.json")},
    }
    command = [
        "sh",
        "-ec",
        'python3 -m kfp.dsl.executor_main --component_module_path "$program_path/c.py" "$@"',
        source,
        "--executor_input",
        json.dumps(executor_input),
        "--function_to_execute",
        "task",
    ]
    started = time.monotonic()
    with pytest.raises(RunInterrupted):
        with stage_processes_ended_on_interrupt(grace=2.0, preimported=True):
            _signal_self_soon(signal.SIGTERM, 8.0)
            subprocess_task_handler.run_local_subprocess(command)
    assert time.monotonic() - started < 30  # not the stage's 120 s
    assert _ended(int(pid_file.read_text())), "the forked stage's child outlived the run"
    assert "started" in capsys.readouterr().out


def test_containers_are_killed_and_a_second_signal_only_ends_what_is_left():
    from kfp.local import docker_task_handler

    killed = []

    class Container:
        def logs(self, stream=True):
            os.kill(os.getpid(), signal.SIGINT)  # while the container streams its logs
            yield b"log line\n"

        def wait(self):
            return {"StatusCode": 0}

        def kill(self):
            killed.append(self)
            os.kill(os.getpid(), signal.SIGINT)  # a second Ctrl-C while ending: no second raise

    class Client:
        class images:  # noqa: N801 (docker's attribute name)
            @staticmethod
            def list():
                return [type("Image", (), {"tags": ["img:latest"]})()]

        class containers:  # noqa: N801
            @staticmethod
            def run(**kwargs):
                return Container()

    with pytest.raises(RunInterrupted) as info:
        with stage_processes_ended_on_interrupt(grace=0.1):
            docker_task_handler.run_docker_container(Client(), "img:latest", ["true"], {})
    assert info.value.exit_code == 130
    assert len(killed) == 1  # once: the nested signal found the ending under way, the run had ended it


def test_mark_interrupted_names_the_stage_that_was_running():
    summary = {
        "status": "succeeded",
        "stages": [
            {"name": "ingest", "status": "succeeded"},
            {"name": "statistics", "status": "interrupted"},
        ],
    }
    mark_interrupted(summary, RunInterrupted(signal.SIGTERM))
    assert summary["status"] == "interrupted" and summary["failed_stage"] == "statistics"
    assert (summary["signal"], summary["exit_code"]) == ("SIGTERM", 143)
