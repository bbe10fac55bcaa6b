"""An unchanged baseline is not re-evaluated: push stores the model's evaluation record with its
registry version, and a later evaluate on the same eval data and eval config runs TFMA on the
candidate alone and judges the AUC change threshold on the stored metrics, with the verdict and
candidate metrics the two-model TFMA run gives; anything changed falls back to that run.

Real TFMA on the Adult subsample (~20-45 s a run on 2 cores): the shared model evaluated and
pushed once, then a passing pair (the model against itself) and a failing pair (a weak model
against it), each through both paths.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import types

import pytest
from test_evaluate import _train_on

from mlpipe.components.evaluate.baseline_record import (
    eval_data_fingerprint,
    find_baseline_evaluation,
    fingerprints,
    own_metrics,
    stored_record,
)
from mlpipe.components.evaluate.core import evaluate
from mlpipe.data.tfrecord import read_records, split_files, write_records
from mlpipe.evaluation.results import OVERALL
from mlpipe.registry.local import LocalRegistry

pytestmark = pytest.mark.slow


def _with(config, section: str, **changes):
    return config.model_copy(update={section: getattr(config, section).model_copy(update=changes)})


@pytest.fixture(scope="module")
def published(served_model, adult_examples) -> types.SimpleNamespace:
    """The shared model evaluated alone and pushed (serving points at it) with its record
    (`served_model`, tests/unit/conftest.py)."""
    config = _with(adult_examples.config, "registry", uri=str(served_model.registry))
    registry = LocalRegistry(served_model.registry)
    version = served_model.push["version"]
    assert registry.serving_version(config.model_name) == version
    prints = fingerprints(config, adult_examples.examples)
    return types.SimpleNamespace(
        config=config, registry=registry, evaluation=served_model.evaluation, version=version, prints=prints
    )


def _both_paths(published, config, model_dir, examples, folder):
    """(reused, full): the candidate against the published baseline through both paths."""
    baseline, baseline_dir, record = find_baseline_evaluation(config, {}, published.prints)
    assert baseline["version"] == published.version and baseline_dir is None and record is not None
    reused = evaluate(
        config, model_dir, examples, folder / "reused", baseline, None, record, published.prints
    )
    copy = published.registry.local_copy(config.model_name, published.version)
    full = evaluate(config, model_dir, examples, folder / "full", baseline, copy)
    return reused, full


def _same_number(a, b) -> bool:
    if a is None or b is None or math.isnan(a) or math.isnan(b):
        return (a is None or math.isnan(a)) and (b is None or math.isnan(b))
    return abs(a - b) <= 1e-6


def _assert_same(reused, full):
    assert reused.verdict["baseline"] == {**full.verdict["baseline"], "metrics": "stored"}
    assert full.verdict["baseline"]["metrics"] == "evaluated"
    for key in ("blessed", "reasons", "not_gated"):
        assert reused.verdict[key] == full.verdict[key], key
    assert json.dumps(reused.verdict["fairness_checks"]) == json.dumps(full.verdict["fairness_checks"])
    assert reused.metrics.keys() == full.metrics.keys()
    for name, metrics in full.metrics.items():
        assert reused.metrics[name].keys() == metrics.keys(), name  # the *_diff ones included
        for metric, value in metrics.items():
            assert _same_number(reused.metrics[name][metric], value), (name, metric)
    assert reused.record["metrics"].keys() == own_metrics(full.metrics).keys()


def test_push_stores_the_evaluation_record_with_the_version(published, adult_examples):
    record, why = stored_record(published.registry, published.config.model_name, published.version)
    assert why == "" and record is not None
    assert json.dumps(record, sort_keys=True) == json.dumps(published.evaluation.record, sort_keys=True)
    assert record["eval_data_fingerprint"] == published.prints["eval_data_fingerprint"]
    assert record["eval_config_fingerprint"] == published.prints["eval_config_fingerprint"]
    assert record["metrics"][OVERALL]["auc"] == published.evaluation.metrics[OVERALL]["auc"]
    assert set(record["metrics"]) == set(published.evaluation.metrics)


def test_an_unchanged_baseline_passes_the_same_way_without_re_evaluation(
    published, trained_model, adult_examples, tmp_path
):
    reused, full = _both_paths(
        published, published.config, trained_model.model_dir, adult_examples.examples, tmp_path
    )
    assert full.verdict["blessed"] is True, full.verdict["reasons"]
    assert full.metrics[OVERALL]["auc_diff"] == pytest.approx(0.0, abs=1e-9)
    _assert_same(reused, full)


def test_an_auc_drop_fails_the_same_way_without_re_evaluation(
    published, adult_examples, tmp_path, write_config
):
    lines = adult_examples.sample.train.read_text().splitlines()[:301]
    config, examples, model_dir = _train_on(tmp_path / "weak", adult_examples, lines, 1, write_config)
    config = _with(config, "evaluation", min_auc=0.0)  # only the change threshold under test
    config = _with(config, "registry", uri=published.config.registry.uri)
    assert fingerprints(config, examples) == published.prints  # new train data, same eval data
    reused, full = _both_paths(published, config, model_dir, examples, tmp_path)
    assert full.verdict["blessed"] is False
    assert any(
        r.startswith("change vs baseline: auc_diff on slice overall") for r in full.verdict["reasons"]
    ), full.verdict["reasons"]
    _assert_same(reused, full)


def test_a_changed_eval_config_or_eval_data_re_evaluates_the_baseline(
    published, adult_examples, tmp_path, caplog
):
    config, prints = published.config, published.prints
    # a gate threshold judges metrics, it does not change them: still reused
    stricter = _with(config, "evaluation", max_auc_drop=0.001, min_auc=0.5)
    assert fingerprints(stricter, adult_examples.examples) == prints
    assert find_baseline_evaluation(stricter, {}, prints)[2] is not None

    changed_config = _with(config, "evaluation", fairness_thresholds=[0.3, 0.5])
    eval_dir = tmp_path / "examples" / "Split-eval"
    eval_dir.mkdir(parents=True)
    records = [r for path in split_files(adult_examples.examples, "eval") for r in read_records(path)]
    write_records(eval_dir / "data.tfrecord.gz", records[:-1])  # one eval row fewer
    for changed, examples, why in [
        (changed_config, adult_examples.examples, "the eval config"),
        (config, tmp_path / "examples", "the eval data"),
    ]:
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="mlpipe.components.evaluate.baseline_record"):
            baseline, baseline_dir, record = find_baseline_evaluation(
                changed, {}, fingerprints(changed, examples)
            )
        assert baseline["version"] == published.version and record is None
        assert (baseline_dir / "saved_model.pb").is_file()  # TFMA evaluates both models
        line = next(m for m in caplog.messages if m.startswith("re-evaluating baseline version"))
        assert why in line, line


def test_the_eval_data_fingerprint_is_the_records_not_their_order_or_files(adult_examples, tmp_path):
    records = [r for path in split_files(adult_examples.examples, "eval") for r in read_records(path)]
    shards = tmp_path / "Split-eval"
    shards.mkdir()
    write_records(shards / "a.tfrecord.gz", records[1000:][::-1])
    write_records(shards / "b.tfrecord.gz", records[:1000])
    assert eval_data_fingerprint(tmp_path) == eval_data_fingerprint(adult_examples.examples)
    write_records(shards / "b.tfrecord.gz", records[:999] + records[:1])  # a duplicate, not a row
    assert eval_data_fingerprint(tmp_path) != eval_data_fingerprint(adult_examples.examples)


def test_a_version_without_a_readable_record_is_re_evaluated(published, tmp_path, caplog):
    copy = tmp_path / "registry"
    shutil.copytree(published.registry.root, copy)
    config = _with(published.config, "registry", uri=str(copy))
    folder = LocalRegistry(copy).attachment(config.model_name, published.version, "evaluation")
    (folder / "evaluation_record.json").write_text("{not json")
    with caplog.at_level(logging.INFO, logger="mlpipe.components.evaluate.baseline_record"):
        baseline, baseline_dir, record = find_baseline_evaluation(config, {}, published.prints)
    assert record is None and baseline_dir is not None
    assert any("cannot be read" in m for m in caplog.messages), caplog.messages
