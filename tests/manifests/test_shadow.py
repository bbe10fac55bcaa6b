"""The shadow overlay (overlays/kubeflow-shadow): a shadow InferenceService serving the primary's
model, and an Istio VirtualService that mirrors the primary predictor's traffic to it."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from mlpipe.serving.names import load_serving_names, parse_params_env
from mlpipe.serving.shadow import shadow_name

from .objects import KUBEFLOW_PARAMS_ENV, MANIFESTS, SHADOW_PARAMS_ENV, find, kustomize, one


def predictor_host(name: str, namespace: str) -> str:
    """KServe's Service in front of an InferenceService's predictor: `<isvc>-predictor`."""
    return f"{name}-predictor.{namespace}.svc.cluster.local"


def isvcs(objects: list[dict]) -> dict[str, dict]:
    return {i["metadata"]["name"]: i for i in find(objects, "InferenceService")}


def assert_mirrors(objects: list[dict], primary: str, shadow: str, namespace: str) -> None:
    service = one(objects, "VirtualService")
    assert service["apiVersion"] == "networking.istio.io/v1"
    assert service["metadata"]["namespace"] == namespace
    spec = service["spec"]
    assert spec["hosts"] == [predictor_host(primary, namespace)] and spec["gateways"] == ["mesh"]
    (route,) = spec["http"]
    assert route["route"] == [{"destination": {"host": predictor_host(primary, namespace)}, "weight": 100}]
    assert route["mirror"] == {"host": predictor_host(shadow, namespace), "port": {"number": 80}}
    assert route["mirrorPercentage"] == {"value": 100}


def test_the_virtual_service_routes_to_the_primary_and_mirrors_to_the_shadow(rendered):
    names = load_serving_names(overrides=SHADOW_PARAMS_ENV)
    objects = rendered["kubeflow-shadow"]
    assert sorted(isvcs(objects)) == sorted([names.inference_service, shadow_name(names)])
    assert_mirrors(objects, names.inference_service, shadow_name(names), names.namespace)


def test_the_shadow_serves_the_primary_model_read_only_and_logs(rendered):
    names = load_serving_names(overrides=SHADOW_PARAMS_ENV)
    found = isvcs(rendered["kubeflow-shadow"])
    primary, shadow = found[names.inference_service], found[shadow_name(names)]
    # the primary is the kubeflow overlay's, unchanged
    assert primary == one(rendered["kubeflow"], "InferenceService")
    predictor = dict(shadow["spec"]["predictor"])
    assert predictor.pop("logger") == {"mode": "all"}  # KServe's logger records its answers
    assert predictor == primary["spec"]["predictor"]  # same model, runtime, limits, read-only account
    assert shadow["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "RawDeployment"
    # the pusher owns the version: no manifest pins one, so a re-apply never moves the shadow
    assert "storageUri" not in predictor["model"]
    assert "mlpipe.io/model-version" not in (shadow["metadata"].get("annotations") or {})


def test_the_shadow_overlay_merges_the_kubeflow_params():
    assert parse_params_env(SHADOW_PARAMS_ENV) == parse_params_env(KUBEFLOW_PARAMS_ENV)


def _renamed(tree: Path, pipeline_namespace: str) -> None:
    objects = kustomize(tree / "overlays" / "kubeflow-shadow")
    serving = [o for o in objects if o["kind"] in ("InferenceService", "VirtualService", "Role")]
    text = yaml.safe_dump_all(serving).replace("isvc-x", "")
    for old in ("mlpipe-serving", "adult-income", "isvc-"):
        assert old not in text, f"{old!r} survived a params.env change"
    assert sorted(isvcs(objects)) == ["isvc-x", "isvc-x-shadow"]
    assert_mirrors(objects, "isvc-x", "isvc-x-shadow", "ns-x")
    role = one(objects, "Role", {"app.kubernetes.io/component": "pusher"})
    assert role["metadata"]["namespace"] == "ns-x"
    assert [r["resourceNames"] for r in role["rules"]] == [["isvc-x", "isvc-x-shadow"], ["serving-params"]]
    binding = one(objects, "RoleBinding", {"app.kubernetes.io/component": "pusher"})
    assert binding["subjects"][0]["namespace"] == pipeline_namespace


def test_editing_params_env_renames_the_shadow_and_its_hosts(tmp_path: Path):
    tree = tmp_path / "manifests"
    shutil.copytree(MANIFESTS, tree)
    params = tree / "base" / "params.env"
    changed = {"SERVING_NAMESPACE": "ns-x", "INFERENCE_SERVICE": "isvc-x"}
    lines = [
        f"{line.partition('=')[0]}={changed[line.partition('=')[0]]}"
        if line.partition("=")[0] in changed
        else line
        for line in params.read_text().splitlines()
    ]
    params.write_text("\n".join(lines).replace("mlpipe-serving", "ns-x") + "\n")
    _renamed(tree, parse_params_env(SHADOW_PARAMS_ENV)["PIPELINE_NAMESPACE"])
    # and through the overlay's own params.env
    shutil.rmtree(tree)
    shutil.copytree(MANIFESTS, tree)
    overlay = tree / "overlays" / "kubeflow-shadow" / "params.env"
    overlay.write_text(
        "SERVING_NAMESPACE=ns-x\nINFERENCE_SERVICE=isvc-x\nPIPELINE_NAMESPACE=pipelines-x\n"
        "REGISTRY_ENDPOINT=minio.ns-x.svc.cluster.local:9000\n"
    )
    _renamed(tree, "pipelines-x")
