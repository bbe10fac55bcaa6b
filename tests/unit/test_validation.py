"""Batch validation against a training baseline, on real perturbed copies of Adult.

The baseline (ingest + statistics of the real Adult train/test files) is built once
(tests/unit/conftest.py); each batch is the real Adult test file, changed in one way.
"""

from __future__ import annotations

import base64
import json
import re

import pytest
from tensorflow_metadata.proto.v0 import statistics_pb2

from mlpipe.cli.data_checks import baseline_statistics_dir, validate_batch
from mlpipe.cli.main import main
from mlpipe.components.statistics.core import compute_statistics, write_html
from mlpipe.errors import UserInputError

FEATURES = {
    "age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week",
    "workclass", "education", "marital_status", "occupation", "relationship", "race", "sex", "native_country",
}  # fmt: skip


def _cli(capsys, config, data, baseline, output) -> tuple[int, str, str]:
    code = main(
        [
            "validate",
            "--config",
            str(config),
            "--data",
            str(data),
            "--baseline",
            str(baseline),
            "--output",
            str(output),
        ]
    )
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _drift_rows(report: str) -> dict[str, tuple[str, float, float, str]]:
    """feature -> (measure, distance, threshold, status) from the report's drift table."""
    section = report.split("## Drift", 1)[1].split("## Skew", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"[\d.]+", cells[2]):
            rows[cells[0]] = (cells[1], float(cells[2]), float(cells[3]), cells[4])
    return rows


def test_clean_adult_test_file_is_accepted(tmp_path, capsys, adult, baseline, batch):
    code, out, err = _cli(capsys, adult.config, batch(), baseline, tmp_path / "report")
    assert code == 0, out + err
    assert "batch accepted" in out
    assert "ERROR" not in out and "WARN" not in out
    # one line per step; the libraries' output is in the log next to the report folder
    lines = out.splitlines()
    log = tmp_path / "report.log"
    assert lines[0].startswith("mlpipe validate: ") and str(log) in lines[0]
    assert [line.split()[:2] for line in lines[1:4]] == [
        ["✓", "ingest"],
        ["✓", "statistics"],
        ["✓", "validate"],
    ]
    assert "16,281 rows" in lines[1] and "0 anomalies (0 blocking)" in lines[3]
    assert "statistics of split batch: 16281 examples" in log.read_text()
    assert "mlpipe.components" not in out + err
    summary = json.loads((tmp_path / "report" / "anomalies" / "summary.json").read_text())
    assert summary["anomalies"] == []
    assert summary["validation"]["features_compared"] == 14
    report = (tmp_path / "report" / "report.md").read_text()
    assert "**Result: PASS**" in report
    assert "No anomalies." in report
    # every feature's drift distance and threshold is listed, though all are below it
    drift = _drift_rows(report)
    assert set(drift) == FEATURES
    assert all(
        status == "ok" and threshold == pytest.approx(0.1) for _, _, threshold, status in drift.values()
    )
    assert {measure for measure, *_ in drift.values()} == {"JENSEN_SHANNON_DIVERGENCE", "L_INFTY"}
    assert drift["age"][0] == "JENSEN_SHANNON_DIVERGENCE" and drift["sex"][0] == "L_INFTY"
    # the batch is the baseline's eval data: no drift at all
    assert max(distance for _, distance, _, _ in drift.values()) == pytest.approx(0.0, abs=1e-6)
    assert "## Skew (every compared feature)" in report


def test_batch_without_label_is_validated_as_serving(tmp_path, adult, baseline, batch):
    result = validate_batch(
        str(adult.config), str(batch(lambda f: f.drop(columns="Y"))), tmp_path / "out", baseline=baseline
    )
    assert result.anomalies == []
    assert not result.blocking


def test_dropped_column_is_an_anomaly_naming_it(tmp_path, capsys, adult, baseline, batch):
    data = batch(lambda f: f.drop(columns="education-num"))
    code, out, err = _cli(capsys, adult.config, data, baseline, tmp_path / "report")
    assert code == 1, out + err
    assert "batch rejected: offending features: education_num" in err
    assert re.search(r"^ERROR education_num: SCHEMA_MISSING_COLUMN", out, re.M)
    assert "**Result: FAIL**" in (tmp_path / "report" / "report.md").read_text()


def test_unseen_category_is_rejected_naming_the_feature(tmp_path, capsys, adult, baseline, batch):
    def unknown_sex(frame):
        frame.loc[frame.index[::50], "sex"] = "Unknown"
        return frame

    code, out, err = _cli(capsys, adult.config, batch(unknown_sex), baseline, tmp_path / "report")
    assert code == 1
    assert "batch rejected: offending features: sex" in err
    assert re.search(r"^ERROR sex: ENUM_TYPE_UNEXPECTED_STRING_VALUES: .*Unknown", out, re.M)
    summary = json.loads((tmp_path / "report" / "anomalies" / "summary.json").read_text())
    assert {(a["feature"], a["kind"]) for a in summary["anomalies"]} >= {
        ("sex", "ENUM_TYPE_UNEXPECTED_STRING_VALUES")
    }
    assert "**Result: FAIL**" in (tmp_path / "report" / "report.md").read_text()


def test_string_in_numeric_column_is_rejected(tmp_path, capsys, adult, baseline, batch):
    def text_hours(frame):
        frame.loc[frame.index[123], "hours-per-week"] = "forty"
        return frame

    code, out, err = _cli(capsys, adult.config, batch(text_hours), baseline, tmp_path / "report")
    assert code == 2
    assert "column 'hours_per_week' is numeric but has value 'forty'" in err
    assert "line 125" in err


def test_empty_batch_is_rejected(tmp_path, capsys, adult, baseline, batch):
    code, out, err = _cli(capsys, adult.config, batch(lambda f: f.iloc[:0]), baseline, tmp_path / "report")
    assert code == 2
    assert "header but no data rows" in err
    assert not (tmp_path / "report").exists()


@pytest.mark.parametrize(
    ("column", "feature", "shift"),
    [
        ("age", "age", lambda s: (s.astype(int) + 30).astype(str)),
        ("hours-per-week", "hours_per_week", lambda s: (s.astype(int) * 3).astype(str)),
    ],
)
def test_shifted_distribution_is_rejected_as_drift(
    tmp_path, capsys, adult, baseline, batch, column, feature, shift
):
    def shifted(frame):
        frame[column] = shift(frame[column])
        return frame

    code, out, err = _cli(capsys, adult.config, batch(shifted), baseline, tmp_path / "report")
    assert code == 1, out + err
    assert f"offending features: {feature}" in err
    assert re.search(rf"^ERROR {feature}: COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH", out, re.M)
    summary = json.loads((tmp_path / "report" / "anomalies" / "summary.json").read_text())
    kinds = {(a["feature"], a["split"]): a["kind"] for a in summary["anomalies"]}
    assert kinds[(feature, "batch drift")] == "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH"
    assert kinds[(feature, "batch skew")] == "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH"
    assert {f for f, _ in kinds} == {feature}  # only the shifted feature
    assert summary["validation"]["max_drift"] > 0.1
    drift = _drift_rows((tmp_path / "report" / "report.md").read_text())
    assert set(drift) == FEATURES
    measure, distance, threshold, status = drift[feature]
    assert (measure, status) == ("JENSEN_SHANNON_DIVERGENCE", "**over**")
    assert distance > threshold == pytest.approx(0.1)


def test_drift_action_warn_passes_with_warnings(tmp_path, capsys, adult, baseline, batch, write_config):
    config = write_config(tmp_path / "config", {"validation.drift_action": "warn"})

    def shifted(frame):
        frame["age"] = (frame["age"].astype(int) + 30).astype(str)
        return frame

    code, out, err = _cli(capsys, config, batch(shifted), baseline, tmp_path / "report")
    assert code == 0, out + err
    assert "batch accepted" in out
    assert re.search(r"^WARN age: COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH", out, re.M)
    assert "ERROR" not in out
    report = (tmp_path / "report" / "report.md").read_text()
    assert "**Result: PASS with warnings**" in report
    assert "| batch drift | age | COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH | warn |" in report


def test_per_feature_threshold_applies(tmp_path, adult, baseline, batch, write_config):
    """A feature's own drift threshold replaces the default, and the report shows it."""
    config = write_config(
        tmp_path / "config",
        {"validation.drift_thresholds": {"hours-per-week": 0.9}, "validation.skew_threshold": 1.0},
    )

    def shifted(frame):
        frame["hours-per-week"] = (frame["hours-per-week"].astype(int) * 3).astype(str)
        return frame

    result = validate_batch(str(config), str(batch(shifted)), tmp_path / "out", baseline=baseline)
    drift = {d.feature: d for d in result.distances if d.comparison == "drift"}
    assert drift["hours_per_week"].threshold == pytest.approx(0.9)
    assert drift["age"].threshold == pytest.approx(0.1)
    assert not drift["hours_per_week"].exceeded
    assert result.anomalies == []


def test_statistics_html_is_a_standalone_facets_page(tmp_path, baseline):
    stats = baseline_statistics_dir(tmp_path, baseline)
    html_path = tmp_path / "html" / "statistics.html"
    write_html(stats, html_path)
    html = html_path.read_text()
    assert "facets" in html
    assert "<iframe" in html and "<script>" in html  # one file a browser (or the KFP UI) shows as is
    # the statistics travel inside the page: both splits, side by side
    (encoded,) = re.findall(r'<facets-overview proto-input="([^"]+)"', html)
    embedded = statistics_pb2.DatasetFeatureStatisticsList.FromString(base64.b64decode(encoded))
    assert [(d.name, d.num_examples) for d in embedded.datasets] == [("train", 32_561), ("eval", 16_281)]
    assert not [p for p in html_path.parent.iterdir() if ".tmp-" in p.name]


# --- finding the baseline ---------------------------------------------------------------------


def test_baseline_from_runs_root_picks_newest_validated_run(tmp_path, baseline, fake_run):
    stats = baseline_statistics_dir(tmp_path, baseline)
    root = tmp_path / "runs"
    fake_run(root / "20240101-000000", stats)
    fake_run(root / "20240301-000000", tmp_path / "elsewhere", validate_status="failed")
    newer_stats = tmp_path / "newer"
    newer_stats.mkdir()
    fake_run(root / "20240201-000000", newer_stats)
    (root / "latest").symlink_to("20240301-000000")
    assert baseline_statistics_dir(root, None) == newer_stats


@pytest.mark.parametrize(
    ("setup", "match"),
    [
        ("none", "no baseline: no run under"),
        ("no-summary", "has no summary.json"),
        ("failed", "has no validated statistics"),
    ],
)
def test_baseline_errors(tmp_path, setup, match, fake_run):
    run = tmp_path / "runs" / "run1"
    if setup == "no-summary":
        run.mkdir(parents=True)
    elif setup == "failed":
        fake_run(run, tmp_path, validate_status="failed")
    with pytest.raises(UserInputError, match=match):
        baseline_statistics_dir(tmp_path / "runs", None if setup == "none" else run)


def test_cli_without_baseline_run_is_a_user_error(tmp_path, capsys, adult, batch):
    code = main(
        ["validate", "--config", str(adult.config), "--data", str(batch()), "--runs", str(tmp_path / "runs")]
    )
    captured = capsys.readouterr()
    assert code == 2
    assert "no baseline" in captured.err


# --- the pipeline's validate: verdict for the gate step, and the served model's statistics ------


def test_the_gate_step_enforces_the_verdict_that_validate_recorded(tmp_path):
    from mlpipe.components.validate.core import Anomaly, ValidationResult, write_outputs
    from mlpipe.components.validate.verdict import enforce

    anomalies = [
        Anomaly("age", "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH", "drifted", "eval drift"),
        Anomaly("race", "ENUM_TYPE_UNEXPECTED_STRING_VALUES", "Martian", "eval"),
        Anomaly("hours_per_week", "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH", "a bit", "eval drift", False),
    ]
    result = ValidationResult(anomalies, [], {}, drift_baseline="this run's train split")

    class Validation:  # the one setting the verdict reads
        fail_on_anomalies = True

    class Config:
        validation = Validation()

    verdict = result.verdict(Config())
    assert verdict["passed"] is False and verdict["features"] == ["age", "race"]
    write_outputs(result, tmp_path / "anomalies", tmp_path / "report.md", "t", verdict)
    with pytest.raises(
        UserInputError, match=r"data validation failed: age \[eval drift\] .*; race \[eval\] "
    ):
        enforce(tmp_path / "anomalies")
    assert "Drift baseline: this run's train split." in (tmp_path / "report.md").read_text()

    Validation.fail_on_anomalies = False
    write_outputs(result, tmp_path / "ok", tmp_path / "ok.md", "t", result.verdict(Config()))
    assert enforce(tmp_path / "ok")["passed"] is True
    with pytest.raises(UserInputError, match="no validation verdict"):
        enforce(tmp_path / "missing")


def test_validate_run_compares_with_the_served_models_training_statistics(adult_examples, tmp_path):
    """Cross-run drift: the baseline is found through the registry's serving pointer."""
    from mlpipe.components.validate.core import validate_run
    from mlpipe.registry.local import LocalRegistry

    config = adult_examples.config.model_copy(
        update={"registry": adult_examples.config.registry.model_copy(update={"uri": str(tmp_path / "reg")})}
    )
    stats = tmp_path / "stats"
    compute_statistics(adult_examples.examples, stats)
    schema_dir = adult_examples.config.schema_path  # the curated schema file
    alone = validate_run(config, stats, schema_dir, environ={})
    assert alone.drift_baseline == "this run's train split"

    registry = LocalRegistry(tmp_path / "reg")
    model = tmp_path / "model"
    model.mkdir()
    (model / "saved_model.pb").write_bytes(b"x")
    version = registry.publish(config.model_name, model, {"blessed": True}, {"statistics": stats})
    registry.set_serving(config.model_name, version)
    served = validate_run(config, stats, schema_dir, environ={})
    assert served.drift_baseline == f"training statistics of served {config.model_name} version 1"
    assert {d.feature for d in served.distances} == {d.feature for d in alone.distances}
    assert validate_run(config, stats, schema_dir, environ=None).drift_baseline == "this run's train split"
