"""What `mlpipe run` shows on the terminal and writes to `logs/`, on a toy two-stage pipeline run
for real by kfp.local (SubprocessRunner): a stage that reports progress and a stage that fails.
Each stage is a process that imports only kfp (a few seconds each); the real pipeline's terminal is
checked by tests/pipeline/test_end_to_end.py.
"""

import io
import json
from pathlib import Path

import pytest
from kfp import dsl, local

from mlpipe.cli.main import _print_summary_table, build_parser, run_exit_status
from mlpipe.run.local import run_and_summarize
from mlpipe.run.stage_output import ProgressMark, error_tail, parse_progress, stage_figure
from mlpipe.run.terminal import StageOutput, TerminalReporter

# The executor image is never pulled by the SubprocessRunner; a `python` name avoids its warning.
IMAGE = "python:3.11-slim-bookworm"


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def counting(n: int) -> int:
    import logging

    from mlpipe.runtime.logs import progress, setup_logging

    setup_logging()
    logging.getLogger("toy").info("counting to %d", n)
    for i in range(1, n + 1):
        progress("step", i, n, f"at {i}")
    return n


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def failing(n: int):
    from mlpipe.errors import UserInputError

    print("some output before the error", flush=True)
    raise UserInputError(f"column 'x' has value {n}, which is not allowed")


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def crashing(n: int):
    raise KeyError(f"bucket-{n}")  # a bug of ours, not the user's


@dsl.pipeline(name="toy")
def toy(n: int):
    failing(n=counting(n=n).output)


@dsl.pipeline(name="toy-crash")
def toy_crash(n: int):
    crashing(n=n)


class Recording(TerminalReporter):
    """The terminal reporter, also keeping the progress marks it was given."""

    def __init__(self, **kwargs):
        super().__init__(file=io.StringIO(), **kwargs)
        self.marks: list[tuple[str, ProgressMark]] = []

    def progress(self, name: str, mark: ProgressMark) -> None:
        self.marks.append((name, mark))
        super().progress(name, mark)

    @property
    def text(self) -> str:
        return self.console.file.getvalue()


def _run(tmp_path: Path, verbose: bool, pipeline=toy) -> tuple[dict, Recording, Path]:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    local.init(
        runner=local.SubprocessRunner(use_venv=False),
        pipeline_root=str(run_dir / "artifacts"),
        raise_on_error=False,
    )
    reporter = Recording(verbose=verbose)
    summary = run_and_summarize(pipeline, {"n": 3}, run_dir, "toy.yaml", docker=False, reporter=reporter)
    return summary, reporter, run_dir


@pytest.fixture(scope="module")
def quiet_run(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("quiet"), verbose=False)


def test_a_run_shows_one_line_per_stage_and_logs_everything(quiet_run, capfd):
    summary, reporter, run_dir = quiet_run
    logs = run_dir / "logs"
    lines = reporter.text.splitlines()
    assert lines[0].startswith(f"mlpipe run: toy.yaml -> {run_dir}") and str(logs) in lines[0]
    assert lines[1].startswith("✓ counting ")
    # a user error: the stage line and its log, no traceback; its one line is the summary's error
    assert lines[2].startswith("✗ failing ") and lines[2].endswith(" FAILED")
    assert lines[3:] == [f"  log: {logs / 'failing.log'}"]
    assert "executor_input" not in reporter.text and "Executing task" not in reporter.text
    assert "executor_input" not in capfd.readouterr().out  # nothing leaked past the reporter

    # the full output of every stage is in its log: kfp.local's lines, the executor input, our logs
    counting_log = (logs / "counting.log").read_text()
    assert "Executing task 'counting'" in counting_log.replace("\x1b[96m", "").replace("\x1b[0m", "")
    assert "Got executor_input" in counting_log and "INFO toy: counting to 3" in counting_log
    assert "mlpipe.progress: step 3/3 at 3" in counting_log
    failing_log = (logs / "failing.log").read_text()
    assert "some output before the error" in failing_log and "Traceback" in failing_log
    assert "Running pipeline" in (logs / "pipeline.log").read_text()

    # progress marks were read from the stage's output as it ran
    assert reporter.marks == [("counting", ProgressMark("step", i, 3, f"at {i}")) for i in (1, 2, 3)]

    # summary.json keeps what it had, plus where the logs are
    assert summary["status"] == "failed" and summary["failed_stage"] == "failing"
    assert summary["error"] == "column 'x' has value 3, which is not allowed"
    assert summary["error_kind"] == "user" and run_exit_status(summary) == 2
    assert summary["logs"] == str(logs)
    assert [(s["name"], s["status"], s["log"]) for s in summary["stages"]] == [
        ("counting", "succeeded", str(logs / "counting.log")),
        ("failing", "failed", str(logs / "failing.log")),
    ]
    json.dumps(summary, default=str)


def test_an_unexpected_exception_shows_the_end_of_its_traceback(tmp_path):
    summary, reporter, run_dir = _run(tmp_path, verbose=False, pipeline=toy_crash)
    lines = reporter.text.splitlines()
    assert lines[1].startswith("✗ crashing ") and lines[1].endswith("FAILED: KeyError: 'bucket-3'")
    assert lines[2] == f"  log: {run_dir / 'logs' / 'crashing.log'}"
    tail = lines[3:]
    assert 1 <= len(tail) <= 8 and all(line.startswith("  | ") for line in tail)
    assert tail[-1] == "  | KeyError: 'bucket-3'"
    assert summary["error_kind"] == "internal" and run_exit_status(summary) == 1


def test_the_summary_of_a_failed_run_names_the_stage_log(quiet_run, capsys):
    summary, _, run_dir = quiet_run
    _print_summary_table(summary)
    out = capsys.readouterr().out
    assert "FAILED at stage failing: column 'x' has value 3, which is not allowed" in out
    assert out.rstrip().endswith(f"log: {run_dir / 'logs' / 'failing.log'}")


def test_verbose_shows_everything_and_still_logs(tmp_path):
    summary, reporter, run_dir = _run(tmp_path, verbose=True)
    text = reporter.text
    # the stage's whole output, as kfp.local prints it, and the stage lines
    assert "Got executor_input" in text and "INFO toy: counting to 3" in text
    assert "some output before the error" in text and "Traceback" in text
    assert any(line.startswith("✓ counting ") for line in text.splitlines())
    assert "Got executor_input" in (run_dir / "logs" / "counting.log").read_text()
    assert summary["failed_stage"] == "failing"


@pytest.mark.parametrize("argv", [["run", "--verbose"], ["--verbose", "run"], ["-v", "run"], ["run", "-v"]])
def test_verbose_goes_before_or_after_the_command(argv):
    assert build_parser().parse_args(argv).verbose is True
    assert build_parser().parse_args(["run"]).verbose is False


# ---- the pieces, without a pipeline ------------------------------------------------------------


def test_progress_lines_are_read_from_a_stages_log_format():
    assert parse_progress("    14:06:09 INFO mlpipe.progress: epoch 3/8 val_auc=0.9111") == ProgressMark(
        "epoch", 3, 8, "val_auc=0.9111"
    )
    assert parse_progress("14:06:09 INFO mlpipe.progress: trial 2/?") == ProgressMark("trial", 2, None)
    assert parse_progress("Epoch 3/8") is None
    assert parse_progress("14:06:09 INFO other: epoch 3/8") is None


def test_stage_output_splits_chunks_into_lines():
    log, seen = io.StringIO(), []
    output = StageOutput(log, on_line=seen.append)
    output.write("one\ntw")
    output.write("o\nthree")
    assert seen == ["one", "two"]
    assert output.close_lines() == ["one", "two", "three"]
    assert log.getvalue() == "one\ntwo\nthree"


def test_error_tail_is_the_end_of_the_traceback():
    lines = [
        "    noise",
        "    Traceback (most recent call last):",
        '      File "x.py", line 1, in <module>',
        "    ValueError: bad value",
        "    Exception ignored in: <function X.__del__>",
        "    TypeError: 'NoneType' object is not callable",
        "14:00:00.000 - ERROR - Task 'x' finished with status FAILURE",
    ]
    assert error_tail(lines) == [
        "noise",
        "Traceback (most recent call last):",
        '  File "x.py", line 1, in <module>',
        "ValueError: bad value",
    ]
    assert error_tail(["    killed", "-" * 80, "14:00:00.000 - ERROR - Task 'x' finished"]) == ["killed"]


@pytest.mark.parametrize(
    ("name", "part", "metadata", "figure"),
    [
        ("ingest", {"data": {"train_rows": 32561, "eval_rows": 16281}}, {}, "train 32,561 rows, eval 16,281 rows"),
        ("statistics", {}, {"statistics": {"eval_examples": 5.0, "train_examples": 10}}, "train 10 examples, eval 5 examples"),
        ("schema", {}, {"schema": {"origin": "curated"}}, "curated (the config's)"),
        ("schema", {}, {"schema": {"origin": "curated:/x/configs/adult.schema.pbtxt"}}, "curated adult.schema.pbtxt"),
        ("validate", {"validation": {"anomalies": 0, "max_drift": 0.0712}}, {}, "0 anomalies, max drift 0.071"),
        ("validate", {"validation": {"anomalies": 2, "blocking_anomalies": 1, "max_drift": 0.2}}, {}, "2 anomalies (1 blocking, 1 warning), max drift 0.200"),
        ("validate", {"validation": {"anomalies": 1, "blocking_anomalies": 0, "max_drift": 0.01}}, {}, "1 anomaly (1 warning), max drift 0.010"),
        ("tune", {"tuning": {"tuned": True, "trials": 5, "best_score": 0.91234}}, {}, "5 trials, best val AUC 0.9123"),
        ("tune", {"tuning": {"tuned": False}}, {}, "off: the config's hyperparameters"),
        ("tune", {"tuning": {"tuned": False, "off_because": "tuning.search_space is empty"}}, {}, "off (tuning.search_space is empty): the config's hyperparameters"),
        ("train", {"training": {"metrics": {"eval_auc": 0.9111}, "epochs_run": 6}}, {}, "eval AUC 0.9111, 6 epochs"),
        ("evaluate", {"blessing": {"blessed": True}, "metrics": {"overall": {"auc": 0.9}}}, {}, "AUC 0.9000, blessed"),
        ("evaluate", {"blessing": {"blessed": False, "reasons": ["auc 0.90 < 0.999"]}, "metrics": {}}, {}, "AUC n/a, NOT blessed: auc 0.90 < 0.999"),
        ("infra_validate", {"infra": {"blessed": True, "latency": {"batch_1_p99_ms": 3.94}}}, {}, "blessed, p99 3.9 ms at batch 1"),
        ("push", {"push": {"pushed": True, "version": 2}}, {}, "pushed version 2"),
        (
            "push",
            {"push": {"pushed": True, "version": 3, "serving": {"target": "shadow"}}},
            {},
            "pushed version 3 to the shadow (mlpipe promote serves it)",
        ),
        ("push", {"push": {"pushed": False, "reasons": ["model not blessed: x"]}}, {}, "not pushed: model not blessed: x"),
    ],
)  # fmt: skip
def test_each_stage_has_its_key_figure(name, part, metadata, figure):
    assert stage_figure(name, part, metadata) == figure
