"""The portable-runner tier: ingest -> statistics -> validate and evaluate on Beam's portable runner
Prism (the Go job server, built from source by scripts/build-test-servers.sh; Python SDK workers
in LOOPBACK mode) give what the multi-process DirectRunner gives on the Adult subsample.

Beam's Flink and Spark job servers are not on Maven Central for current releases, so Prism is the
portable runner this suite can start; a `FlinkRunner` config goes through the same options."""

from __future__ import annotations

import math

import pytest
from servers import server_binaries, unavailable
from stats_compare import stats_differences
from test_ingest_beam import _rows

from mlpipe.components.evaluate.core import evaluate
from mlpipe.components.ingest.core import ingest
from mlpipe.components.schema.core import resolve_schema
from mlpipe.components.statistics.core import compute_statistics
from mlpipe.components.validate.core import validate_run
from mlpipe.config.dataset import BeamConfig
from mlpipe.data.artifacts import load_statistics

pytestmark = pytest.mark.beam_portable


@pytest.fixture(scope="module")
def prism() -> str:
    path = server_binaries("prism").get("prism")
    if not path:
        unavailable("prism", "the build script printed no prism binary")
    return path


def _stages(config, model_dir, folder, beam: BeamConfig):
    """Every Beam-based stage on `beam` (inputs forced through Beam: in_memory_max_bytes 0)."""
    config = config.model_copy(update={"beam": beam})
    result = ingest(config, folder / "examples", environ={})
    compute_statistics(folder / "examples", folder / "statistics", beam=beam)
    resolve_schema(config, load_statistics(folder / "statistics", "train"), folder / "schema")
    validation = validate_run(config, folder / "statistics", folder / "schema")
    evaluation = evaluate(config, model_dir, folder / "examples", folder / "evaluation")
    return result, validation, evaluation


def test_prism_equals_direct_runner(prism, adult_examples, trained_model, tmp_path):
    config = adult_examples.config
    direct = BeamConfig(in_memory_max_bytes=0)
    portable = BeamConfig(runner="PrismRunner", in_memory_max_bytes=0, options={"prism_location": prism})
    ingest_d, valid_d, eval_d = _stages(config, trained_model.model_dir, tmp_path / "direct", direct)
    ingest_p, valid_p, eval_p = _stages(config, trained_model.model_dir, tmp_path / "prism", portable)

    assert ingest_p.rows == ingest_d.rows == {"train": 16_000, "eval": 3_000}
    assert ingest_p.fingerprint == ingest_d.fingerprint
    for split in ("train", "eval"):
        assert _rows(tmp_path / "prism" / "examples", split) == _rows(tmp_path / "direct" / "examples", split)
        stats_p = load_statistics(tmp_path / "prism" / "statistics", split)
        stats_d = load_statistics(tmp_path / "direct" / "statistics", split)
        assert stats_p.datasets[0].num_examples == stats_d.datasets[0].num_examples > 0
        assert stats_differences(stats_p, stats_d) == []

    assert [(a.split, a.feature, a.kind) for a in valid_p.anomalies] == [
        (a.split, a.feature, a.kind) for a in valid_d.anomalies
    ]
    assert [(d.feature, d.comparison) for d in valid_p.distances] == [
        (d.feature, d.comparison) for d in valid_d.distances
    ]
    for a, b in zip(valid_p.distances, valid_d.distances, strict=True):
        assert math.isclose(a.value, b.value, rel_tol=1e-6, abs_tol=1e-9)

    assert eval_p.metrics.keys() == eval_d.metrics.keys() and len(eval_d.metrics) > 1  # overall + slices
    for name, metrics in eval_d.metrics.items():
        assert eval_p.metrics[name].keys() == metrics.keys(), name
        for key, value in metrics.items():
            other = eval_p.metrics[name][key]
            if isinstance(value, float) and math.isnan(value):
                assert math.isnan(other), (name, key)
            else:
                assert other == pytest.approx(value, abs=1e-6), (name, key)
    assert eval_p.verdict["blessed"] == eval_d.verdict["blessed"]
