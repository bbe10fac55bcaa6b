"""The train step's TFJob against the real API server and training-operator v1.9.3's real TFJob CRD:
the rendered manifest passes the CRD's validation (strict: no field dropped), the run's account may
create and read TFJobs in the pipeline namespace and nothing more, and the wait reads the status
conditions. No training operator runs here: the tests write the status subresource with the admin
client, as the operator would."""

from __future__ import annotations

import json
import threading

import pytest

from mlpipe.components.train import tfjob
from mlpipe.config.dataset import DistributedTraining

from .conftest import pusher_api, run_api

pytestmark = pytest.mark.cluster

IMAGE = "localhost:5001/mlpipe-tf:0.1.0-0123456789ab"
SETTINGS = DistributedTraining(workers=2, timeout_seconds=600, cpu="2", memory="3Gi")


def _body(cluster, name: str, namespace: str | None = None) -> dict:
    names = cluster.names
    args = ["--config-json", "{}", "--examples", "s3://models/.train-jobs/x/examples", "--model", "s3://m/x"]
    return tfjob.render_tfjob(name, namespace or names.pipeline_namespace, IMAGE, args, SETTINGS, names)


def _job(cluster, name: str) -> dict:
    out = cluster.plane.kubectl("get", "tfjob", name, "-n", cluster.names.pipeline_namespace, "-o", "json")
    return json.loads(out.stdout)


def _write_status(cluster, name: str, conditions: list[dict]) -> None:
    """What the training operator writes as the job goes."""
    status = {"conditions": [{"lastTransitionTime": "2026-01-01T00:00:00Z", **c} for c in conditions]}
    cluster.plane.kubectl(
        "patch", "tfjob", name, "-n", cluster.names.pipeline_namespace,
        "--subresource=status", "--type=merge", "-p", json.dumps({"status": status}),
    )  # fmt: skip


CREATED = {"type": "Created", "status": "True", "reason": "TFJobCreated", "message": "TFJob is created."}
RUNNING = {"type": "Running", "status": "True", "reason": "TFJobRunning", "message": "TFJob is running."}


def test_the_rendered_tfjob_passes_the_crd_validation_as_the_runs_account(tfjobs):
    api = run_api(tfjobs)
    body = _body(tfjobs, "train-adult-valid")
    tfjob.create(body, api)
    stored = _job(tfjobs, "train-adult-valid")
    assert stored["spec"]["runPolicy"].pop("suspend") is False  # the CRD's one default
    assert stored["spec"] == body["spec"]  # nothing pruned
    worker = stored["spec"]["tfReplicaSpecs"]["Worker"]
    container = worker["template"]["spec"]["containers"][0]
    assert (worker["replicas"], container["name"], container["image"]) == (2, "tensorflow", IMAGE)
    assert container["command"] == ["python", "-m", "mlpipe.components.train"]
    secret_refs = {e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"] if "valueFrom" in e}
    assert secret_refs == {tfjobs.names.pipeline_credentials_secret}  # credentials by reference only

    # the CRD's schema is enforced: a misspelt field and a wrong type are refused, not dropped
    from kubernetes.client.exceptions import ApiException

    misspelt = _body(tfjobs, "train-adult-misspelt")
    misspelt["spec"]["tfReplicaSpecs"]["Worker"]["replica"] = 2
    wrong_type = _body(tfjobs, "train-adult-wrong-type")
    wrong_type["spec"]["runPolicy"]["backoffLimit"] = "none"
    for bad, field in ((misspelt, "replica"), (wrong_type, "backoffLimit")):
        with pytest.raises(ApiException) as refused:
            tfjob.create(bad, api)
        assert refused.value.status in (400, 422) and field in refused.value.body


def test_the_runs_account_may_create_and_read_tfjobs_in_the_pipeline_namespace_only(tfjobs):
    """And nothing more; the pusher's account, whose token only the push step mounts, none."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    api = run_api(tfjobs)
    names = tfjobs.names
    tfjob.create(_body(tfjobs, "train-adult-rbac"), api)
    assert (
        tfjob.get("train-adult-rbac", names.pipeline_namespace, api)["metadata"]["name"] == "train-adult-rbac"
    )
    group, version, plural = tfjob.TFJOB
    custom = client.CustomObjectsApi(api)
    denied = [
        lambda: tfjob.create(_body(tfjobs, "train-adult-elsewhere", names.namespace), api),
        lambda: custom.delete_namespaced_custom_object(group, version, names.pipeline_namespace, plural, "train-adult-rbac"),
        lambda: custom.patch_namespaced_custom_object(
            group, version, names.pipeline_namespace, plural, "train-adult-rbac", {"spec": {"runPolicy": {"backoffLimit": 3}}}
        ),
        lambda: custom.list_namespaced_custom_object(group, version, names.pipeline_namespace, "pytorchjobs"),
    ]  # fmt: skip
    pusher = pusher_api(tfjobs)
    denied.append(lambda: tfjob.create(_body(tfjobs, "train-adult-pusher"), pusher))
    denied.append(lambda: tfjob.get("train-adult-rbac", names.pipeline_namespace, pusher))
    for attempt in denied:
        with pytest.raises(ApiException) as refused:
            attempt()
        assert refused.value.status in (403, 404)


def _waiting(tfjobs, name: str, timeout: float) -> tuple[threading.Thread, dict]:
    api = run_api(tfjobs)
    namespace = tfjobs.names.pipeline_namespace
    result: dict = {}

    def run():
        try:
            what = f"TFJob {namespace}/{name}"
            result["job"] = tfjob.wait(lambda: tfjob.get(name, namespace, api), timeout, what, interval=0.2)
        except Exception as exc:  # noqa: BLE001  handed to the test
            result["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def test_the_wait_returns_when_the_operator_reports_succeeded(tfjobs):
    tfjob.create(_body(tfjobs, "train-adult-ok"), run_api(tfjobs))
    thread, result = _waiting(tfjobs, "train-adult-ok", 60)
    _write_status(tfjobs, "train-adult-ok", [CREATED, RUNNING])
    thread.join(timeout=1.0)
    assert thread.is_alive(), "the wait returned while the job was running"
    done = {"type": "Succeeded", "status": "True", "reason": "TFJobSucceeded", "message": "done"}
    _write_status(tfjobs, "train-adult-ok", [CREATED, {**RUNNING, "status": "False"}, done])
    thread.join(timeout=30)
    assert "error" not in result, result
    assert tfjob.outcome(result["job"]) == ("Succeeded", "Succeeded: TFJobSucceeded: done")


def test_the_wait_fails_with_the_operators_reason(tfjobs):
    tfjob.create(_body(tfjobs, "train-adult-failed"), run_api(tfjobs))
    thread, result = _waiting(tfjobs, "train-adult-failed", 60)
    failed = {
        "type": "Failed", "status": "True", "reason": "TFJobFailed",
        "message": "TFJob kubeflow/train-adult-failed has failed because 1 Worker replica(s) failed.",
    }  # fmt: skip
    _write_status(tfjobs, "train-adult-failed", [CREATED, RUNNING, failed])
    thread.join(timeout=30)
    error = result.get("error")
    assert isinstance(error, tfjob.TrainingJobFailed), result
    assert (
        "train-adult-failed failed: Failed: TFJobFailed: TFJob kubeflow/train-adult-failed has failed"
        in str(error)
    )


def test_the_wait_gives_up_after_its_timeout_naming_the_last_status(tfjobs):
    tfjob.create(_body(tfjobs, "train-adult-stuck"), run_api(tfjobs))
    thread, result = _waiting(tfjobs, "train-adult-stuck", 1.5)
    thread.join(timeout=30)
    error = result.get("error")
    assert isinstance(error, tfjob.TrainingJobFailed), result
    assert "did not finish in 1.5 s; last status: no status yet (is the training operator installed?)" in str(
        error
    )
