"""Read a serving object's status after a rollout and wait until it serves what was asked.

KServe's controller writes `status`: the Ready condition, `observedGeneration`, and per component
the latest created and latest ready revisions and the traffic split. A rollout is done when the
controller has seen our generation, Ready is True and the newest revision is the ready one.
Pure functions over the object (tests write the status subresource with an admin client).
"""

from __future__ import annotations

import time
from collections.abc import Callable


class RolloutNotReady(RuntimeError):
    """Serving did not become ready in time (or said why it cannot)."""


def read_status(isvc: dict) -> dict:
    """`{ready, generation, observed_generation, reason, latest_created_revision,
    latest_ready_revision, traffic, url}` of an InferenceService object."""
    status = isvc.get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    ready_condition = conditions.get("Ready") or {}
    predictor = (status.get("components") or {}).get("predictor") or {}
    generation = (isvc.get("metadata") or {}).get("generation")
    observed = status.get("observedGeneration")
    created, latest_ready = predictor.get("latestCreatedRevision"), predictor.get("latestReadyRevision")
    seen = observed is not None and generation is not None and observed >= generation
    return {
        "ready": seen and ready_condition.get("status") == "True" and created == latest_ready,
        "generation": generation,
        "observed_generation": observed,
        "reason": _reason(seen, ready_condition, created, latest_ready),
        "latest_created_revision": created,
        "latest_ready_revision": latest_ready,
        "traffic": [
            {k: t.get(k) for k in ("revisionName", "percent", "latestRevision", "tag") if k in t}
            for t in predictor.get("traffic") or []
        ],
        "url": status.get("url"),
    }


def read_deployment_status(deployment: dict) -> dict:
    """`{ready, generation, observed_generation, reason, ...}` of a Deployment (a plain dict): the
    controller has seen our generation, every replica is updated and available, and no old one is
    left (what `kubectl rollout status` waits for)."""
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    generation = (deployment.get("metadata") or {}).get("generation")
    observed = status.get("observedGeneration")
    wanted = spec.get("replicas", 1)
    updated, available = status.get("updatedReplicas") or 0, status.get("availableReplicas") or 0
    total = status.get("replicas") or 0
    seen = observed is not None and generation is not None and observed >= generation
    if not seen:
        reason = "not yet seen by the Deployment controller"
    else:
        reason = f"{updated}/{wanted} pods updated, {available} available, {total - updated} old left"
    return {
        "ready": seen and updated >= wanted and total <= updated and available >= updated,
        "generation": generation,
        "observed_generation": observed,
        "reason": reason,
        "latest_created_revision": None,
        "latest_ready_revision": None,
    }


def _reason(seen: bool, condition: dict, created, latest_ready) -> str:
    if not seen:
        return "not yet seen by the KServe controller"
    if condition.get("status") == "True" and created != latest_ready:
        return f"revision {created} not ready yet"
    said = " ".join(str(p) for p in (condition.get("reason"), condition.get("message")) if p)
    return said or "no Ready condition"


def wait_ready(
    get: Callable[[], dict],
    timeout: float,
    what: str,
    interval: float = 2.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    reader: Callable[[dict], dict] = read_status,
) -> dict:
    """Poll `get()` until `reader` (an InferenceService's by default) says ready; the status, or
    RolloutNotReady after `timeout`."""
    deadline = clock() + timeout
    while True:
        status = reader(get())
        if status["ready"]:
            return status
        if clock() >= deadline:
            revisions = (
                f", latest created revision {status['latest_created_revision']}, latest ready "
                f"{status['latest_ready_revision']}"
                if status.get("latest_created_revision") is not None
                else ""
            )
            raise RolloutNotReady(
                f"{what} not ready after {timeout:g} s: {status['reason']} (generation "
                f"{status['generation']}, observed {status['observed_generation']}{revisions})"
            )
        sleep(interval)


def wait_deployment(api, namespace: str, name: str, timeout: float) -> dict:
    """Wait until the Deployment `namespace/name` is ready (`read_deployment_status`)."""
    from kubernetes import client

    apps = client.AppsV1Api(api)

    def get() -> dict:
        return api.sanitize_for_serialization(apps.read_namespaced_deployment(name, namespace))

    try:
        return wait_ready(get, timeout, f"Deployment {namespace}/{name}", reader=read_deployment_status)
    except RolloutNotReady as error:
        selector = (get().get("spec") or {}).get("selector", {}).get("matchLabels") or {}
        try:
            pods = client.CoreV1Api(api).list_namespaced_pod(
                namespace, label_selector=",".join(f"{k}={v}" for k, v in sorted(selector.items()))
            )
        except client.ApiException as denied:  # a pusher whose Role does not list pods
            raise RolloutNotReady(
                f"{error}; its pods' reasons cannot be read ({denied.status} {denied.reason}): "
                f"kubectl get pods -n {namespace}"
            ) from None
        problems = pod_problems(api.sanitize_for_serialization(pod) for pod in pods.items)
        raise RolloutNotReady(f"{error}; " + "; ".join(problems) if problems else str(error)) from None


def _last_words(message: str | None, limit: int = 300) -> str:
    """The end of a termination message (FallbackToLogsOnError: the log's last lines), one line."""
    text = " | ".join(line.strip() for line in (message or "").strip().splitlines()[-3:] if line.strip())
    return text if len(text) <= limit else "..." + text[-limit:]


def _container_problem(container: dict, init: bool) -> str | None:
    state, last = container.get("state") or {}, (container.get("lastState") or {}).get("terminated") or {}
    label = f"init container {container['name']}: " if init else ""
    if "waiting" in state:
        waiting = state["waiting"]
        if waiting.get("reason") == "PodInitializing":
            return None  # waits for the init containers, whose problem is said
        said = " ".join(p for p in (waiting.get("reason"), waiting.get("message")) if p)
        if last:
            said += f"; last exit {last.get('exitCode')}"
            if last.get("message"):
                said += f": {_last_words(last['message'])}"
        return label + said
    if "terminated" in state:
        ended = state["terminated"]
        if init and ended.get("exitCode") == 0:
            return None
        said = f"{ended.get('reason', 'terminated')} (exit {ended.get('exitCode')})"
        return label + (f"{said}: {_last_words(ended['message'])}" if ended.get("message") else said)
    if init or container.get("ready"):
        return None
    return f"container {container['name']} running but not ready (readiness probe)"


def pod_problems(pods) -> list[str]:
    """Why each pod (a plain dict) is not ready, as its kubelet says: an init or main container
    waiting (ErrImageNeverPull, CrashLoopBackOff: with the message and the last exit's log lines),
    one that exited, a failing readiness probe, or the scheduler's reason for a pod on no node."""
    problems = []
    for pod in pods:
        name = pod["metadata"]["name"]
        status = pod.get("status") or {}
        conditions = {c.get("type"): c for c in status.get("conditions") or []}
        if (conditions.get("Ready") or {}).get("status") == "True":
            continue
        said = [
            problem
            for init, key in ((True, "initContainerStatuses"), (False, "containerStatuses"))
            for container in status.get(key) or []
            if (problem := _container_problem(container, init))
        ]
        scheduled = conditions.get("PodScheduled") or {}
        if not said and scheduled.get("status") == "False":
            said.append(f"{scheduled.get('reason')}: {scheduled.get('message')}")
        problems.append(f"pod {name}: {'; '.join(said) or status.get('phase', 'not ready')}")
    return problems
