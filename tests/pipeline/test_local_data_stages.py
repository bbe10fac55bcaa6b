"""The training pipeline run by kfp.local (SubprocessRunner) on an Adult subsample: the data stages.

Only the data stages' outcomes are asserted (ingest, statistics, schema, validate);
later stages are kept short by the config (no tuning, one epoch) and are tested elsewhere.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from mlpipe.cli.main import main
from mlpipe.run.local import run_pipeline

pytestmark = pytest.mark.slow

DATA_STAGES = ["ingest", "statistics", "schema", "validate"]
QUICK = {"tuning.enabled": False, "training.epochs": 1}


def _stages(summary: dict) -> dict[str, str]:
    return {stage["name"]: stage["status"] for stage in summary["stages"]}


def test_data_stages_on_adult_subsample_then_a_corrupted_eval_file(tmp_path, adult, adult_subsample):
    sample = adult_subsample(tmp_path / "good", 3000, 1500, changes=QUICK)
    runs = tmp_path / "runs"

    summary, run_dir = run_pipeline(str(sample.config), runs_root=runs, runner="subprocess", arguments={})

    stages = _stages(summary)
    assert [name for name in stages if name in DATA_STAGES] == DATA_STAGES, summary["stages"]
    assert all(stages[name] == "succeeded" for name in DATA_STAGES), summary
    assert summary["failed_stage"] not in DATA_STAGES
    assert summary["data"]["train_rows"] == 3000
    assert summary["data"]["eval_rows"] == 1500
    assert summary["data"]["split_method"] == "files"
    assert len(summary["data"]["fingerprint"]) == 64
    # the curated schema holds on the subsample: no anomalies, no drift between its train and eval
    assert summary["anomalies"] == []
    assert summary["validation"]["anomalies"] == 0
    assert summary["validation"]["features_compared"] == 14
    html = Path(summary["artifacts"]["statistics_html"])
    assert html.is_file() and "facets" in html.read_text()
    assert Path(summary["artifacts"]["statistics"], "Split-train", "FeatureStats.pb").is_file()
    report = Path(summary["artifacts"]["validation_report"]).read_text()
    assert "**Result: PASS**" in report
    assert json.loads((run_dir / "summary.json").read_text())["data"]["train_rows"] == 3000
    assert (runs / "latest").is_symlink() and (runs / "latest").resolve() == run_dir.resolve()
    assert run_dir.parent == runs.resolve()

    # the same pipeline on an eval file with an unseen `race` category stops at validate
    bad = adult_subsample(tmp_path / "bad", 3000, 1500, changes=QUICK)
    header, *rows = bad.eval.read_text().splitlines()
    race = header.split(", ").index("race")

    def unseen_race(line: str) -> str:
        fields = line.split(", ")
        fields[race] = "Martian"
        return ", ".join(fields)

    rows = [unseen_race(row) if i % 10 == 0 else row for i, row in enumerate(rows)]
    bad.eval.write_text("\n".join([header, *rows]) + "\n")

    terminal = io.StringIO()
    with contextlib.redirect_stdout(terminal):
        assert main(["run", "--config", str(bad.config), "--output", str(runs)]) == 2  # a user error
    failed_dir = (runs / "latest").resolve()
    failed = json.loads((failed_dir / "summary.json").read_text())

    # the terminal names the failed stage and its log, then the error once, in one line; no
    # traceback (the log keeps it)
    gate_log = failed_dir / "logs" / "validation_gate.log"
    text = terminal.getvalue()
    lines = text.splitlines()
    (index,) = [i for i, line in enumerate(lines) if line.startswith("✗ validation_gate ")]
    assert lines[index].endswith(" FAILED") and lines[index + 1] == f"  log: {gate_log}"
    (error,) = [line for line in lines if "data validation failed" in line]
    assert error.startswith("FAILED at stage validation_gate: data validation failed: race [eval] ")
    assert "Martian" in error and text.count("Martian") == 1
    assert "Traceback" not in text and "UserInputError" not in text and "executor_input" not in text
    assert "UserInputError: data validation failed" in gate_log.read_text()
    assert f"log: {gate_log}" in text.split("FAILED at stage validation_gate", 1)[1]

    assert failed["status"] == "failed"
    assert failed["failed_stage"] == "validation_gate"
    assert "race" in failed["error"]
    stages = _stages(failed)
    # validate succeeds with its report (a cluster uploads it), the gate after it stops the run
    assert [stages[name] for name in DATA_STAGES] == ["succeeded"] * 4
    assert list(stages)[-2:] == ["validate", "validation_gate"] and stages["validation_gate"] == "failed"
    assert "**Result: FAIL**" in Path(failed["artifacts"]["validation_report"]).read_text()
    offending = {(a["feature"], a["kind"]) for a in failed["anomalies"]}
    assert ("race", "ENUM_TYPE_UNEXPECTED_STRING_VALUES") in offending
    assert any("Martian" in a["description"] for a in failed["anomalies"] if a["feature"] == "race")
    assert failed["data"]["eval_rows"] == 1500
    assert failed_dir != run_dir
    assert (runs / "latest").resolve() == failed_dir.resolve()
