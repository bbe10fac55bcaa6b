"""The deployed overlays on real control planes (tests/servers.py): `kind_cluster` on the session
plane, `kubeflow_cluster` on a plane of its own (the overlays are alternatives, not layers)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import types
from pathlib import Path

import pytest

from mlpipe.serving.names import load_serving_names

REPO = Path(__file__).resolve().parents[2]
NAMES = load_serving_names()
KUBEFLOW_NAMES = load_serving_names(overrides=REPO / "manifests" / "overlays" / "kubeflow" / "params.env")
SHADOW_NAMES = load_serving_names(
    overrides=REPO / "manifests" / "overlays" / "kubeflow-shadow" / "params.env"
)
OVERLAYS = {
    "kind": NAMES,
    "kubeflow": KUBEFLOW_NAMES,
    "kind-blue-green": NAMES,
    "kubeflow-shadow": SHADOW_NAMES,
}


def install_crd(plane, binary: str, crd: str) -> None:
    """A real CRD fetched by build-test-servers.sh (`binary`), applied and waited on by name."""
    from servers import server_binaries

    plane.kubectl("apply", "--server-side", "-f", server_binaries(binary)[binary])
    # `kubectl wait` errors out while a new CRD has no status yet: poll for Established
    wait_for(
        lambda: "True" in plane.kubectl(
            "get", "crd", crd,
            "-o", "jsonpath={.status.conditions[?(@.type=='Established')].status}", check=False,
        ).stdout,
        f"the CRD {crd} to be established",
    )  # fmt: skip


def install_kserve_crd(plane) -> None:
    """KServe's real InferenceService CRD, from the release the kubeflow overlay targets."""
    install_crd(plane, "kserve-crd", "inferenceservices.serving.kserve.io")


def wait_for(check, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


READY = [
    {"type": t, "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}
    for t in ("Ready", "ContainersReady")
]


@contextlib.contextmanager
def _every(seconds: float, step):
    """Call `step()` every `seconds` in a background thread while the block runs."""
    stop = threading.Event()

    def run():
        while not stop.is_set():
            step()
            stop.wait(seconds)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def kubelet(cluster, selector: str):
    """A stand-in kubelet: marks the selected pods of the serving namespace Running and Ready as
    they appear, while the block runs (no node runs pods here). The real ReplicaSet and Deployment
    controllers turn that into the Deployment's availability."""
    plane, namespace = cluster.plane, cluster.names.namespace

    def step():
        listed = plane.kubectl("get", "pods", "-n", namespace, "-l", selector, "-o", "json", check=False)
        for pod in json.loads(listed.stdout or '{"items": []}')["items"]:
            if (pod.get("status") or {}).get("phase") != "Running":
                plane.kubectl(
                    "patch", "pod", pod["metadata"]["name"], "-n", namespace, "--subresource=status",
                    "--type=merge", "-p", json.dumps({"status": {"phase": "Running", "conditions": READY}}),
                    check=False,
                )  # fmt: skip

    return _every(0.3, step)


def kserve_controller(cluster, *isvcs: str):
    """A stand-in KServe controller: while the block runs, marks the named InferenceServices
    Ready at their current generation, with a new revision each time the pusher patches them."""
    plane, namespace = cluster.plane, cluster.names.namespace

    def step():
        for name in isvcs:
            isvc = json.loads(
                plane.kubectl("get", "inferenceservice", name, "-n", namespace, "-o", "json").stdout
            )
            generation = isvc["metadata"]["generation"]
            if (isvc.get("status") or {}).get("observedGeneration") != generation:
                revision = f"{name}-predictor-{generation:05d}"
                status = {
                    "observedGeneration": generation,
                    "conditions": [{"type": "Ready", "status": "True",
                                    "lastTransitionTime": "2026-01-01T00:00:00Z"}],
                    "components": {"predictor": {"latestCreatedRevision": revision,
                                                 "latestReadyRevision": revision}},
                }  # fmt: skip
                plane.kubectl(
                    "patch", "inferenceservice", name, "-n", namespace, "--subresource=status",
                    "--type=merge", "-p", json.dumps({"status": status}), check=False,
                )  # fmt: skip

    return _every(0.3, step)


def pusher_api(cluster):
    """A kubernetes ApiClient with the pusher ServiceAccount's own token (TokenRequest)."""
    names = cluster.names
    return cluster.plane.api_client(
        cluster.plane.token(names.pipeline_namespace, names.pusher_service_account)
    )


def allowed(plane, user: str, verb: str, group: str, resource: str, name: str, namespace: str) -> bool:
    """The server's own answer (a SubjectAccessReview), as the authorizer decides a real request."""
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": user,
            "groups": ["system:serviceaccounts", f"system:serviceaccounts:{user.split(':')[2]}"],
            "resourceAttributes": {
                "verb": verb, "group": group, "resource": resource, "name": name, "namespace": namespace,
            },
        },
    }  # fmt: skip
    done = plane.kubectl("create", "-f", "-", "-o", "json", stdin=json.dumps(review))
    return json.loads(done.stdout)["status"].get("allowed", False)


def registry_with_versions(folder: Path, model: str, count: int = 2):
    """A local registry holding `count` published (fabricated) versions of `model`."""
    from mlpipe.registry.local import LocalRegistry

    registry = LocalRegistry(folder / "registry")
    for version in range(1, count + 1):
        files = folder / f"model-{version}"
        files.mkdir()
        (files / "saved_model.pb").write_text(f"graph-{version}")
        registry.publish(model, files, {"blessed": True})
    return registry


def _deploy(plane, overlay: str) -> types.SimpleNamespace:
    """Apply one overlay server-side, as `make deploy` (kind) or the Kubeflow docs do."""
    names = OVERLAYS[overlay]
    # the pipeline namespace comes from the KFP install (kind) or a Kubeflow profile
    plane.kubectl("create", "namespace", names.pipeline_namespace)
    if overlay.startswith("kubeflow"):
        install_kserve_crd(plane)
    if overlay == "kubeflow-shadow":  # Istio's real CRDs (the file holds them all)
        install_crd(plane, "istio-crd", "virtualservices.networking.istio.io")
    out = plane.kubectl("apply", "--server-side", "-k", str(REPO / "manifests/overlays" / overlay)).stdout
    return types.SimpleNamespace(plane=plane, overlay=overlay, names=names, output=out)


@pytest.fixture(scope="session")
def kind_cluster(control_plane):
    """The kind overlay (TF Serving Deployment) on the session's control plane."""
    return _deploy(control_plane, "kind")


@pytest.fixture(scope="session")
def tfjobs(kind_cluster):
    """The kind overlay deployed (trainer RBAC included), KFP standalone's run account
    (`pipeline-runner`, which KFP's install creates) and training-operator's real TFJob CRD
    installed (no operator runs: tests write the status as it would)."""
    plane = kind_cluster.plane
    install_crd(plane, "tfjob-crd", "tfjobs.kubeflow.org")
    plane.kubectl("create", "serviceaccount", RUN_ACCOUNT, "-n", kind_cluster.names.pipeline_namespace)
    return kind_cluster


# The fixture that deploys each overlay on its plane (for tests parametrized over overlays).
OVERLAY_FIXTURES = {
    "kind": "kind_cluster",
    "kubeflow": "kubeflow_cluster",
    "kind-blue-green": "blue_green_cluster",
    "kubeflow-shadow": "shadow_cluster",
}
RUN_ACCOUNT = "pipeline-runner"  # the account KFP standalone runs every step with


def run_api(cluster):
    """A kubernetes ApiClient with the token of the account runs execute with (a step's view)."""
    return cluster.plane.api_client(cluster.plane.token(cluster.names.pipeline_namespace, RUN_ACCOUNT))


@pytest.fixture(scope="session")
def kubeflow_cluster(tmp_path_factory):
    """The kubeflow overlay (KServe InferenceService, its real CRD) on a control plane of its own."""
    yield from _own_plane(tmp_path_factory, "kubeflow")


@pytest.fixture(scope="session")
def blue_green_cluster(tmp_path_factory):
    """The kind-blue-green overlay (two colour Deployments, one Service) on a control plane of its own."""
    yield from _own_plane(tmp_path_factory, "kind-blue-green")


@pytest.fixture(scope="session")
def shadow_cluster(tmp_path_factory):
    """The kubeflow-shadow overlay (two InferenceServices, an Istio VirtualService mirroring the
    primary to the shadow; KServe's and Istio's real CRDs) on a control plane of its own."""
    yield from _own_plane(tmp_path_factory, "kubeflow-shadow")


def _own_plane(tmp_path_factory, overlay: str):
    from servers import ControlPlane

    plane = ControlPlane(tmp_path_factory.mktemp(f"{overlay}-plane"))
    try:
        yield _deploy(plane, overlay)
    finally:
        plane.stop()
