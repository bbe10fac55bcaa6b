"""Local stages forked from the pre-imported server (mlpipe/run/preimported.py), run for real by
kfp.local: each stage is its own process and session with the caller's environment and working
directory, and starts with TF and TFMA already imported (the interrupt guard ending a forked
stage: tests/unit/test_interrupt_guard.py)."""

import json
import os
import sys
from pathlib import Path

import yaml
from kfp import dsl, local

from mlpipe.run import preimported
from mlpipe.run.local import run_and_summarize

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


def test_a_stage_is_forked_with_the_heavy_modules_imported_in_a_session_of_its_own(
    tmp_path, monkeypatch, stage_server
):
    monkeypatch.delenv("MLPIPE_PREIMPORT", raising=False)
    monkeypatch.chdir(tmp_path)
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


def test_a_stage_started_before_the_server_is_ready_is_a_fresh_interpreter(
    tmp_path, monkeypatch, stage_server
):
    monkeypatch.delenv("MLPIPE_PREIMPORT", raising=False)
    monkeypatch.setattr(preimported, "_ready_marker", tmp_path / "not-yet")
    found = _facts_of_a_run(tmp_path)
    assert found["preloaded"] == []
