"""Serving rollout: the patch bodies (pure functions), and the requests the kubernetes client sends,
recorded by a local HTTP server standing in for the API server (no cluster can run here)."""

from __future__ import annotations

import pytest

from mlpipe.components.errors import UserInputError
from mlpipe.components.registry import LocalRegistry
from mlpipe.components.rollout import (
    SYNC_CONTAINER,
    VERSION_ANNOTATION,
    apply,
    deployment_patch,
    inferenceservice_patch,
    inferenceservice_rollback_patch,
    roll_out,
    rollback,
)
from mlpipe.components.serving import load_serving_names

NAMES = load_serving_names()
URI = "s3://models/adult_income/3"


def test_names_come_from_params_env():
    assert NAMES.namespace == "mlpipe-serving"
    assert NAMES.deployment == "adult-income-serving"
    assert NAMES.inference_service == "adult-income"
    assert NAMES.storage_uri == f"s3://{NAMES.registry_bucket}/{NAMES.model_name}"


def test_deployment_patch_pins_the_init_container_and_stamps_the_pods():
    body = deployment_patch(3, URI)
    template = body["spec"]["template"]
    assert template["metadata"]["annotations"] == {VERSION_ANNOTATION: "3", "mlpipe.io/model-uri": URI}
    (container,) = template["spec"]["initContainers"]
    assert container == {"name": SYNC_CONTAINER, "env": [{"name": "MODEL_VERSION", "value": "3"}]}
    assert SYNC_CONTAINER == "sync-model" and VERSION_ANNOTATION == "mlpipe.io/model-version"
    assert set(body) == {"spec"} and set(body["spec"]) == {"template"}  # nothing else is touched
    assert deployment_patch(3, URI) == body  # pure: same input, same body
    assert deployment_patch(4, URI) != body


def test_the_patched_init_container_and_env_exist_in_the_deployment_manifest(repo_root):
    """A strategic merge patch merges initContainers by `name`: the name and env var must be the manifest's."""
    import yaml

    manifest = yaml.safe_load((repo_root / "manifests" / "base" / "tf-serving-deployment.yaml").read_text())
    assert manifest["kind"] == "Deployment"
    init = {c["name"]: c for c in manifest["spec"]["template"]["spec"]["initContainers"]}
    assert SYNC_CONTAINER in init
    assert "MODEL_VERSION" in {e["name"] for e in init[SYNC_CONTAINER].get("env", [])}


def test_inferenceservice_patch_points_at_the_registry_and_rolls_a_revision():
    body = inferenceservice_patch(NAMES, 5, 0)
    assert body["metadata"]["annotations"] == {VERSION_ANNOTATION: "5"}
    predictor = body["spec"]["predictor"]
    assert predictor["model"] == {"storageUri": NAMES.storage_uri}
    assert predictor["annotations"] == {VERSION_ANNOTATION: "5"}
    assert predictor["canaryTrafficPercent"] is None  # merge patch: null removes a previous canary split


@pytest.mark.parametrize("percent", [1, 10, 100])
def test_inferenceservice_patch_sets_a_canary(percent):
    assert inferenceservice_patch(NAMES, 5, percent)["spec"]["predictor"]["canaryTrafficPercent"] == percent


@pytest.mark.parametrize("percent", [-1, 101, 250])
def test_a_bad_canary_percent_is_rejected(percent):
    with pytest.raises(UserInputError, match=f"canary_traffic_percent must be 0-100, got {percent}"):
        inferenceservice_patch(NAMES, 5, percent)


def test_the_rollback_patch_sends_all_traffic_to_the_previous_revision():
    assert inferenceservice_rollback_patch() == {"spec": {"predictor": {"canaryTrafficPercent": 0}}}


# --- what needs no server (the rest runs against a real API server: tests/cluster/test_rollout.py)


def test_target_none_sends_nothing_and_an_unknown_target_is_a_user_error(no_server):
    assert roll_out("none", NAMES, 3, URI, api=no_server) == {"target": "none"}
    with pytest.raises(UserInputError, match="unknown serving target 'argo'"):
        apply("argo", NAMES, {}, api=no_server)


def test_kserve_rollback_refuses_a_pinned_version_before_touching_anything(tmp_path, no_server):
    registry = LocalRegistry(tmp_path / "registry")
    for version in (1, 2):
        model = tmp_path / f"model-{version}"
        model.mkdir()
        (model / "saved_model.pb").write_text(f"graph-{version}")
        assert registry.publish(NAMES.model_name, model, {"blessed": True}) == version
    registry.set_serving(NAMES.model_name, 2)
    with pytest.raises(UserInputError, match="--to is for the deployment target"):
        rollback(registry, NAMES.model_name, "kserve", NAMES, to=1, api=no_server)
    assert registry.serving_version(NAMES.model_name) == 2
