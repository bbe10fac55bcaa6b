"""Serving rollout: the patch bodies (pure functions), and the requests the kubernetes client sends,
recorded by a local HTTP server standing in for the API server (no cluster can run here)."""

from __future__ import annotations

import pytest

from mlpipe.errors import UserInputError
from mlpipe.registry.local import LocalRegistry
from mlpipe.serving.names import load_serving_names
from mlpipe.serving.rollout import (
    SYNC_CONTAINER,
    TARGETS,
    VERSION_ANNOTATION,
    apply,
    deployment_patch,
    inferenceservice_patch,
    promote,
    promote_patch,
    roll_out,
)

NAMES = load_serving_names()
URI = "s3://models/adult_income/3/"


def test_names_come_from_params_env():
    assert NAMES.namespace == "mlpipe-serving"
    assert NAMES.deployment == "adult-income-serving"
    assert NAMES.inference_service == "adult-income"
    assert NAMES.storage_uri == f"s3://{NAMES.registry_bucket}/{NAMES.model_name}"
    assert NAMES.version_uri(12) == f"s3://{NAMES.registry_bucket}/{NAMES.model_name}/12/"


def test_deployment_patch_stamps_only_the_pod_template_annotations():
    body = deployment_patch(3, URI)
    assert body == {
        "spec": {
            "template": {"metadata": {"annotations": {VERSION_ANNOTATION: "3", "mlpipe.io/model-uri": URI}}}
        }
    }
    assert SYNC_CONTAINER == "sync-model" and VERSION_ANNOTATION == "mlpipe.io/model-version"
    assert deployment_patch(3, URI) == body  # pure: same input, same body
    assert deployment_patch(4, URI) != body


def test_the_manifest_init_container_reads_the_version_from_the_annotation(repo_root):
    """The manifest sets no version: the init container takes it from the annotation the pusher owns."""
    import yaml

    manifest = yaml.safe_load(
        (repo_root / "manifests" / "serving" / "deployment" / "tf-serving-deployment.yaml").read_text()
    )
    assert manifest["kind"] == "Deployment"
    template = manifest["spec"]["template"]
    assert VERSION_ANNOTATION not in (template["metadata"].get("annotations") or {})
    init = {c["name"]: c for c in template["spec"]["initContainers"]}
    env = {e["name"]: e for e in init[SYNC_CONTAINER]["env"]}
    assert (
        env["MODEL_VERSION"]["valueFrom"]["fieldRef"]["fieldPath"]
        == f"metadata.annotations['{VERSION_ANNOTATION}']"
    )
    assert "registry/$(REGISTRY_BUCKET)/$(MODEL_NAME)/$(MODEL_VERSION)/" in init[SYNC_CONTAINER]["args"]


def test_inferenceservice_patch_points_at_the_registry_and_rolls_a_revision():
    body = inferenceservice_patch(NAMES, 5, 0)
    assert body["metadata"]["annotations"] == {VERSION_ANNOTATION: "5"}
    predictor = body["spec"]["predictor"]
    assert predictor["model"] == {"storageUri": NAMES.version_uri(5)}  # one version, never the prefix
    assert predictor["annotations"] == {VERSION_ANNOTATION: "5"}
    assert predictor["canaryTrafficPercent"] is None  # merge patch: null removes a previous canary split


@pytest.mark.parametrize("percent", [1, 10, 100])
def test_inferenceservice_patch_sets_a_canary(percent):
    assert inferenceservice_patch(NAMES, 5, percent)["spec"]["predictor"]["canaryTrafficPercent"] == percent


@pytest.mark.parametrize("percent", [-1, 101, 250])
def test_a_bad_canary_percent_is_rejected(percent):
    with pytest.raises(UserInputError, match=f"canary_traffic_percent must be 0-100, got {percent}"):
        inferenceservice_patch(NAMES, 5, percent)


def test_the_promote_patch_sends_all_traffic_to_the_canary():
    assert promote_patch() == {"spec": {"predictor": {"canaryTrafficPercent": 100}}}


# --- what needs no server (the rest runs against a real API server: tests/cluster/test_rollout.py)


def test_target_none_sends_nothing_and_an_unknown_target_is_a_user_error(no_server):
    assert roll_out("none", NAMES, 3, URI, api=no_server) == {"target": "none"}
    with pytest.raises(UserInputError, match="unknown serving target 'argo'"):
        apply("argo", NAMES, {}, api=no_server)


def test_promote_is_for_kserve_and_needs_a_rolled_out_version(tmp_path, no_server):
    registry = LocalRegistry(tmp_path / "registry")
    with pytest.raises(UserInputError, match="the 'deployment' target has no canary"):
        promote(registry, NAMES.model_name, "deployment", NAMES, api=no_server)
    with pytest.raises(UserInputError, match="nothing to promote"):
        promote(registry, NAMES.model_name, "kserve", NAMES, api=no_server)


def test_the_shadow_is_named_after_the_primary_and_is_a_target():
    from mlpipe.serving.shadow import shadow_name

    assert shadow_name(NAMES) == f"{NAMES.inference_service}-shadow"
    assert "shadow" in TARGETS


def test_cli_promote_on_the_deployment_target_is_a_one_line_user_error(repo_root, tmp_path, capsys):
    from mlpipe.cli.main import main

    config = str(repo_root / "configs" / "adult.yaml")
    assert (
        main(["promote", "--config", config, "--registry", str(tmp_path / "r"), "--target", "deployment"])
        == 2
    )
    assert (
        capsys.readouterr().err
        == "error: promote moves a KServe canary to 100 %; the 'deployment' target has no canary\n"
    )
