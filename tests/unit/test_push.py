"""Push: only a model blessed by both evaluate and infra_validate reaches the registry and serving.

The model directory is SavedModel-shaped but fabricated: push copies files and never loads them,
and it must run without TensorFlow (the slim push image).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mlpipe.components.push.core import push, push_decision
from mlpipe.config.io import load_config
from mlpipe.registry.local import LocalRegistry
from mlpipe.serving.names import load_serving_names

NAMES = load_serving_names()
BLESSED = {
    "blessed": True,
    "reasons": [],
    "overall_auc": 0.91,
    "baseline": {"version": 2, "uri": "x"},
    "fairness_checks": [{"feature": "sex", "metric": "auc", "gap": 0.04, "max_gap": 0.06, "passed": True}],
}
NOT_BLESSED = {
    "blessed": False,
    "overall_auc": 0.84,
    "reasons": [
        "value: auc on slice overall is 0.8400, threshold >= 0.85",
        "fairness: auc gap across 'sex' slices is 0.0900 (sex:Male vs sex:Female), bound 0.0600",
    ],
}
INFRA_OK = {"blessed": True, "reasons": [], "latency": {"batch_1_p50_ms": 0.4}}
INFRA_BAD = {
    "blessed": False,
    "reasons": ["signatures disagree: max difference 1.00e-02 > 1e-06"],
    "latency": {},
}


@pytest.fixture(scope="module")
def config(adult):
    return load_config(adult.config, check_data=False)


@pytest.fixture
def model_dir(tmp_path):
    model = tmp_path / "model"
    (model / "saved_model" / "variables").mkdir(parents=True)
    (model / "saved_model" / "saved_model.pb").write_bytes(b"graph")
    (model / "saved_model" / "variables" / "variables.index").write_bytes(b"index")
    (model / "model_metadata.json").write_text(
        json.dumps(
            {
                "data_fingerprint": "c0ffee" * 10 + "abcd",
                "hyperparameters": {"units": 64},
                "metrics": {"eval_auc": 0.9},
            }
        )
    )
    return model


@pytest.fixture
def registry(tmp_path):
    return LocalRegistry(tmp_path / "registry")


def test_push_decision_lists_every_failed_gate():
    assert push_decision(BLESSED, INFRA_OK) == []
    assert push_decision(NOT_BLESSED, INFRA_BAD) == [
        "model not blessed: value: auc on slice overall is 0.8400, threshold >= 0.85",
        "model not blessed: fairness: auc gap across 'sex' slices is 0.0900 (sex:Male vs sex:Female), bound 0.0600",
        "infra validation failed: signatures disagree: max difference 1.00e-02 > 1e-06",
    ]
    assert push_decision({"blessed": False}, {}) == ["model not blessed", "infra validation failed"]


@pytest.mark.parametrize(
    ("blessing", "infra", "expected"),
    [
        (NOT_BLESSED, INFRA_OK, ["model not blessed: value: auc", "model not blessed: fairness: auc gap"]),
        (BLESSED, INFRA_BAD, ["infra validation failed: signatures disagree"]),
    ],
    ids=["evaluation", "infra"],
)
def test_an_unblessed_model_is_not_pushed_and_the_result_says_why(
    config, model_dir, registry, tmp_path, no_server, blessing, infra, expected
):
    result = push(
        config, model_dir, blessing, infra, registry, "deployment", NAMES, run_id="run-1", api=no_server
    )
    assert result == {"pushed": False, "version": None, "uri": None, "reasons": result["reasons"]}
    assert len(result["reasons"]) == len(expected)
    for reason, start in zip(result["reasons"], expected, strict=True):
        assert reason.startswith(start), reason
    assert registry.versions(config.model_name) == []
    assert not (tmp_path / "registry").exists()  # nothing at all was written
    assert registry.serving_version(config.model_name) is None


def test_a_blessed_model_is_published_and_the_serving_pointer_set(config, model_dir, registry):
    result = push(config, model_dir, BLESSED, INFRA_OK, registry, "none", NAMES, run_id="mlpipe-training-abc")
    assert result["pushed"] is True and result["reasons"] == []
    assert result["version"] == 1
    assert result["uri"] == registry.uri(config.model_name, 1)
    assert (registry.root / config.model_name / "1" / "1" / "saved_model.pb").read_bytes() == b"graph"
    assert (registry.root / config.model_name / "1" / "1" / "variables" / "variables.index").is_file()
    assert result["serving"] == {"target": "none"}
    assert registry.serving_version(config.model_name) == 1
    metadata = registry.metadata(config.model_name, 1)
    assert metadata["run_id"] == "mlpipe-training-abc"
    assert metadata["blessed"] is True and metadata["overall_auc"] == 0.91
    assert metadata["data_fingerprint"] == "c0ffee" * 10 + "abcd"
    assert metadata["training_metrics"] == {"eval_auc": 0.9} and metadata["hyperparameters"] == {"units": 64}
    assert metadata["baseline_version"] == 2
    assert metadata["infra_latency"] == {"batch_1_p50_ms": 0.4}
    assert metadata["fairness_checks"] == BLESSED["fairness_checks"]

    again = push(config, model_dir, BLESSED, INFRA_OK, registry, "none", NAMES)
    assert again["version"] == 2 and registry.serving_version(config.model_name) == 2


def test_push_does_not_import_tensorflow(repo_root):
    code = (
        "import sys, mlpipe.components.push.core, mlpipe.registry.access, mlpipe.serving.rollout, mlpipe.serving.names; "
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported'; "
        "assert 'keras' not in sys.modules, 'keras imported'; print('ok')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"


def _with_fingerprint(model_dir, fingerprint: str):
    path = model_dir / "model_metadata.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "training_fingerprint": fingerprint}))
    return model_dir


def test_a_rerun_or_retry_of_the_same_model_publishes_no_second_version(
    config, model_dir, registry, tmp_path
):
    stats = tmp_path / "stats" / "Split-train"
    stats.mkdir(parents=True)
    (stats / "FeatureStats.pb").write_bytes(b"stats")
    model = _with_fingerprint(model_dir, "f" * 64)
    first = push(
        config, model, BLESSED, INFRA_OK, registry, "none", NAMES, run_id="run-1", statistics_dir=stats.parent
    )
    assert first["version"] == 1 and first["reused"] is False
    # the statistics travel with the version, outside the folder serving reads
    assert (
        registry.attachment(config.model_name, 1, "statistics") / "Split-train" / "FeatureStats.pb"
    ).read_bytes() == b"stats"
    assert not (tmp_path / "registry" / config.model_name / "1" / "statistics").exists()

    rerun = push(config, model, BLESSED, INFRA_OK, registry, "none", NAMES, run_id="run-2")
    assert rerun["pushed"] and rerun["version"] == 1 and rerun["reused"] is True
    retry = push(
        config, _with_fingerprint(model_dir, ""), BLESSED, INFRA_OK, registry, "none", NAMES, run_id="run-1"
    )
    assert retry["version"] == 1 and retry["reused"] is True  # a retried step of the same run
    assert registry.versions(config.model_name) == [1] and registry.serving_version(config.model_name) == 1

    other = push(
        config,
        _with_fingerprint(model_dir, "e" * 64),
        BLESSED,
        INFRA_OK,
        registry,
        "none",
        NAMES,
        run_id="run-3",
    )
    assert other["version"] == 2 and other["reused"] is False
    assert registry.attachment(config.model_name, 2, "statistics") is None


def test_settings_serving_cannot_use_stop_the_push_before_anything_is_published(
    config, model_dir, registry, no_server
):
    from mlpipe.errors import UserInputError

    canary_on_deployment = config.model_copy(
        update={"serving": config.serving.model_copy(update={"canary_traffic_percent": 10})}
    )
    with pytest.raises(
        UserInputError, match="canary_traffic_percent is for the kserve target.*nothing was published"
    ):
        push(canary_on_deployment, model_dir, BLESSED, INFRA_OK, registry, "deployment", NAMES, api=no_server)
    assert registry.versions(config.model_name) == [] and not registry.root.exists()
