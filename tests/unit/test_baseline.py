"""The evaluation baseline is the version serving now; the newest blessed one only when nothing
serves; the model card says which."""

from __future__ import annotations

import types

import pytest

from mlpipe.components.evaluate.core import baseline_metadata, find_baseline
from mlpipe.components.evaluate.report import _baseline_line
from mlpipe.registry.local import LocalRegistry

MODEL = "adult_income"


@pytest.fixture
def registry(tmp_path):
    registry = LocalRegistry(tmp_path / "registry")
    for i, blessed in enumerate([True, True, False], start=1):  # 1, 2 blessed; 3 not
        model = tmp_path / f"m{i}"
        model.mkdir()
        (model / "saved_model.pb").write_text(f"graph-{i}")
        assert registry.publish(MODEL, model, {"blessed": blessed}) == i
    return registry


def test_nothing_serves_so_the_newest_blessed_is_the_baseline(registry):
    baseline = baseline_metadata(registry, MODEL)
    assert (baseline["version"], baseline["baseline_source"]) == (2, "latest blessed")


def test_the_served_version_is_the_baseline_even_when_a_newer_one_is_blessed(registry):
    registry.set_serving(MODEL, 1)  # e.g. rolled back from 2
    baseline = baseline_metadata(registry, MODEL)
    assert (baseline["version"], baseline["baseline_source"]) == (1, "served")


def test_find_baseline_copies_the_served_version(registry):
    registry.set_serving(MODEL, 1)
    config = types.SimpleNamespace(model_name=MODEL, registry=types.SimpleNamespace(uri=str(registry.root)))
    baseline, folder = find_baseline(config, {})
    assert baseline["version"] == 1 and (folder / "saved_model.pb").read_text() == "graph-1"


def test_a_first_model_has_no_baseline(tmp_path):
    assert baseline_metadata(LocalRegistry(tmp_path / "empty"), MODEL) is None


@pytest.mark.parametrize(
    "baseline, line",
    [
        (None, "none (first model: absolute thresholds only)"),
        ({"version": 4, "baseline_source": "served"}, "version 4 (the version serving now)"),
        (
            {"version": 2, "baseline_source": "latest blessed"},
            "version 2 (the newest blessed version; nothing serves)",
        ),
        (
            {"version": 3, "baseline_source": "served", "metrics": "stored"},
            "version 3 (the version serving now; its metrics reused from its registry record: "
            "same eval data and eval config)",
        ),
    ],
)
def test_the_model_card_says_which_baseline(baseline, line):
    assert _baseline_line(baseline) == line
