"""Validation tells the whole truth: every problem of a batch in one report and one exit, missing
columns among them; the pipeline's validate computes skew for a serving split; the curated schema's
bounds. Every batch is the real Adult test file, changed inside the test."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from mlpipe.cli.data_checks import validate_batch
from mlpipe.cli.main import main
from mlpipe.components.ingest.core import ingest
from mlpipe.components.statistics.core import compute_statistics
from mlpipe.components.validate.core import validate_run, validate_statistics
from mlpipe.config.io import load_config
from mlpipe.data.artifacts import load_schema
from mlpipe.data.examples import load_examples


def _cli(capsys, config, data, baseline, output) -> tuple[int, str, str]:
    argv = ["validate", "--config", str(config), "--data", str(data), "--baseline", str(baseline)]
    code = main([*argv, "--output", str(output)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _many_problems(drop: list[str]):
    """Drop columns, shift age (drift and skew), add unseen sex and race values and out-of-range
    numbers (capital_gain past the census top-code)."""

    def change(frame):
        frame = frame.drop(columns=drop)
        frame["age"] = (frame["age"].astype(int) + 30).astype(str)
        frame.loc[frame.index[::40], "sex"] = "Unknown"
        frame.loc[frame.index[5::97], "race"] = "Martian"
        frame.loc[frame.index[7], "capital-gain"] = "150000"
        return frame

    return change


CASES = {
    "numeric column dropped": ["education-num"],
    "categorical columns dropped": ["native-country", "workclass"],
    "numeric dropped, no label (SERVING)": ["hours-per-week", "Y"],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_problem_of_a_batch_is_in_one_report_and_one_exit(
    tmp_path, capsys, adult, baseline, batch, case
):
    drop = CASES[case]
    code, out, err = _cli(capsys, adult.config, batch(_many_problems(drop)), baseline, tmp_path / "report")
    assert code == 1, out + err
    missing = {c.replace("-", "_").lower() for c in drop if c != "Y"}
    expected = {
        *((f, "batch", "SCHEMA_MISSING_COLUMN") for f in missing),
        ("age", "batch drift", "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH"),
        ("age", "batch skew", "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH"),
        ("sex", "batch", "ENUM_TYPE_UNEXPECTED_STRING_VALUES"),
        ("race", "batch", "ENUM_TYPE_UNEXPECTED_STRING_VALUES"),
        ("capital_gain", "batch", "FLOAT_TYPE_BIG_FLOAT"),
    }
    summary = json.loads((tmp_path / "report" / "anomalies" / "summary.json").read_text())
    found = {(a["feature"], a["split"], a["kind"]) for a in summary["anomalies"]}
    assert expected <= found, expected - found
    offending = sorted({f for f, _, _ in expected})
    assert f"batch rejected: offending features: {', '.join(offending)}" in err
    for feature, _, kind in expected:
        assert re.search(rf"^ERROR {feature}: {kind}", out, re.M), (feature, kind)
    assert "y" not in {f for f, _, _ in found}  # a batch without label is checked as SERVING data
    report = (tmp_path / "report" / "report.md").read_text()
    assert "**Result: FAIL**" in report
    assert all(f"| batch | {f} | SCHEMA_MISSING_COLUMN | yes |" in report for f in missing)


def test_training_ingest_still_refuses_a_missing_column(tmp_path, adult, batch):
    from mlpipe.errors import UserInputError

    data = batch(lambda f: f.drop(columns="education-num"))
    config = load_config(adult.config)
    with pytest.raises(UserInputError, match="column 'education_num' named in the config is not in the data"):
        ingest(config, tmp_path / "out", environ={}, sources={"train": str(data)})
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda f: f[["Y"]], "none of the features named in the config is in the data"),
        (
            lambda f: f.assign(**{"hours-per-week": f["hours-per-week"].where(f.index != 40, "1e999")}),
            "line 42",
        ),
        (lambda f: f.assign(age=f["age"].where(f.index != 0, "-inf")), "line 2: column 'age'"),
    ],
)
def test_a_batch_that_cannot_be_read_exits_2_with_one_line_and_no_report(
    tmp_path, capsys, adult, baseline, batch, change, expected
):
    data = batch(change)
    code, out, err = _cli(capsys, adult.config, data, baseline, tmp_path / "report")
    assert code == 2
    assert err.strip().startswith(f"error: {data}") and expected in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "report").exists()


@pytest.mark.parametrize(
    ("column", "value", "kind"),
    [
        ("age", "200", "FLOAT_TYPE_BIG_FLOAT"),
        ("education-num", "0", "FLOAT_TYPE_SMALL_FLOAT"),
        ("education-num", "17", "FLOAT_TYPE_BIG_FLOAT"),
        ("capital-gain", "100000", "FLOAT_TYPE_BIG_FLOAT"),
        ("hours-per-week", "-1", "FLOAT_TYPE_SMALL_FLOAT"),
    ],
)
def test_curated_schema_bounds_flag_out_of_range_values(
    tmp_path, adult, baseline, batch, column, value, kind
):
    def one_value(frame):
        frame.loc[frame.index[321], column] = value
        return frame

    result = validate_batch(str(adult.config), str(batch(one_value)), tmp_path / "out", baseline=baseline)
    feature = column.replace("-", "_")
    assert (feature, kind) in {(a.feature, a.kind) for a in result.blocking}
    assert {a.feature for a in result.blocking} == {feature}  # (one far value can also move its JSD)


@pytest.mark.parametrize(("value", "kind"), [(np.inf, "FLOAT_TYPE_HAS_INF"), (np.nan, "FLOAT_TYPE_HAS_NAN")])
def test_curated_schema_refuses_infinities_and_nan_that_reach_tfdv(adult, baseline, value, kind):
    """Ingest refuses them; examples written by anything else still meet the schema's disallow_inf/nan."""
    import tensorflow_data_validation as tfdv
    from tensorflow_data_validation.statistics import stats_impl

    examples = load_examples(baseline.parents[1] / "examples", "eval")
    index = examples.schema.get_field_index("fnlwgt")
    values = examples.column(index).flatten().to_numpy(zero_copy_only=False).copy()
    values[17] = value
    column = pa.ListArray.from_arrays(examples.column(index).offsets, pa.array(values, pa.float32()))
    arrays = [column if i == index else examples.column(i) for i in range(examples.num_columns)]
    changed = pa.RecordBatch.from_arrays(arrays, examples.schema.names)
    stats = stats_impl.generate_statistics_in_memory(changed, tfdv.StatsOptions())
    config = load_config(adult.config)
    result = validate_statistics(config, load_schema(adult.schema), {"eval": stats}, target="eval")
    assert ("fnlwgt", kind) in {(a.feature, a.kind) for a in result.blocking}, result.anomalies


def test_pipeline_validate_checks_a_serving_split_for_skew(
    tmp_path, adult, adult_subsample, adult_test_frame
):
    """`data.serving` in the config: ingest adds a `serving` split (no label, may lack features),
    validate checks it in the SERVING environment and for skew against the train split."""
    serving_csv = tmp_path / "serving.csv"
    sample = adult_subsample(tmp_path / "data", 3000, 1500, changes={"data.serving": str(serving_csv)})
    # serving requests: the train rows themselves (no skew), hours tripled, no label, one column lost
    serving = pd.read_csv(sample.train, skipinitialspace=True, dtype=str, na_filter=False).iloc[:2000]
    serving = serving.drop(columns=["Y", "education-num"])
    serving["hours-per-week"] = (serving["hours-per-week"].astype(int) * 3).astype(str)
    serving.to_csv(serving_csv, index=False)
    config = load_config(sample.config)
    assert config.data.serving == str(serving_csv)
    result = ingest(config, tmp_path / "examples", environ={})
    assert result.rows == {"train": 3000, "eval": 1500, "serving": 2000}
    assert result.summary()["serving_rows"] == 2000
    assert "y" not in load_examples(tmp_path / "examples", "serving").schema.names
    compute_statistics(tmp_path / "examples", tmp_path / "statistics")

    validation = validate_run(config, tmp_path / "statistics", adult.schema, environ=None)
    found = {(a.feature, a.split, a.kind) for a in validation.blocking}
    assert ("hours_per_week", "serving skew", "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH") in found
    assert ("education_num", "serving", "SCHEMA_MISSING_COLUMN") in found
    assert not [a for a in validation.anomalies if a.split in ("train", "eval", "eval drift")]
    skew = {d.feature: d for d in validation.distances if d.comparison == "skew"}
    assert skew["hours_per_week"].exceeded and not skew["age"].exceeded
    assert skew["hours_per_week"].threshold == pytest.approx(config.validation.skew_threshold)
    verdict = validation.verdict(config)
    assert verdict["passed"] is False and verdict["features"] == ["education_num", "hours_per_week"]
    assert validation.counts()["skew_anomalies"] >= 1

    # without serving data there is nothing to compare for skew
    plain = load_config(adult_subsample(tmp_path / "plain", 3000, 1500).config)
    ingest(plain, tmp_path / "plain-examples", environ={})
    compute_statistics(tmp_path / "plain-examples", tmp_path / "plain-statistics")
    alone = validate_run(plain, tmp_path / "plain-statistics", adult.schema, environ=None)
    assert not [d for d in alone.distances if d.comparison == "skew"] and alone.blocking == []


def test_an_inferred_schema_refuses_nan_and_infinities_too(tmp_path, adult_subsample):
    sample = adult_subsample(tmp_path / "data", 500, 100, changes={"schema_path": None})
    assert (
        main(["schema", "--config", str(sample.config), "--write", "--output", str(tmp_path / "s.pbtxt")])
        == 0
    )
    schema = load_schema(tmp_path / "s.pbtxt")
    numeric = [f for f in schema.feature if f.name in load_config(sample.config).features.numeric]
    assert len(numeric) == 6
    assert all(f.float_domain.disallow_nan and f.float_domain.disallow_inf for f in numeric)
