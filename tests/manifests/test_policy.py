"""Policy over the rendered objects: pod security, resources, pinned images, RBAC, secrets."""

from __future__ import annotations

import re

import pytest

from mlpipe.serving.names import load_serving_names

from .objects import (
    KUBEFLOW_PARAMS_ENV,
    MANIFESTS,
    PARAMS_ENV,
    SHADOW_PARAMS_ENV,
    containers,
    find,
    one,
    pod_specs,
    ref,
    workloads,
)

OVERLAY_PARAMS = {
    "base": None,
    "kind": None,
    "kubeflow": KUBEFLOW_PARAMS_ENV,
    "kind-blue-green": None,
    "kubeflow-shadow": SHADOW_PARAMS_ENV,
}
# Containers allowed a writable root filesystem, with the reason. None so far:
# MinIO, mc and TF Serving all run with only emptyDir /tmp (and data) writable.
WRITABLE_ROOT_FS: dict[str, str] = {}
PINNED_IMAGE = re.compile(
    r"^[a-z0-9.\-:/_]+(:[\w][\w.\-]{0,127})(@sha256:[0-9a-f]{64})?$|^[^@]+@sha256:[0-9a-f]{64}$"
)
NAMES = ("base", "kind", "kubeflow", "kind-blue-green", "kubeflow-shadow")
# What a run may do with TFJobs (distributed training): create and read them, in the pipeline
# namespace only; bound to the account runs execute with (KFP standalone / a Kubeflow profile).
TRAINER_RULES = [{"apiGroups": ["kubeflow.org"], "resources": ["tfjobs"], "verbs": ["create", "get"]}]
# elsewhere KFP standalone's pipeline-runner
RUN_ACCOUNT = {"kubeflow": "default-editor", "kubeflow-shadow": "default-editor"}


def names_for(overlay: str):
    return load_serving_names(PARAMS_ENV, overrides=OVERLAY_PARAMS[overlay])


def effective(pod: dict, container: dict, field: str):
    """A container securityContext field, falling back to the pod's."""
    own = (container.get("securityContext") or {}).get(field)
    return own if own is not None else (pod.get("securityContext") or {}).get(field)


def all_containers(objects: list[dict]):
    for obj in workloads(objects):
        for pod in pod_specs(obj):
            for container in containers(pod):
                yield obj, pod, container


@pytest.mark.parametrize("name", NAMES)
def test_runs_as_non_root(rendered, name):
    for obj, pod, container in all_containers(rendered[name]):
        where = f"{ref(obj)} container {container.get('name', 'model')}"
        assert effective(pod, container, "runAsNonRoot") is True, f"{where}: runAsNonRoot is not true"
        assert effective(pod, container, "runAsUser") not in (None, 0), f"{where}: needs a non-zero runAsUser"


@pytest.mark.parametrize("name", NAMES)
def test_no_privilege_escalation(rendered, name):
    for obj, pod, container in all_containers(rendered[name]):
        where = f"{ref(obj)} container {container.get('name', 'model')}"
        context = container.get("securityContext") or {}
        assert context.get("allowPrivilegeEscalation") is False, (
            f"{where}: allowPrivilegeEscalation not false"
        )
        assert not context.get("privileged"), f"{where}: privileged"
        assert context.get("capabilities", {}).get("drop") == ["ALL"], f"{where}: must drop ALL capabilities"
        assert not context.get("capabilities", {}).get("add"), f"{where}: adds capabilities"
        assert (pod.get("securityContext") or {}).get("seccompProfile", {}).get("type") == "RuntimeDefault", (
            f"{ref(obj)}: pod needs seccompProfile RuntimeDefault"
        )


@pytest.mark.parametrize("name", NAMES)
def test_read_only_root_filesystem(rendered, name):
    for obj, _pod, container in all_containers(rendered[name]):
        cname = container.get("name", "model")
        if cname in WRITABLE_ROOT_FS:
            continue
        assert (container.get("securityContext") or {}).get("readOnlyRootFilesystem") is True, (
            f"{ref(obj)} container {cname}: readOnlyRootFilesystem is not true"
        )


@pytest.mark.parametrize("name", NAMES)
def test_requests_and_limits(rendered, name):
    for obj, _pod, container in all_containers(rendered[name]):
        resources = container.get("resources") or {}
        for kind in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                assert resource in (resources.get(kind) or {}), (
                    f"{ref(obj)} container {container.get('name', 'model')}: no {resource} {kind}"
                )


@pytest.mark.parametrize("name", NAMES)
def test_images_pinned(rendered, name):
    for obj, _pod, container in all_containers(rendered[name]):
        if obj["kind"] == "InferenceService" and "image" not in container:
            version = container.get("runtimeVersion")
            assert version and version != "latest", f"{ref(obj)}: pin the serving runtime with runtimeVersion"
            continue
        image = container["image"]
        assert PINNED_IMAGE.match(image), f"{ref(obj)}: image {image} has no pinned tag or digest"
        assert not image.split("@")[0].endswith(":latest"), f"{ref(obj)}: image {image} uses latest"


@pytest.mark.parametrize("name", NAMES)
def test_pods_get_no_api_token(rendered, name):
    for obj in workloads(rendered[name]):
        for pod in pod_specs(obj):
            if obj["kind"] == "InferenceService":
                continue  # the token setting belongs to its ServiceAccount
            assert pod.get("automountServiceAccountToken") is False, f"{ref(obj)}: mounts an API token"


@pytest.mark.parametrize("name", NAMES)
def test_rbac_is_namespaced_and_minimal(rendered, name):
    objects = rendered[name]
    names = names_for(name)
    assert not find(objects, "ClusterRole") and not find(objects, "ClusterRoleBinding")
    roles = {r["metadata"]["name"]: r for r in find(objects, "Role")}
    assert sorted(roles) == ["mlpipe-pusher", "mlpipe-trainer"]
    trainer = roles["mlpipe-trainer"]
    assert trainer["metadata"]["namespace"] == names.pipeline_namespace
    assert trainer["rules"] == TRAINER_RULES
    role = roles["mlpipe-pusher"]
    assert role["metadata"]["namespace"] == names.namespace
    names_rule = {
        "apiGroups": [""],
        "resources": ["configmaps"],
        "resourceNames": ["serving-params"],
        "verbs": ["get"],
    }
    if name == "kubeflow":
        objects_rules = [
            {
                "apiGroups": ["serving.kserve.io"],
                "resources": ["inferenceservices"],
                "resourceNames": [names.inference_service],
                "verbs": ["get", "patch"],
            }
        ]
    elif name == "kubeflow-shadow":  # push patches the shadow; promote and rollback the primary
        objects_rules = [
            {
                "apiGroups": ["serving.kserve.io"],
                "resources": ["inferenceservices"],
                "resourceNames": [names.inference_service, f"{names.inference_service}-shadow"],
                "verbs": ["get", "patch"],
            }
        ]
    elif name == "kind-blue-green":
        objects_rules = [
            {
                "apiGroups": ["apps"],
                "resources": ["deployments"],
                "resourceNames": [f"{names.deployment}-blue", f"{names.deployment}-green"],
                "verbs": ["get", "patch"],
            },
            {
                "apiGroups": [""],
                "resources": ["services"],
                "resourceNames": [names.service],
                "verbs": ["get", "patch"],
            },
        ]
    else:
        objects_rules = [
            {
                "apiGroups": ["apps"],
                "resources": ["deployments"],
                "resourceNames": [names.deployment],
                "verbs": ["get", "patch"],
            }
        ]
    # Deployments' pods are read (never written) so a rollout that never gets Ready names each
    # pod's reason (the KServe overlays replace the rules: they wait on the InferenceService)
    pods_rule = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}
    # the serving objects, the serving names (read at run time) and the pods' status
    expected = [*objects_rules, names_rule, *([] if name.startswith("kubeflow") else [pods_rule])]
    assert role["rules"] == expected

    # one binding: the pusher's account to the pusher Role; it gets no pipeline-runner rights, as no
    # run executes with it (the push step mounts its token)
    bindings = {b["metadata"]["name"]: b for b in find(objects, "RoleBinding")}
    assert sorted(bindings) == ["mlpipe-pusher", "mlpipe-trainer"]
    trainer_binding = bindings["mlpipe-trainer"]
    assert trainer_binding["metadata"]["namespace"] == names.pipeline_namespace
    assert trainer_binding["roleRef"]["name"] == "mlpipe-trainer"
    assert trainer_binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": RUN_ACCOUNT.get(name, "pipeline-runner"),
            "namespace": names.pipeline_namespace,
        }
    ]
    binding = bindings["mlpipe-pusher"]
    assert binding["metadata"]["namespace"] == names.namespace
    assert (binding["roleRef"]["kind"], binding["roleRef"]["name"]) == ("Role", "mlpipe-pusher")
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": names.pusher_service_account,
            "namespace": names.pipeline_namespace,
        }
    ], f"{ref(binding)}: subjects"


@pytest.mark.parametrize("name", NAMES)
def test_no_secret_values_outside_kind(rendered, name):
    secrets = [
        s for s in find(rendered[name], "Secret") if s.get("type") != "kubernetes.io/service-account-token"
    ]  # a token Secret holds no value: the token controller fills it in
    if not name.startswith("kind"):
        assert not secrets, f"{name} renders Secrets {[ref(s) for s in secrets]}; only the kind overlay may"
    for secret in secrets:
        assert secret["metadata"]["labels"].get("mlpipe.io/development-values") == "true", ref(secret)
    for obj, _pod, container in all_containers(rendered[name]):
        for env in container.get("env") or []:
            if re.search(r"KEY|SECRET|PASSWORD|TOKEN|MC_HOST", env["name"]) and "value" in env:
                assert not env["value"] or "$(" in env["value"], (
                    f"{ref(obj)}: literal value for {env['name']}"
                )


@pytest.mark.parametrize("which", ["", "pipeline-", "serving-"])
def test_development_values_live_only_in_the_kind_overlay(which):
    dev_file = MANIFESTS / "overlays" / "kind" / "local" / f"dev-{which}credentials.env"
    text = dev_file.read_text()
    assert "DEVELOPMENT VALUES ONLY" in text
    values = [line.split("=", 1)[1] for line in text.splitlines() if line and not line.startswith("#")]
    assert len(values) == 2 and all(values)
    for path in MANIFESTS.rglob("*"):
        if path.is_file() and path != dev_file:
            content = path.read_text()
            for value in values:
                assert value not in content, f"{path} contains a development credential"


def test_pod_security_admission_labels(rendered):
    for name, enforce in (
        ("base", "restricted"),
        ("kind", "restricted"),
        ("kubeflow", "baseline"),
        ("kind-blue-green", "restricted"),
        ("kubeflow-shadow", "baseline"),
    ):
        (namespace,) = find(rendered[name], "Namespace")
        labels = namespace["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == enforce, name
        assert labels["pod-security.kubernetes.io/warn"] == "restricted", name


@pytest.mark.parametrize("name", NAMES)
def test_services_not_exposed_outside_the_cluster(rendered, name):
    for service in find(rendered[name], "Service"):
        kind = service["spec"].get("type", "ClusterIP")
        allowed = {"ClusterIP", "NodePort"} if name.startswith("kind") else {"ClusterIP"}
        assert kind in allowed, f"{ref(service)} is {kind}"


@pytest.mark.parametrize(
    ("image", "pinned"),
    [
        ("tensorflow/serving:2.16.1", True),
        ("localhost:5001/minio/mc:RELEASE.2025-04-16T18-13-26Z", True),
        ("quay.io/minio/minio@sha256:" + "a" * 64, True),
        ("tensorflow/serving", False),
        ("localhost:5001/minio/mc", False),
    ],
)
def test_pinned_image_pattern(image, pinned):
    assert bool(PINNED_IMAGE.match(image)) is pinned


def test_only_the_pipeline_and_serving_namespaces_reach_the_registry(rendered):
    """Kubeflow: a NetworkPolicy in front of MinIO's S3 port; the console is reachable from nowhere."""
    names = names_for("kubeflow")
    (policy,) = find(rendered["kubeflow"], "NetworkPolicy")
    minio = one(rendered["kubeflow"], "Deployment", {"app.kubernetes.io/name": "minio"})
    selector = policy["spec"]["podSelector"]["matchLabels"]
    assert selector.items() <= minio["spec"]["template"]["metadata"]["labels"].items()
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    (rule,) = policy["spec"]["ingress"]
    assert rule["from"] == [
        {
            "namespaceSelector": {
                "matchExpressions": [
                    {
                        "key": "kubernetes.io/metadata.name",
                        "operator": "In",
                        "values": [names.pipeline_namespace, names.namespace],
                    }
                ]
            }
        }
    ]
    assert rule["ports"] == [{"port": 9000, "protocol": "TCP"}]
    assert not find(rendered["kind"], "NetworkPolicy")  # its NodePort serves uploads from the host
