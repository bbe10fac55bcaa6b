"""Serving rollout: the patch bodies (pure functions), and the requests the kubernetes client sends,
recorded by a local HTTP server standing in for the API server (no cluster can run here)."""

from __future__ import annotations

import dataclasses

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


# --- requests through the kubernetes client -------------------------------------------------------


DEPLOYMENT_PATH = f"/apis/apps/v1/namespaces/{NAMES.namespace}/deployments/{NAMES.deployment}"
ISVC_PATH = f"/apis/serving.kserve.io/v1beta1/namespaces/{NAMES.namespace}/inferenceservices/{NAMES.inference_service}"


def test_a_deployment_rollout_sends_a_strategic_merge_patch(k8s_server):
    result = roll_out("deployment", NAMES, 3, URI, api=k8s_server.api)
    (request,) = k8s_server.requests
    assert request["method"] == "PATCH"
    assert request["path"] == DEPLOYMENT_PATH
    assert request["headers"]["content-type"] == "application/strategic-merge-patch+json"
    assert request["body"] == deployment_patch(3, URI)
    assert result == {
        "target": "deployment",
        "version": 3,
        "kind": "Deployment",
        "name": NAMES.deployment,
        "generation": 7,
    }


def test_a_kserve_rollout_sends_a_merge_patch(k8s_server):
    result = roll_out("kserve", NAMES, 4, URI, canary_percent=20, api=k8s_server.api)
    (request,) = k8s_server.requests
    assert request["method"] == "PATCH"
    assert request["path"] == ISVC_PATH
    assert request["headers"]["content-type"] == "application/merge-patch+json"
    assert request["body"] == inferenceservice_patch(NAMES, 4, 20)
    assert request["body"]["spec"]["predictor"]["canaryTrafficPercent"] == 20
    assert result == {
        "target": "kserve",
        "version": 4,
        "kind": "InferenceService",
        "name": NAMES.inference_service,
    }


def test_a_full_kserve_rollout_sends_null_to_clear_the_canary(k8s_server):
    roll_out("kserve", NAMES, 4, URI, canary_percent=0, api=k8s_server.api)
    (request,) = k8s_server.requests
    assert request["body"]["spec"]["predictor"]["canaryTrafficPercent"] is None
    assert "canaryTrafficPercent" in request["body"]["spec"]["predictor"]


def test_a_kserve_rollback_is_sent_as_a_merge_patch(k8s_server):
    result = apply("kserve", NAMES, inferenceservice_rollback_patch(), api=k8s_server.api)
    (request,) = k8s_server.requests
    assert (request["method"], request["path"]) == ("PATCH", ISVC_PATH)
    assert request["headers"]["content-type"] == "application/merge-patch+json"
    assert request["body"] == {"spec": {"predictor": {"canaryTrafficPercent": 0}}}
    assert result == {"kind": "InferenceService", "name": NAMES.inference_service}


def test_target_none_sends_nothing_and_an_unknown_target_is_a_user_error(k8s_server):
    assert roll_out("none", NAMES, 3, URI, api=k8s_server.api) == {"target": "none"}
    with pytest.raises(UserInputError, match="unknown serving target 'argo'"):
        apply("argo", NAMES, {}, api=k8s_server.api)
    assert k8s_server.requests == []


def test_an_error_from_the_api_server_is_raised(k8s_server):
    from kubernetes.client.rest import ApiException

    missing = dataclasses.replace(NAMES, namespace="missing")
    with pytest.raises(ApiException) as error:
        apply("deployment", missing, deployment_patch(1, URI), api=k8s_server.api)
    assert error.value.status == 404
    assert (
        k8s_server.requests[-1]["path"] == f"/apis/apps/v1/namespaces/missing/deployments/{NAMES.deployment}"
    )


def _registry_serving_two_versions(tmp_path) -> LocalRegistry:
    registry = LocalRegistry(tmp_path / "registry")
    for version in (1, 2):
        model = tmp_path / f"model-{version}"
        model.mkdir()
        (model / "saved_model.pb").write_text(f"graph-{version}")
        assert registry.publish(NAMES.model_name, model, {"blessed": True}) == version
    registry.set_serving(NAMES.model_name, 2)
    return registry


def test_rollback_pins_the_previous_version_on_the_deployment(k8s_server, tmp_path):
    registry = _registry_serving_two_versions(tmp_path)
    result = rollback(registry, NAMES.model_name, "deployment", NAMES, api=k8s_server.api)
    assert (result["version"], result["previous"]) == (1, 2)
    (request,) = k8s_server.requests
    assert request["path"] == DEPLOYMENT_PATH
    assert request["body"] == deployment_patch(1, registry.uri(NAMES.model_name, 1))
    assert registry.serving_version(NAMES.model_name) == 1
    with pytest.raises(UserInputError, match="nothing to roll back to"):
        rollback(registry, NAMES.model_name, "deployment", NAMES, api=k8s_server.api)


def test_kserve_rollback_sends_traffic_back_and_refuses_a_pinned_version(k8s_server, tmp_path):
    registry = _registry_serving_two_versions(tmp_path)
    with pytest.raises(UserInputError, match="--to is for the deployment target"):
        rollback(registry, NAMES.model_name, "kserve", NAMES, to=1, api=k8s_server.api)
    assert k8s_server.requests == [] and registry.serving_version(NAMES.model_name) == 2
    rollback(registry, NAMES.model_name, "kserve", NAMES, api=k8s_server.api)
    (request,) = k8s_server.requests
    assert request["body"] == inferenceservice_rollback_patch()
    assert registry.serving_version(NAMES.model_name) == 1
