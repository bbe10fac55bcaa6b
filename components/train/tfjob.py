"""Train as a Kubeflow TFJob: render the manifest, create it, wait for its outcome.

Kubeflow Trainer v2's TrainJob has no TensorFlow runtime (kubeflow/trainer#2443 open, TF support
deprioritized in #2699): TensorFlow runs as training-operator v1's `TFJob` (kubeflow.org/v1,
maintained on release-1.9), whose operator sets TF_CONFIG in every worker. Every worker runs the
same entry point as the step (`python -m mlpipe.components.train`) in the same `tf` image; worker 0
is the chief. The operator writes `status.conditions` (Created, Running, Restarting, Succeeded,
Failed); the wait returns on Succeeded and raises, with the operator's reason, on Failed or timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from mlpipe.config.dataset import DistributedTraining
from mlpipe.serving.names import ACCESS_KEY_ID_KEY, SECRET_ACCESS_KEY_KEY, ServingNames
from mlpipe.storage.s3 import ACCESS_KEY, ENDPOINT, SECRET_KEY, SECURE

TFJOB = ("kubeflow.org", "v1", "tfjobs")
CONTAINER = "tensorflow"  # the container name the operator looks for (and gives TF_CONFIG)
FIELD_MANAGER = "mlpipe-train"
ENTRY_POINT = ["python", "-m", "mlpipe.components.train"]
PORT = 2222  # the operator's default port, named as it expects: TF_CONFIG's addresses use it


class TrainingJobFailed(RuntimeError):
    """The TFJob failed, or did not finish in time."""


def render_tfjob(
    name: str,
    namespace: str,
    image: str,
    args: list[str],
    settings: DistributedTraining,
    names: ServingNames,
) -> dict:
    """The TFJob: `settings.workers` identical workers, registry credentials from the Secret
    (by name, never a value), no retries (a failed step is retried by the pipeline)."""
    secret = names.pipeline_credentials_secret
    env = [
        {"name": ENDPOINT, "value": names.registry_endpoint},
        {"name": SECURE, "value": str(names.registry_secure).lower()},
        {"name": ACCESS_KEY, "valueFrom": {"secretKeyRef": {"name": secret, "key": ACCESS_KEY_ID_KEY}}},
        {"name": SECRET_KEY, "valueFrom": {"secretKeyRef": {"name": secret, "key": SECRET_ACCESS_KEY_KEY}}},
    ]
    resources = {"cpu": settings.cpu, "memory": settings.memory}
    container = {
        "name": CONTAINER,
        "image": image,
        "command": ENTRY_POINT,
        "args": args,
        "env": env,
        "ports": [{"name": "tfjob-port", "containerPort": PORT, "protocol": "TCP"}],
        "resources": {"requests": resources, "limits": resources},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    return {
        "apiVersion": "kubeflow.org/v1",
        "kind": "TFJob",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": "mlpipe", "app.kubernetes.io/component": "train"},
        },
        "spec": {
            "runPolicy": {
                "backoffLimit": 0,
                "activeDeadlineSeconds": int(settings.timeout_seconds),
                "cleanPodPolicy": "Running",
                "ttlSecondsAfterFinished": 86400,
            },
            "tfReplicaSpecs": {
                "Worker": {
                    "replicas": settings.workers,
                    "restartPolicy": "Never",
                    "template": {
                        "metadata": {"labels": {"app.kubernetes.io/part-of": "mlpipe"}},
                        "spec": {"automountServiceAccountToken": False, "containers": [container]},
                    },
                }
            },
        },
    }


def create(body: dict, api) -> dict:
    """Strict field validation: a field the installed CRD does not know is an error, not dropped."""
    from kubernetes import client

    group, version, plural = TFJOB
    return client.CustomObjectsApi(api).create_namespaced_custom_object(
        group,
        version,
        body["metadata"]["namespace"],
        plural,
        body,
        field_manager=FIELD_MANAGER,
        field_validation="Strict",
    )


def get(name: str, namespace: str, api) -> dict:
    from kubernetes import client

    group, version, plural = TFJOB
    return client.CustomObjectsApi(api).get_namespaced_custom_object(group, version, namespace, plural, name)


def outcome(job: dict) -> tuple[str | None, str]:
    """(`Succeeded`, `Failed` or None while running, what the operator last said)."""
    conditions = (job.get("status") or {}).get("conditions") or []
    true = {c.get("type"): c for c in conditions if c.get("status") == "True"}
    for final in ("Failed", "Succeeded"):
        if final in true:
            return final, _said(true[final])
    latest = conditions[-1] if conditions else {}
    return None, _said(latest) if latest else "no status yet (is the training operator installed?)"


def _said(condition: dict) -> str:
    parts = [condition.get("type"), condition.get("reason"), condition.get("message")]
    return ": ".join(str(p) for p in parts if p)


def wait(
    get_job: Callable[[], dict],
    timeout: float,
    what: str,
    interval: float = 2.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict:
    """Poll until the job's Succeeded condition (returns the job) or Failed / timeout (raises)."""
    deadline = clock() + timeout
    while True:
        job = get_job()
        state, said = outcome(job)
        if state == "Succeeded":
            return job
        if state == "Failed":
            raise TrainingJobFailed(f"{what} failed: {said}")
        if clock() >= deadline:
            raise TrainingJobFailed(f"{what} did not finish in {timeout:g} s; last status: {said}")
        sleep(interval)
