"""Infra validation: the trained model loads in a fresh process and answers canaries through both
signatures (with latencies); `check` judges fabricated probe results; a broken model is not blessed."""

from __future__ import annotations

import math
import shutil

import pytest

from mlpipe.components.infra_validate.core import AGREEMENT_TOLERANCE, canaries, check, infra_validate


def _probe_result(n: int = 4, default=None, raw=None, signatures=("serving_default", "serving_raw")) -> dict:
    """What probe.py writes, for `check`: outputs of both signatures on `n` canaries."""
    default = [0.1, 0.5, 0.9, 0.25][:n] if default is None else default
    raw = list(default) if raw is None else raw
    return {
        "signatures": list(signatures),
        "serving_default": {"output_key": "probabilities", "shape": [len(default)], "values": default},
        "serving_raw": {"output_key": "probabilities", "shape": [len(raw)], "values": raw},
        "latency": {},
        "load_seconds": 0.1,
    }


def test_a_good_model_is_blessed_with_latencies(trained_model, adult_examples):
    result = infra_validate(adult_examples.config, trained_model.model_dir, adult_examples.examples)
    assert result["blessed"] is True, result["reasons"]
    assert result["reasons"] == []
    assert result["canaries"] == 64
    latency = result["latency"]
    assert set(latency) == {"batch_1_p50_ms", "batch_1_p99_ms", "batch_64_p50_ms", "batch_64_p99_ms"}
    for batch in (1, 64):
        p50, p99 = latency[f"batch_{batch}_p50_ms"], latency[f"batch_{batch}_p99_ms"]
        assert 0 < p50 <= p99 < 60_000, latency
    assert result["load_seconds"] > 0


def test_canaries_are_eval_rows_with_every_feature(adult_examples):
    config = adult_examples.config
    requests = canaries(config, adult_examples.examples, count=16)
    assert len(requests["examples"]) == 16
    assert set(requests["raw"]) == set(config.feature_keys)
    assert all(len(values) == 16 for values in requests["raw"].values())
    assert all(isinstance(v, float) for v in requests["raw"]["age"])
    assert set(requests["raw"]["sex"]) <= {"Female", "Male"}
    assert all(bytes.fromhex(e) for e in requests["examples"])


def test_a_model_with_a_corrupted_graph_is_not_blessed(trained_model, adult_examples, tmp_path):
    broken = tmp_path / "model"
    shutil.copytree(trained_model.model_dir, broken)
    (broken / "saved_model" / "saved_model.pb").write_bytes(b"this is not a SavedModel protocol buffer")
    result = infra_validate(adult_examples.config, broken, adult_examples.examples)
    assert result["blessed"] is False
    assert len(result["reasons"]) == 1
    assert result["reasons"][0].startswith("model failed to load or serve in a fresh process: ")
    assert len(result["reasons"][0]) > len("model failed to load or serve in a fresh process: ") + 5
    assert result["latency"] == {}


def test_a_missing_model_is_not_blessed(adult_examples, tmp_path):
    result = infra_validate(adult_examples.config, tmp_path / "nothing-here", adult_examples.examples)
    assert result["blessed"] is False
    assert "failed to load or serve in a fresh process" in result["reasons"][0]


# --- check(): pure judgement of a probe result ------------------------------------------------


def test_check_accepts_agreeing_probabilities():
    assert check(_probe_result(), expected=4) == []
    tiny = [0.1 + AGREEMENT_TOLERANCE / 2, 0.5, 0.9, 0.25]
    assert check(_probe_result(raw=tiny), expected=4) == []
    assert check(_probe_result(default=[0.0, 1.0]), expected=2) == []  # bounds included


def test_check_rejects_a_wrong_shape():
    reasons = check(_probe_result(), expected=5)
    assert reasons == [
        "serving_default: output shape [4], expected [5]",
        "serving_raw: output shape [4], expected [5]",
    ]
    result = _probe_result()
    result["serving_raw"]["shape"] = [4, 1]
    assert check(result, expected=4) == ["serving_raw: output shape [4, 1], expected [4]"]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 1.5, -0.01])
def test_check_rejects_non_finite_or_out_of_range_outputs(bad):
    values = [0.1, bad, 0.9, 0.25]
    reasons = check(_probe_result(default=values, raw=values), expected=4)
    assert len(reasons) == 2
    for name, reason in zip(("serving_default", "serving_raw"), reasons, strict=True):
        assert reason.startswith(f"{name}: 1 outputs are not probabilities in [0, 1]"), reason
        assert str(bad) in reason


def test_check_rejects_disagreeing_signatures():
    reasons = check(_probe_result(raw=[0.1, 0.5, 0.9, 0.26]), expected=4)
    assert len(reasons) == 1
    assert reasons[0].startswith("signatures disagree: max difference 1.00e-02 > 1e-06")
    assert check(_probe_result(raw=[0.1, 0.5, 0.9, 0.25 + 10 * AGREEMENT_TOLERANCE]), expected=4)


def test_check_rejects_a_missing_signature():
    reasons = check(_probe_result(signatures=("serving_default",)), expected=4)
    assert reasons == ["signature serving_raw is missing"]
    assert check({"signatures": []}, expected=4) == [
        "signature serving_default is missing",
        "signature serving_raw is missing",
    ]
