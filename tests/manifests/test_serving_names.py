"""The serving names in the manifests equal the ones the push stage uses (mlpipe/serving/names.py)."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest
import yaml

from mlpipe.serving.names import (
    ACCESS_KEY_ID_KEY,
    SECRET_ACCESS_KEY_KEY,
    ServingNames,
    load_serving_names,
    parse_params_env,
)
from mlpipe.serving.rollout import VERSION_ANNOTATION

from .objects import KUBEFLOW_PARAMS_ENV, MANIFESTS, PARAMS_ENV, ROOT, find, kustomize, one, pod_specs, ref


def secret_refs(obj: dict) -> list[tuple[str, str]]:
    refs = []
    for pod in pod_specs(obj):
        for container in list(pod.get("initContainers") or []) + list(pod.get("containers") or []):
            for env in container.get("env") or []:
                secret = (env.get("valueFrom") or {}).get("secretKeyRef")
                if secret:
                    refs.append((secret["name"], secret["key"]))
            for source in container.get("envFrom") or []:
                if "secretRef" in source:
                    refs.append((source["secretRef"]["name"], "*"))
    return refs


def test_default_params_file():
    names = load_serving_names()
    assert names == ServingNames(
        namespace="mlpipe-serving",
        deployment="adult-income-serving",
        service="adult-income-serving",
        model_name="adult_income",
        inference_service="adult-income",
        registry_bucket="models",
        registry_endpoint="minio.mlpipe-serving.svc.cluster.local:9000",
        registry_secure=False,
        credentials_secret="mlpipe-minio-credentials",
        pipeline_credentials_secret="mlpipe-registry-pipeline",
        serving_credentials_secret="mlpipe-registry-serving",
        pusher_service_account="mlpipe-pusher",
        pusher_token_secret="mlpipe-pusher-token",
        pipeline_namespace="kubeflow",
    )
    assert names.storage_uri == "s3://models/adult_income"
    assert load_serving_names(PARAMS_ENV) == names


def test_kubeflow_overrides_merge():
    names = load_serving_names(overrides=KUBEFLOW_PARAMS_ENV)
    assert names.pipeline_namespace == "kubeflow-user-example-com"
    assert names.namespace == load_serving_names().namespace


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("MODEL_NAME=", "missing serving param MODEL_NAME"),
        ("REGISTRY_SECURE=maybe", "REGISTRY_SECURE must be true or false"),
        ("REGISTRY_SCHEME=https", "contradicts REGISTRY_SECURE"),
        ("REGISTRY_ENDPOINT=http://minio:9000", "without a scheme"),
        ("not a pair", "expected KEY=value"),
    ],
)
def test_bad_params_name_the_problem(tmp_path: Path, change: str, message: str):
    override = tmp_path / "params.env"
    override.write_text(change + "\n")
    with pytest.raises(ValueError, match=message):
        load_serving_names(overrides=override)


def test_missing_file(tmp_path: Path):
    with pytest.raises(ValueError, match="cannot read serving params"):
        load_serving_names(tmp_path / "absent.env")


@pytest.mark.parametrize("name", ["kind", "kubeflow"])
def test_configmap_is_the_params_file(rendered, name):
    overrides = KUBEFLOW_PARAMS_ENV if name == "kubeflow" else None
    expected = parse_params_env(PARAMS_ENV) | (parse_params_env(overrides) if overrides else {})
    names = load_serving_names(overrides=overrides)
    (configmap,) = [c for c in find(rendered[name], "ConfigMap") if c["metadata"]["name"] == "serving-params"]
    assert configmap["metadata"]["name"] == "serving-params"
    assert configmap["metadata"]["namespace"] == names.namespace
    assert configmap["data"] == expected


@pytest.mark.parametrize("name", ["kind", "kubeflow", "kind-blue-green"])
def test_shared_names(rendered, name):
    objects = rendered[name]
    names = load_serving_names(overrides=KUBEFLOW_PARAMS_ENV if name == "kubeflow" else None)
    assert one(objects, "Namespace")["metadata"]["name"] == names.namespace
    for obj in objects:
        if obj["kind"] == "Namespace":
            continue
        scope = obj["metadata"]["labels"].get("mlpipe.io/scope")
        expected = names.pipeline_namespace if scope == "pipeline" else names.namespace
        assert obj["metadata"].get("namespace") == expected, f"{ref(obj)} is not in {expected}"

    account = one(objects, "ServiceAccount", {"app.kubernetes.io/component": "pusher"})
    assert account["metadata"]["name"] == names.pusher_service_account

    host, _, port = names.registry_endpoint.partition(":")
    minio = one(objects, "Service", {"app.kubernetes.io/name": "minio"})
    assert host == f"{minio['metadata']['name']}.{names.namespace}.svc.cluster.local"
    assert int(port) in [p["port"] for p in minio["spec"]["ports"]]

    # least privilege: MinIO's root key reaches MinIO and its setup Job alone; serving reads with
    # the read-only key; the setup Job creates the pipeline's and serving's users
    root, pipeline, serving = (
        names.credentials_secret,
        names.pipeline_credentials_secret,
        names.serving_credentials_secret,
    )
    expected = {"registry": {root}, "registry-setup": {root, pipeline, serving}, "serving": {serving}}
    for obj in objects:
        refs = secret_refs(obj)
        for _, key in refs:
            assert key in (ACCESS_KEY_ID_KEY, SECRET_ACCESS_KEY_KEY, "*"), ref(obj)
        if refs:
            component = obj["metadata"]["labels"]["app.kubernetes.io/component"]
            assert {name for name, _ in refs} == expected[component], ref(obj)
    storage = find(objects, "ServiceAccount", {"app.kubernetes.io/component": "model-storage"})
    assert [a["secrets"] for a in storage] == ([[{"name": serving}]] if name == "kubeflow" else [])


def test_plain_serving_names(rendered):
    names = load_serving_names()
    objects = rendered["kind"]
    deployment = one(objects, "Deployment", {"app.kubernetes.io/component": "serving"})
    service = one(objects, "Service", {"app.kubernetes.io/component": "serving"})
    assert deployment["metadata"]["name"] == names.deployment
    assert service["metadata"]["name"] == names.service
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    pod = deployment["spec"]["template"]["spec"]
    (server,) = pod["containers"]
    assert server["readinessProbe"]["httpGet"]["path"] == f"/v1/models/{names.model_name}"
    assert {p["containerPort"] for p in server["ports"]} == {8500, 8501}
    env = {e["name"]: e["valueFrom"]["configMapKeyRef"] for e in server["env"]}
    assert env["MODEL_NAME"] == {"name": "serving-params", "key": "MODEL_NAME"}
    assert "--model_name=$(MODEL_NAME)" in server["args"]
    (sync,) = pod["initContainers"]
    assert "registry/$(REGISTRY_BUCKET)/$(MODEL_NAME)/$(MODEL_VERSION)/" in sync["args"]
    assert "/models/$(MODEL_NAME)/" in sync["args"]  # the serving prefix <N>/ holds the folder <N>/
    # no version in the manifest: the pusher owns the annotation the init container reads
    version = next(e for e in sync["env"] if e["name"] == "MODEL_VERSION")
    assert version["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.annotations['mlpipe.io/model-version']"
    assert "mlpipe.io/model-version" not in (
        deployment["spec"]["template"]["metadata"].get("annotations") or {}
    )
    assert pod["volumes"][0]["name"] in {m["name"] for m in sync["volumeMounts"]} & {
        m["name"] for m in server["volumeMounts"]
    }
    credentials = {
        names.namespace: {
            names.credentials_secret,
            names.pipeline_credentials_secret,
            names.serving_credentials_secret,
        },
        names.pipeline_namespace: {names.pipeline_credentials_secret},  # never MinIO's root key
    }
    for namespace, expected in credentials.items():
        secret = [
            s
            for s in find(objects, "Secret", {"app.kubernetes.io/component": "credentials"})
            if s["metadata"]["namespace"] == namespace
        ]
        assert {s["metadata"]["name"] for s in secret} == expected, namespace
        assert all(set(s["data"]) == {ACCESS_KEY_ID_KEY, SECRET_ACCESS_KEY_KEY} for s in secret)


def test_inference_service_names(rendered):
    names = load_serving_names(overrides=KUBEFLOW_PARAMS_ENV)
    objects = rendered["kubeflow"]
    assert not find(objects, "Deployment", {"app.kubernetes.io/component": "serving"})
    isvc = one(objects, "InferenceService")
    assert isvc["metadata"]["name"] == names.inference_service
    predictor = isvc["spec"]["predictor"]
    assert predictor["model"]["modelFormat"]["name"] == "tensorflow"
    # the pusher owns these (push, promote, rollback): a re-apply must never reset them
    assert "storageUri" not in predictor["model"] and "canaryTrafficPercent" not in predictor
    assert "mlpipe.io/model-version" not in (predictor.get("annotations") or {})
    assert "mlpipe.io/model-version" not in (isvc["metadata"].get("annotations") or {})
    storage_account = one(objects, "ServiceAccount", {"app.kubernetes.io/component": "model-storage"})
    assert predictor["serviceAccountName"] == storage_account["metadata"]["name"]
    assert storage_account["secrets"] == [{"name": names.serving_credentials_secret}]


NEW_PARAMS = {
    "SERVING_NAMESPACE": "ns-x",
    "SERVING_DEPLOYMENT": "deploy-x",
    "SERVING_SERVICE": "svc-x",
    "MODEL_NAME": "model_x",
    "INFERENCE_SERVICE": "isvc-x",
    "REGISTRY_BUCKET": "bucket-x",
    "REGISTRY_ENDPOINT": "minio.ns-x.svc.cluster.local:9000",
    "CREDENTIALS_SECRET": "secret-x",
    "PIPELINE_CREDENTIALS_SECRET": "pipeline-secret-x",
    "SERVING_CREDENTIALS_SECRET": "serving-secret-x",
    "PUSHER_SERVICE_ACCOUNT": "pusher-x",
    "PUSHER_TOKEN_SECRET": "token-x",
    "PIPELINE_NAMESPACE": "pipelines-x",
}


def assert_renamed(objects: list[dict], overlay: str, pipeline_namespace: str) -> None:
    text = yaml.safe_dump_all(objects)
    for old in (
        "mlpipe-serving",
        "adult-income",
        "adult_income",
        "mlpipe-minio-credentials",
        "mlpipe-registry-",
    ):
        assert old not in text, f"{overlay}: {old!r} survived a params.env change"
    assert one(objects, "Namespace")["metadata"]["name"] == "ns-x"
    account = one(objects, "ServiceAccount", {"app.kubernetes.io/component": "pusher"})
    assert (account["metadata"]["name"], account["metadata"]["namespace"]) == ("pusher-x", pipeline_namespace)
    for binding in find(objects, "RoleBinding", {"app.kubernetes.io/component": "pusher"}):
        assert binding["subjects"][0]["name"] == "pusher-x", ref(binding)
    trainer = one(objects, "RoleBinding", {"app.kubernetes.io/component": "trainer"})
    assert trainer["metadata"]["namespace"] == trainer["subjects"][0]["namespace"] == pipeline_namespace
    assert one(objects, "Role", {"app.kubernetes.io/component": "trainer"})["metadata"]["namespace"] == (
        pipeline_namespace
    )
    role = one(objects, "Role", {"app.kubernetes.io/component": "pusher"})
    if overlay == "kind-blue-green":
        assert [r.get("resourceNames") for r in role["rules"]] == [
            ["deploy-x-blue", "deploy-x-green"],
            ["svc-x"],
            ["serving-params"],
            None,  # pods: read, for the rollout's error (any pod of the namespace)
        ]
        deployments = find(objects, "Deployment", {"app.kubernetes.io/component": "serving"})
        assert sorted(d["metadata"]["name"] for d in deployments) == ["deploy-x-blue", "deploy-x-green"]
        return
    assert role["rules"][0]["resourceNames"] == ["isvc-x" if overlay == "kubeflow" else "deploy-x"]
    if overlay == "kubeflow":
        isvc = one(objects, "InferenceService")
        assert isvc["metadata"]["name"] == "isvc-x"
        assert "storageUri" not in isvc["spec"]["predictor"]["model"]  # set by the pusher, from params.env
        policy = one(objects, "NetworkPolicy")
        (rule,) = policy["spec"]["ingress"]
        assert rule["from"][0]["namespaceSelector"]["matchExpressions"][0]["values"] == [
            pipeline_namespace,
            "ns-x",
        ]
    else:
        deployment = one(objects, "Deployment", {"app.kubernetes.io/component": "serving"})
        assert deployment["metadata"]["name"] == "deploy-x"
        assert (
            one(objects, "Service", {"app.kubernetes.io/component": "serving"})["metadata"]["name"] == "svc-x"
        )
        probe = deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
        assert probe["httpGet"]["path"] == "/v1/models/model_x"
        for secret in find(objects, "Secret", {"app.kubernetes.io/component": "credentials"}):
            which = secret["metadata"]["labels"]["mlpipe.io/credentials"]
            expected = {"root": "secret-x", "pipeline": "pipeline-secret-x", "serving": "serving-secret-x"}
            assert secret["metadata"]["name"] == expected[which]
    token = one(objects, "Secret", {"app.kubernetes.io/component": "pusher"})
    assert (token["metadata"]["name"], token["metadata"]["namespace"]) == ("token-x", pipeline_namespace)
    assert token["metadata"]["annotations"]["kubernetes.io/service-account.name"] == "pusher-x"


def test_editing_params_env_renames_everything(tmp_path: Path):
    """One edit of base/params.env moves every name in both overlays."""
    tree = tmp_path / "manifests"
    shutil.copytree(MANIFESTS, tree)
    params = tree / "base" / "params.env"
    lines = []
    for line in params.read_text().splitlines():
        key = line.partition("=")[0]
        lines.append(f"{key}={NEW_PARAMS[key]}" if key in NEW_PARAMS else line)
    params.write_text("\n".join(lines) + "\n")
    assert_renamed(kustomize(tree / "overlays" / "kind"), "kind", "pipelines-x")
    assert_renamed(kustomize(tree / "overlays" / "kind-blue-green"), "kind-blue-green", "pipelines-x")
    kubeflow_pipelines = parse_params_env(KUBEFLOW_PARAMS_ENV)["PIPELINE_NAMESPACE"]
    assert_renamed(kustomize(tree / "overlays" / "kubeflow"), "kubeflow", kubeflow_pipelines)


def test_overlay_params_env_overrides_everything(tmp_path: Path):
    """An overlay's params.env reaches every object too (kustomize replacements rerun after the merge)."""
    tree = tmp_path / "manifests"
    shutil.copytree(MANIFESTS, tree)
    overrides = tree / "overlays" / "kubeflow" / "params.env"
    overrides.write_text("".join(f"{k}={v}\n" for k, v in NEW_PARAMS.items()))
    assert_renamed(kustomize(tree / "overlays" / "kubeflow"), "kubeflow", "pipelines-x")


def test_predict_request_is_one_adult_row():
    """The sample request: signature serving_raw, one Adult row with normalized feature names."""
    body = json.loads((MANIFESTS / "samples" / "predict_request.json").read_text())
    assert body["signature_name"] == "serving_raw"
    (row,) = body["instances"]
    config = yaml.safe_load((ROOT / "configs" / "adult.yaml").read_text())

    def normalize(column: str) -> str:
        return column.strip().lower().replace("-", "_")

    numeric = {normalize(c) for c in config["features"]["numeric"]}
    categorical = {normalize(c) for c in config["features"]["categorical"]}
    assert set(row) == numeric | categorical
    assert all(isinstance(row[name], float) for name in numeric)
    assert all(isinstance(row[name], str) for name in categorical)

    with gzip.open(ROOT / "data" / "adult" / "adult.data.csv.gz", "rt") as lines:
        header = [normalize(c) for c in next(lines).split(",")]
        first = dict(zip(header, (v.strip() for v in next(lines).split(",")), strict=True))
    for name, value in row.items():
        assert (float(first[name]) if name in numeric else first[name]) == value, name


def test_blue_green_has_two_colours_and_a_service_the_pusher_points(rendered):
    names = load_serving_names()
    objects = rendered["kind-blue-green"]
    deployments = {
        d["metadata"]["labels"]["mlpipe.io/colour"]: d
        for d in find(objects, "Deployment", {"app.kubernetes.io/component": "serving"})
    }
    assert set(deployments) == {"blue", "green"}
    for colour, deployment in deployments.items():
        assert deployment["metadata"]["name"] == f"{names.deployment}-{colour}"
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector["mlpipe.io/colour"] == colour  # each colour owns its own pods
        assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
        assert VERSION_ANNOTATION not in (deployment["spec"]["template"]["metadata"].get("annotations") or {})
    service = one(objects, "Service", {"app.kubernetes.io/component": "serving"})
    assert service["metadata"]["name"] == names.service
    assert "selector" not in service["spec"]  # the pusher writes it whole: a re-apply never switches
