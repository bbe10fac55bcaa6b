"""After a KServe rollout the pusher reads the InferenceService's status and waits for the new
revision, against the real API server and KServe's real CRD. No KServe controller runs here: the
tests write the status subresource with the admin client, as the controller would."""

from __future__ import annotations

import json
import threading
import types

import pytest

from mlpipe.components.push.core import push
from mlpipe.registry.local import LocalRegistry
from mlpipe.serving.rollout import VERSION_ANNOTATION, promote, roll_out
from mlpipe.serving.status import RolloutNotReady

from .conftest import pusher_api, wait_for

pytestmark = pytest.mark.cluster


def _isvc(cluster) -> dict:
    names = cluster.names
    out = cluster.plane.kubectl(
        "get", "inferenceservice", names.inference_service, "-n", names.namespace, "-o", "json"
    )
    return json.loads(out.stdout)


def _write_status(cluster, ready: str, revision: str, reason: str = "", message: str = "") -> None:
    """What KServe's controller writes once it has reconciled the current generation."""
    names = cluster.names
    generation = _isvc(cluster)["metadata"]["generation"]
    status = {
        "observedGeneration": generation,
        "conditions": [
            {"type": "Ready", "status": ready, "reason": reason, "message": message,
             "lastTransitionTime": "2026-01-01T00:00:00Z"},
        ],
        "components": {
            "predictor": {
                "latestCreatedRevision": revision,
                "latestReadyRevision": revision if ready == "True" else "old-revision",
                "traffic": [{"revisionName": revision, "percent": 100, "latestRevision": True}],
            }
        },
    }  # fmt: skip
    cluster.plane.kubectl(
        "patch", "inferenceservice", names.inference_service, "-n", names.namespace,
        "--subresource=status", "--type=merge", "-p", json.dumps({"status": status}),
    )  # fmt: skip


def test_a_rollout_waits_for_the_new_revision_and_reports_its_traffic(kubeflow_cluster):
    names, api = kubeflow_cluster.names, pusher_api(kubeflow_cluster)
    result: dict = {}

    def rolling():
        result["answer"] = roll_out("kserve", names, 21, names.version_uri(21), api=api, wait=60)

    thread = threading.Thread(target=rolling)
    thread.start()
    try:
        wait_for(
            lambda: _isvc(kubeflow_cluster)["spec"]["predictor"]["annotations"][VERSION_ANNOTATION] == "21",
            "the patch",
        )
        assert thread.is_alive(), "roll_out returned before serving reported ready"
        _write_status(kubeflow_cluster, "True", "adult-income-predictor-00021")
    finally:
        thread.join(timeout=90)
    status = result["answer"]["status"]
    assert status["ready"] and status["latest_ready_revision"] == "adult-income-predictor-00021"
    assert status["traffic"] == [
        {"revisionName": "adult-income-predictor-00021", "percent": 100, "latestRevision": True}
    ]
    assert status["observed_generation"] == result["answer"]["generation"]


def test_a_push_whose_rollout_never_gets_ready_fails_and_its_retry_reuses_the_version(
    kubeflow_cluster, tmp_path
):
    names, api = kubeflow_cluster.names, pusher_api(kubeflow_cluster)
    registry = LocalRegistry(tmp_path / "registry")
    model = tmp_path / "model"
    (model / "saved_model").mkdir(parents=True)
    (model / "saved_model" / "saved_model.pb").write_text("graph")
    (model / "model_metadata.json").write_text(json.dumps({"training_fingerprint": "f" * 64}))
    config = types.SimpleNamespace(
        model_name=names.model_name,
        serving=types.SimpleNamespace(canary_traffic_percent=0, rollout_timeout_seconds=3),
    )
    blessed = {"blessed": True, "reasons": []}

    def pushing():
        return push(config, model, blessed, blessed, registry, "kserve", names, run_id="run-7", api=api)

    with pytest.raises(RolloutNotReady, match="not ready after 3 s: not yet seen by the KServe controller"):
        pushing()
    _write_status(kubeflow_cluster, "False", "adult-income-predictor-00001", "RevisionFailed", "image pull")
    with pytest.raises(RolloutNotReady, match="RevisionFailed image pull"):
        pushing()
    assert registry.versions(names.model_name) == [1]  # published once
    assert registry.serving_version(names.model_name) is None  # serving never took it
    _write_status(kubeflow_cluster, "True", "adult-income-predictor-00001")
    again = pushing()
    assert (again["version"], again["reused"]) == (1, True)
    assert again["serving"]["status"]["ready"]
    assert registry.versions(names.model_name) == [1] and registry.serving_version(names.model_name) == 1
    assert _isvc(kubeflow_cluster)["spec"]["predictor"]["model"]["storageUri"] == names.version_uri(1)


def test_promote_sends_all_traffic_to_the_canary(kubeflow_cluster, tmp_path):
    names, api = kubeflow_cluster.names, pusher_api(kubeflow_cluster)
    registry = LocalRegistry(tmp_path / "registry")
    model = tmp_path / "model"
    model.mkdir()
    (model / "saved_model.pb").write_text("graph")
    registry.publish(names.model_name, model, {"blessed": True})
    roll_out("kserve", names, 1, registry.uri(names.model_name, 1), canary_percent=10, api=api)
    registry.set_serving(names.model_name, 1)
    assert _isvc(kubeflow_cluster)["spec"]["predictor"]["canaryTrafficPercent"] == 10
    result = promote(registry, names.model_name, "kserve", names, api=api)
    assert result["version"] == 1
    predictor = _isvc(kubeflow_cluster)["spec"]["predictor"]
    assert predictor["canaryTrafficPercent"] == 100 and predictor["model"]["storageUri"] == names.version_uri(
        1
    )
