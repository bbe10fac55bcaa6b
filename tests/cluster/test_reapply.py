"""Re-applying the overlays after a push keeps the pushed version (the real API server's field
ownership): the manifests set none of the fields the pusher owns."""

from __future__ import annotations

import json

import pytest

from mlpipe.serving.rollout import SYNC_CONTAINER, VERSION_ANNOTATION, roll_out

from .conftest import REPO, pusher_api

pytestmark = pytest.mark.cluster


def _get(cluster, kind: str, name: str) -> dict:
    out = cluster.plane.kubectl("get", kind, name, "-n", cluster.names.namespace, "-o", "json")
    return json.loads(out.stdout)


@pytest.mark.parametrize("mode", [["--server-side"], []], ids=["server-side", "client-side"])
def test_reapplying_the_kind_overlay_keeps_the_pushed_version(kind_cluster, mode):
    names = kind_cluster.names
    roll_out("deployment", names, 7, "s3://models/adult_income/7/", api=pusher_api(kind_cluster))
    kind_cluster.plane.kubectl("apply", *mode, "-k", str(REPO / "manifests/overlays/kind"))
    template = _get(kind_cluster, "deployment", names.deployment)["spec"]["template"]
    assert template["metadata"]["annotations"][VERSION_ANNOTATION] == "7"
    (sync,) = [c for c in template["spec"]["initContainers"] if c["name"] == SYNC_CONTAINER]
    version = next(e for e in sync["env"] if e["name"] == "MODEL_VERSION")
    # the init container reads the version from the annotation the pusher owns
    assert version == {
        "name": "MODEL_VERSION",
        "valueFrom": {
            "fieldRef": {"apiVersion": "v1", "fieldPath": f"metadata.annotations['{VERSION_ANNOTATION}']"}
        },
    }


@pytest.mark.parametrize("mode", [["--server-side"], []], ids=["server-side", "client-side"])
def test_reapplying_the_kind_overlay_keeps_a_hand_scaled_replica_count(kind_cluster, mode):
    names = kind_cluster.names
    kind_cluster.plane.kubectl("scale", "deployment", names.deployment, "-n", names.namespace, "--replicas=3")
    try:
        kind_cluster.plane.kubectl("apply", *mode, "-k", str(REPO / "manifests/overlays/kind"))
        assert _get(kind_cluster, "deployment", names.deployment)["spec"]["replicas"] == 3
    finally:
        kind_cluster.plane.kubectl(
            "scale", "deployment", names.deployment, "-n", names.namespace, "--replicas=1"
        )


@pytest.mark.parametrize("mode", [["--server-side"], []], ids=["server-side", "client-side"])
def test_reapplying_the_kubeflow_overlay_keeps_the_pushed_version_and_canary(kubeflow_cluster, mode):
    names = kubeflow_cluster.names
    roll_out(
        "kserve",
        names,
        7,
        "s3://models/adult_income/7/",
        canary_percent=10,
        api=pusher_api(kubeflow_cluster),
    )
    kubeflow_cluster.plane.kubectl("apply", *mode, "-k", str(REPO / "manifests/overlays/kubeflow"))
    predictor = _get(kubeflow_cluster, "inferenceservice", names.inference_service)["spec"]["predictor"]
    assert predictor["model"]["storageUri"] == names.version_uri(7)
    assert predictor["canaryTrafficPercent"] == 10
    assert predictor["annotations"][VERSION_ANNOTATION] == "7"
