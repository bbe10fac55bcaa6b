"""A dataset the project has never seen, with only a config (no schema, no code: tests/new_dataset.py),
runs to a pushed model on the first try, as `mlpipe run`: the rare companies a random split puts
only in eval are a warning, the one-class `region:island` slice has no AUC instead of blocking as a
0, tuning says why it is off. Then the same data with no tolerance for unseen values stops at the
gate with one line and exit 2. About a minute on 2 cores (15,000 rows, every stage real)."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import new_dataset
import pytest
import yaml

from mlpipe.cli.main import main

pytestmark = pytest.mark.slow


def _mlpipe_run(config: Path, runs: Path) -> tuple[int, str, dict]:
    terminal = io.StringIO()
    with contextlib.redirect_stdout(terminal):
        code = main(["run", "--config", str(config), "--output", str(runs)])
    return code, terminal.getvalue(), json.loads(((runs / "latest").resolve() / "summary.json").read_text())


@pytest.fixture(scope="module")
def churn(tmp_path_factory):
    return new_dataset.write(tmp_path_factory.mktemp("churn"))


def test_a_new_dataset_with_only_a_config_runs_to_a_pushed_model(churn):
    code, terminal, summary = _mlpipe_run(churn.config, churn.folder / "runs")
    assert code == 0, terminal
    assert summary["status"] == "succeeded" and summary["push"]["pushed"] is True, terminal
    assert summary["push"]["version"] == 1

    # rare values only in eval: a warning with their share, not a blocking anomaly
    (warning,) = summary["anomalies"]
    assert (warning["feature"], warning["kind"], warning["split"]) == (
        "company",
        "UNSEEN_VALUES_TOLERATED",
        "eval",
    )
    assert "rare-co-" in warning["description"] and "validation.min_domain_mass" in warning["description"]
    lines = {line.split()[1]: line for line in terminal.splitlines() if line[:2] in ("✓ ", "! ", "✗ ")}
    assert "1 anomaly (1 warning)" in lines["validate"]
    assert "schema" in lines and "inferred" in lines["schema"]
    assert "off (tuning.search_space is empty)" in lines["tune"]

    # the slice of one class: AUC undefined (null), not gated, said in the blessing and model card
    island = summary["metrics"]["region:island"]
    assert island["auc"] is None and island["example_count"] >= 30
    assert summary["blessing"]["blessed"] is True and summary["blessing"]["reasons"] == []
    assert (
        "auc on slice region:island: undefined (only negatives), not gated"
        in summary["blessing"]["undefined"]
    )
    card = Path(summary["artifacts"]["model_card"]).read_text()
    (row,) = [line for line in card.splitlines() if line.startswith("| region:island |")]
    assert f"| region:island | {int(island['example_count'])} | n/a (one class) |" in row
    assert "region:island (undefined: only negatives)" in card
    gate = summary["fairness"]["region"]["auc"]
    assert gate["passed"] is True and gate["excluded"] == ["region:island (undefined: only negatives)"]
    assert "island" not in gate["min_slice"] + gate["max_slice"]
    assert lines["evaluate"].endswith("blessed") and lines["push"].endswith("pushed version 1")


def test_the_same_data_without_tolerance_stops_at_the_gate_with_one_line_and_exit_2(churn):
    raw = yaml.safe_load(churn.config.read_text())
    raw["validation"] = {"min_domain_mass": 1.0}
    strict = churn.folder / "strict.yaml"
    strict.write_text(yaml.safe_dump(raw))
    code, terminal, summary = _mlpipe_run(strict, churn.folder / "strict-runs")
    assert code == 2, terminal
    assert summary["failed_stage"] == "validation_gate" and summary["error_kind"] == "user"
    (error,) = [line for line in terminal.splitlines() if "ENUM_TYPE_UNEXPECTED_STRING_VALUES" in line]
    assert error.startswith("FAILED at stage validation_gate: data validation failed: company [eval] ")
    assert "validation.min_domain_mass" in error and "mlpipe schema --config CONFIG --write" in error
    assert error.removeprefix("FAILED at stage validation_gate: ") == summary["error"]  # the same words
    assert "Traceback" not in terminal
    assert "push" not in {stage["name"] for stage in summary["stages"]}  # nothing published
