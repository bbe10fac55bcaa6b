"""Least privilege on a real API server: the run's identity cannot change serving; the push step
does so with the pusher's own token, which the real token controller issues into the Secret that
the compiled pipeline mounts into that step alone (tests/pipeline/test_compile.py)."""

from __future__ import annotations

import base64
import json
from urllib.parse import urlparse

import pytest

from mlpipe.serving.rollout import api_client

from .conftest import OVERLAY_FIXTURES, allowed, wait_for

pytestmark = pytest.mark.cluster

# The account a run executes with: KFP standalone's runner (kind), a profile's editor (Kubeflow).
RUN_IDENTITY = {"kind": "pipeline-runner", "kubeflow": "default-editor", "kubeflow-shadow": "default-editor"}


@pytest.fixture(scope="module", params=["kind", "kubeflow", "kubeflow-shadow"])
def applied(request):
    return request.getfixturevalue(OVERLAY_FIXTURES[request.param])


def _serving(applied) -> tuple[str, str, str]:
    names = applied.names
    if applied.overlay == "kind":
        return "apps", "deployments", names.deployment
    return "serving.kserve.io", "inferenceservices", names.inference_service


def test_the_runs_identity_cannot_change_serving_and_the_pusher_can(applied):
    plane, names = applied.plane, applied.names
    group, resource, name = _serving(applied)
    run = f"system:serviceaccount:{names.pipeline_namespace}:{RUN_IDENTITY[applied.overlay]}"
    pusher = f"system:serviceaccount:{names.pipeline_namespace}:{names.pusher_service_account}"
    for verb in ("get", "patch", "update"):
        assert not allowed(plane, run, verb, group, resource, name, names.namespace), verb
    assert allowed(plane, pusher, "patch", group, resource, name, names.namespace)
    # the pusher holds nothing in the pipeline namespace: no run executes with it
    for verb, what in (("create", "pods"), ("get", "secrets"), ("list", "configmaps")):
        assert not allowed(plane, pusher, verb, "", what, "", names.pipeline_namespace), (verb, what)


def test_the_push_steps_token_is_issued_and_can_roll_out_nothing_else(applied, tmp_path, monkeypatch):
    """The Secret the push step mounts: filled by the token controller, read as a pod reads its
    mount (token and ca.crt files), used by the pusher's own client loader."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    plane, names = applied.plane, applied.names

    def issued() -> dict:
        found = plane.kubectl(
            "get", "secret", names.pusher_token_secret, "-n", names.pipeline_namespace, "-o", "json"
        )
        data = json.loads(found.stdout).get("data") or {}
        return data if data.get("token") else {}

    data = wait_for(issued, "the token controller to issue the pusher's token")
    for key in ("token", "ca.crt"):
        (tmp_path / key).write_bytes(base64.b64decode(data[key]))
    server = urlparse(plane.url)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", server.hostname)
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(server.port))

    api = api_client(token_dir=tmp_path)
    group, resource, name = _serving(applied)
    if applied.overlay == "kind":
        served = client.AppsV1Api(api).read_namespaced_deployment(name, names.namespace)
    else:
        served = client.CustomObjectsApi(api).get_namespaced_custom_object(
            group, "v1beta1", names.namespace, resource, name
        )
    assert served is not None
    with pytest.raises(ApiException) as refused:
        client.AppsV1Api(api).patch_namespaced_deployment(
            "minio", names.namespace, {"metadata": {"labels": {"touched": "yes"}}}
        )
    assert refused.value.status == 403
    with pytest.raises(ApiException) as refused:
        client.CoreV1Api(api).list_namespaced_secret(names.pipeline_namespace)
    assert refused.value.status == 403
