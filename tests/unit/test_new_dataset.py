"""A dataset the project has never seen, with only a config (tests/new_dataset.py): the inferred
schema tolerates rare category values a random split puts only in eval, and says so; what a
curated schema or a real shift would catch still blocks; `mlpipe schema` infers from the rows the
pipeline infers from. Real ingest, real TFDV statistics and validation on 4,000 made rows."""

from __future__ import annotations

import logging
import types

import new_dataset
import pytest

from mlpipe.cli.main import main
from mlpipe.components.ingest.core import ingest
from mlpipe.components.schema.core import infer_schema, resolve_schema, write_schema
from mlpipe.components.statistics.core import compute_statistics
from mlpipe.components.validate.core import validate_run
from mlpipe.components.validate.domains import UNEXPECTED, UNSEEN_TOLERATED
from mlpipe.config.io import load_config
from mlpipe.data.artifacts import load_schema, load_statistics

ROWS = 4_000


def _prepared(folder, changes=None, **kwargs) -> types.SimpleNamespace:
    """The dataset ingested (the pipeline's hash split) with its statistics."""
    data = new_dataset.write(folder, ROWS, changes, **kwargs)
    config = load_config(data.config)
    ingest(config, folder / "examples", environ={})
    compute_statistics(folder / "examples", folder / "statistics")
    return types.SimpleNamespace(data=data, config=config, stats=folder / "statistics")


def _validated(prepared, folder, config=None):
    config = config or prepared.config
    resolve_schema(config, load_statistics(prepared.stats, "train"), folder / "schema")
    return validate_run(config, prepared.stats, folder / "schema")


def _values(stats_dir, split: str, feature: str) -> set[str]:
    (stats,) = [f for f in load_statistics(stats_dir, split).datasets[0].features if f.path.step == [feature]]
    return {b.label for b in stats.string_stats.rank_histogram.buckets}


@pytest.fixture(scope="module")
def churn(tmp_path_factory):
    return _prepared(tmp_path_factory.mktemp("churn"))


def test_rare_values_only_in_eval_are_a_warning_with_their_share(churn, tmp_path):
    only_in_eval = _values(churn.stats, "eval", "company") - _values(churn.stats, "train", "company")
    assert only_in_eval and all(v.startswith("rare-co-") for v in only_in_eval)  # what a split does

    result = _validated(churn, tmp_path)
    assert result.blocking == []
    (warning,) = [a for a in result.anomalies if a.kind == UNSEEN_TOLERATED]
    assert warning.feature == "company" and warning.split == "eval" and not warning.blocking
    assert "tolerated up to 1.00%: validation.min_domain_mass" in warning.description
    for value in only_in_eval:
        assert f"'{value}' (0.0" in warning.description
    schema = load_schema(tmp_path / "schema")
    (company,) = [f for f in schema.feature if f.name == "company"]
    assert company.distribution_constraints.min_domain_mass == pytest.approx(0.99)


def test_without_tolerance_the_block_names_the_config_key_and_the_schema_command(churn, tmp_path):
    strict = churn.config.model_copy(
        update={"validation": churn.config.validation.model_copy(update={"min_domain_mass": 1.0})}
    )
    result = _validated(churn, tmp_path, strict)
    (blocking,) = result.blocking
    assert (blocking.feature, blocking.kind) == ("company", UNEXPECTED)
    assert "validation.min_domain_mass" in blocking.description
    assert "mlpipe schema --config CONFIG --write" in blocking.description


def test_a_curated_schema_keeps_exactly_what_it_says(churn, tmp_path):
    schema = infer_schema(load_statistics(churn.stats, "train"), churn.config)
    for feature in schema.feature:
        feature.ClearField("distribution_constraints")  # curated: every value listed or rejected
    write_schema(schema, tmp_path / "curated.pbtxt")
    curated = churn.config.model_copy(update={"schema_path": str(tmp_path / "curated.pbtxt")})
    result = _validated(churn, tmp_path, curated)
    assert [(a.feature, a.kind) for a in result.blocking] == [("company", UNEXPECTED)]
    assert not [a for a in result.anomalies if a.kind == UNSEEN_TOLERATED]


def test_a_new_value_on_more_rows_than_the_tolerance_still_blocks(tmp_path):
    """A real shift is not a long tail: 5% of eval rows from a company train never saw."""
    import csv

    prepared = new_dataset.write(tmp_path / "base", ROWS)
    with prepared.csv.open() as handle:
        rows = list(csv.DictReader(handle))
    for row in rows[::20]:
        row["Company"] = "acquired-co"
    eval_file = tmp_path / "eval.csv"
    with eval_file.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    shifted = _prepared(tmp_path / "shifted", {"data.eval": str(eval_file)})
    result = _validated(shifted, tmp_path)
    assert ("company", UNEXPECTED) in {(a.feature, a.kind) for a in result.blocking}
    (company,) = [a for a in result.blocking if a.kind == UNEXPECTED]
    assert "acquired-co" in company.description


def test_integer_codes_get_no_domain_warning_and_a_long_tail_says_how_many(tmp_path, caplog):
    wide = _prepared(tmp_path, rare_companies=150)  # more names than TFDV gives a domain
    with caplog.at_level(logging.INFO, logger="mlpipe.components.schema.core"):
        schema = infer_schema(load_statistics(wide.stats, "train"), wide.config)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert not [w for w in warnings if "plan_code" in w]
    (plan,) = [f for f in schema.feature if f.name == "plan_code"]
    assert plan.WhichOneof("domain_info") == "int_domain"
    (company,) = [w for w in warnings if "company" in w]
    assert "distinct values (TFDV infers a domain up to 100)" in company and "mlpipe schema" in company


def test_mlpipe_schema_writes_to_output_from_the_train_split(churn, tmp_path, capsys):
    target = tmp_path / "curated" / "schema.pbtxt"
    target.parent.mkdir()
    assert main(["schema", "--config", str(churn.data.config), "--output", str(target)]) == 0
    assert f"wrote {target}" in capsys.readouterr().out
    written = load_schema(target)
    (company,) = [f for f in written.feature if f.name == "company"]
    domain = set(company.string_domain.value) or {
        v for d in written.string_domain if d.name == company.domain for v in d.value
    }
    train = _values(churn.stats, "train", "company")
    assert domain == train  # the pipeline's train split, not the whole file
    assert _values(churn.stats, "eval", "company") - train


def test_mlpipe_schema_with_neither_write_nor_output_writes_nothing(churn, tmp_path, capsys):
    assert main(["schema", "--config", str(churn.data.config)]) == 2
    assert "pass --write" in capsys.readouterr().err
    assert not (churn.data.folder / "schema.pbtxt").exists()
