"""The manifests against a real Kubernetes API server: server-side apply, validation, Pod
Security admission and RBAC (the control plane of tests/servers.py, built from source).

One module-scoped apply of each overlay; every test reads what the server made of it.
"""

from __future__ import annotations

import json

import pytest
import yaml

from .conftest import NAMES, OVERLAY_FIXTURES, REPO, wait_for

POD_SECURITY = {
    "kind": "restricted",
    "kubeflow": "baseline",
    "kubeflow-shadow": "baseline",
}  # KServe's pods are not ours to restrict

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module", params=["kind", "kubeflow", "kubeflow-shadow"])
def applied(request):
    return request.getfixturevalue(OVERLAY_FIXTURES[request.param])


def _get(plane, *args: str) -> dict:
    return json.loads(plane.kubectl("get", *args, "-o", "json").stdout)


def test_every_overlay_applies_server_side(applied):
    plane, names = applied.plane, applied.names
    assert "serverside-applied" in applied.output and "unchanged" not in applied.output
    again = plane.kubectl("apply", "--server-side", "-k", str(REPO / "manifests/overlays" / applied.overlay))
    assert again.returncode == 0  # re-applying (a GitOps sync) is a no-op, not an error
    if applied.overlay == "kind":
        deployment = _get(plane, "deployment", names.deployment, "-n", names.namespace)
        assert deployment["metadata"]["generation"] >= 1
    else:
        isvc = _get(plane, "inferenceservice", names.inference_service, "-n", names.namespace)
        assert isvc["spec"]["predictor"]["model"]["modelFormat"]["name"] == "tensorflow"
        missing = plane.kubectl("get", "deployment", names.deployment, "-n", names.namespace, check=False)
        assert missing.returncode != 0  # KServe serves; the plain TF Serving Deployment is deleted


def test_a_broken_manifest_is_rejected_by_the_server(kubeflow_cluster):
    plane = kubeflow_cluster.plane
    rendered = yaml.safe_load_all(plane.kubectl("kustomize", str(REPO / "manifests/overlays/kind")).stdout)
    deployment = next(
        d for d in rendered if d["kind"] == "Deployment" and d["metadata"]["name"] == NAMES.deployment
    )
    deployment["spec"]["replicas"] = "two"
    deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = 70000
    broken = plane.kubectl(
        "apply", "--server-side", "--dry-run=server", "-f", "-", check=False, stdin=yaml.safe_dump(deployment)
    )
    assert broken.returncode != 0
    assert "replicas" in broken.stderr
    isvc = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "broken", "namespace": kubeflow_cluster.names.namespace},
        "spec": {"predictor": {"canaryTrafficPercent": "half", "model": {"storageUri": 3}}},
    }
    refused = plane.kubectl(
        "apply", "--server-side", "--dry-run=server", "-f", "-", check=False, stdin=json.dumps(isvc)
    )
    assert refused.returncode != 0 and "canaryTrafficPercent" in refused.stderr


def test_pod_security_admits_the_projects_workloads_and_refuses_a_privileged_pod(applied):
    plane, names = applied.plane, applied.names
    namespace = _get(plane, "namespace", names.namespace)
    assert (
        namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == POD_SECURITY[applied.overlay]
    )
    # the controllers made pods for every Deployment: admission let them in (no node runs them)
    for app in ("minio", "tf-serving") if applied.overlay == "kind" else ("minio",):
        pods = wait_for(
            lambda app=app: _get(plane, "pods", "-n", names.namespace, "-l", f"app.kubernetes.io/name={app}")[
                "items"
            ],
            f"a pod of {app}",
        )
        assert pods[0]["metadata"]["namespace"] == names.namespace
    events = plane.kubectl("get", "events", "-n", names.namespace, "-o", "json").stdout
    assert "violates PodSecurity" not in events
    privileged = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "privileged", "namespace": names.namespace},
        "spec": {
            "containers": [{"name": "c", "image": "busybox:1.36", "securityContext": {"privileged": True}}]
        },
    }
    refused = plane.kubectl("apply", "-f", "-", check=False, stdin=json.dumps(privileged))
    assert (
        refused.returncode != 0
        and "violates PodSecurity" in refused.stderr
        and "privileged" in refused.stderr
    )


def _can(plane, user: str, verb: str, resource: str, namespace: str) -> bool:
    done = plane.kubectl("auth", "can-i", verb, resource, "-n", namespace, f"--as={user}", check=False)
    return done.stdout.strip() == "yes"


def test_the_pusher_can_do_exactly_what_a_rollout_needs(applied):
    plane, names = applied.plane, applied.names
    pusher = f"system:serviceaccount:{names.pipeline_namespace}:{names.pusher_service_account}"
    if applied.overlay == "kind":
        serving = f"deployments.apps/{names.deployment}"
    else:
        serving = f"inferenceservices.serving.kserve.io/{names.inference_service}"
    assert _can(plane, pusher, "get", serving, names.namespace)
    assert _can(plane, pusher, "patch", serving, names.namespace)
    for verb, resource in (
        ("delete", serving),
        ("update", serving),
        ("patch", "deployments.apps/minio"),
        ("create", "deployments.apps"),
        ("create", "inferenceservices.serving.kserve.io"),
        ("get", "secrets"),
        ("create", "pods"),
        ("delete", "pods"),
        ("create", "pods/exec"),
    ):
        assert not _can(plane, pusher, verb, resource, names.namespace), (verb, resource)
    # pods are read, for the rollout's error (each pod's reason), only where serving is a Deployment
    assert _can(plane, pusher, "list", "pods", names.namespace) == (applied.overlay == "kind")
    assert not _can(plane, pusher, "list", "pods", "default")
    assert not _can(plane, pusher, "patch", serving, "default")
    # other identities of the pipeline namespace cannot touch serving
    for other in (f"system:serviceaccount:{names.pipeline_namespace}:default", "system:anonymous"):
        assert not _can(plane, other, "patch", serving, names.namespace)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda p: p["model"].__setitem__("storageURI", "s3://models/adult_income/1/"), "storageURI"),
        (lambda p: p.__setitem__("canaryTrafficPercent", "half"), "canaryTrafficPercent"),
        (lambda p: p["model"].__setitem__("modelFormat", "tensorflow"), "modelFormat"),
    ],
    ids=["typo", "wrong-type", "wrong-shape"],
)
def test_the_real_kserve_crd_rejects_a_broken_inferenceservice(kubeflow_cluster, change, named):
    """KServe's own CRD schema (not a hand-written one) judges the overlay's InferenceService."""
    plane = kubeflow_cluster.plane
    rendered = yaml.safe_load_all(
        plane.kubectl("kustomize", str(REPO / "manifests/overlays/kubeflow")).stdout
    )
    isvc = next(d for d in rendered if d["kind"] == "InferenceService")
    ok = plane.kubectl("apply", "--server-side", "--dry-run=server", "-f", "-", stdin=json.dumps(isvc))
    assert ok.returncode == 0
    change(isvc["spec"]["predictor"])
    refused = plane.kubectl(
        "apply", "--server-side", "--dry-run=server", "-f", "-", check=False, stdin=json.dumps(isvc)
    )
    assert refused.returncode != 0 and named in refused.stderr, refused.stderr


def test_the_crd_does_not_bound_numbers_so_the_config_must(kubeflow_cluster):
    """Found on the real CRD: ranges are checked by KServe's admission webhook, not the schema, so
    without KServe's controller a canary of 150 % is stored as is. mlpipe refuses it at config load."""
    plane = kubeflow_cluster.plane
    rendered = yaml.safe_load_all(
        plane.kubectl("kustomize", str(REPO / "manifests/overlays/kubeflow")).stdout
    )
    isvc = next(d for d in rendered if d["kind"] == "InferenceService")
    isvc["spec"]["predictor"].update(canaryTrafficPercent=150, minReplicas=-1)
    # --force-conflicts: an earlier test may have pushed (the pusher owns canaryTrafficPercent)
    stored = plane.kubectl(
        "apply", "--server-side", "--force-conflicts", "--dry-run=server", "-f", "-", stdin=json.dumps(isvc)
    )
    assert stored.returncode == 0
    from mlpipe.config.dataset import ServingConfig

    with pytest.raises(ValueError, match="canary_traffic_percent"):
        ServingConfig(canary_traffic_percent=150)
