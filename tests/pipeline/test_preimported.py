"""Local stages forked from the pre-imported server (pipelines/preimported.py), run for real by
kfp.local: each stage is its own process and session with the caller's environment and working
directory, starts with TF and TFMA already imported, and is ended by the interrupt guard."""

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from kfp import dsl, local

from mlpipe.pipelines import preimported
from mlpipe.pipelines.interrupt import RunInterrupted, stage_processes_ended_on_interrupt
from mlpipe.pipelines.local_run import run_and_summarize

REPO = Path(__file__).resolve().parents[2]
IMAGE = "python:3.11-slim-bookworm"  # never pulled by the SubprocessRunner


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def facts() -> str:
    import json
    import os
    import sys

    return json.dumps(
        {
            "pid": os.getpid(),
            "sid": os.getsid(0),
            "cwd": os.getcwd(),
            "mark": os.environ.get("MLPIPE_TEST_MARK"),
            "preloaded": [m for m in ("tensorflow", "tensorflow_model_analysis") if m in sys.modules],
        }
    )


@dsl.pipeline(name="facts")
def facts_pipeline():
    facts()


def _init(root: Path) -> None:
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root), raise_on_error=False)


def _start_and_wait(log: Path) -> None:
    preimported.start(log)
    deadline = time.monotonic() + 180
    while not preimported.ready():
        assert time.monotonic() < deadline, f"the stage server never got ready; see {log}"
        time.sleep(0.2)


def _facts_of_a_run(tmp_path: Path) -> dict:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    _init(run_dir / "artifacts")
    summary = run_and_summarize(facts_pipeline, {}, run_dir, "facts.yaml", docker=False)
    assert summary["status"] == "succeeded", summary
    (output,) = (run_dir / "artifacts").glob("facts-*/facts/executor_output.json")
    return json.loads(json.loads(output.read_text())["parameterValues"]["Output"])


def test_the_shipped_stage_commands_are_recognised_and_others_are_not():
    spec = yaml.safe_load((REPO / "components/schema/component.yaml").read_text())
    container = spec["deploymentSpec"]["executors"]["exec-schema"]["container"]
    source, args = preimported.executor_call(container["command"] + container["args"])
    assert "def schema(" in source
    assert args == ["--executor_input", "{{$}}", "--function_to_execute", "schema"]
    assert preimported.executor_call(["sh", "-c", "echo hi"]) is None
    assert preimported.executor_call([sys.executable, "-m", "kfp.dsl.executor_main"]) is None


def test_a_stage_is_forked_with_the_heavy_modules_imported_in_a_session_of_its_own(tmp_path, monkeypatch):
    monkeypatch.delenv("MLPIPE_PREIMPORT", raising=False)
    monkeypatch.chdir(tmp_path)
    _start_and_wait(tmp_path / "server.log")
    monkeypatch.setenv("MLPIPE_TEST_MARK", "set after the server started")
    found = _facts_of_a_run(tmp_path)
    assert found["preloaded"] == ["tensorflow", "tensorflow_model_analysis"]
    assert found["pid"] != os.getpid() and found["sid"] == found["pid"]
    assert found["mark"] == "set after the server started"  # the caller's environment, at the call
    assert found["cwd"] == str(tmp_path)


def test_with_preimport_off_a_stage_is_a_fresh_interpreter(tmp_path, monkeypatch):
    monkeypatch.setenv("MLPIPE_PREIMPORT", "0")
    found = _facts_of_a_run(tmp_path)
    assert found["preloaded"] == []


def test_a_stage_started_before_the_server_is_ready_is_a_fresh_interpreter(tmp_path, monkeypatch):
    monkeypatch.delenv("MLPIPE_PREIMPORT", raising=False)
    _start_and_wait(tmp_path / "server.log")
    monkeypatch.setattr(preimported, "_ready_marker", tmp_path / "not-yet")
    found = _facts_of_a_run(tmp_path)
    assert found["preloaded"] == []


# A stage that starts a grandchild and waits; the run must end both.
SLEEPER = """
def task(pid_file: str):
    import subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    open(pid_file, "w").write(str(child.pid))
    print("started", flush=True)
    time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_signal_ends_a_forked_stage_and_its_children(tmp_path, capsys, monkeypatch):
    from kfp.local import subprocess_task_handler

    monkeypatch.delenv("MLPIPE_PREIMPORT", raising=False)
    _start_and_wait(tmp_path / "server.log")
    pid_file = tmp_path / "grandchild.pid"
    executor_input = {
        "inputs": {"parameterValues": {"pid_file": str(pid_file)}},
        "outputs": {"outputFile": str(tmp_path / "output.json")},
    }
    command = [
        "sh",
        "-ec",
        'python3 -m kfp.dsl.executor_main --component_module_path "$program_path/c.py" "$@"',
        SLEEPER,
        "--executor_input",
        json.dumps(executor_input),
        "--function_to_execute",
        "task",
    ]
    started = time.monotonic()
    with pytest.raises(RunInterrupted):
        with stage_processes_ended_on_interrupt(grace=2.0, preimported=True):
            threading.Timer(8.0, os.kill, (os.getpid(), signal.SIGTERM)).start()
            subprocess_task_handler.run_local_subprocess(command)
    assert time.monotonic() - started < 30  # not the stage's 120 s
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(grandchild), "the forked stage's child outlived the run"
    assert "started" in capsys.readouterr().out
