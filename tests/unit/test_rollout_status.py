"""Reading an InferenceService's status and waiting for it (pure: the object is a dict; the clock
and sleep are injected). The same logic against the real API server: tests/cluster/test_kserve_status.py."""

from __future__ import annotations

import pytest

from mlpipe.serving.status import RolloutNotReady, pod_problems, read_status, wait_ready


def isvc(generation=3, observed=3, ready="True", created="p-00003", latest_ready="p-00003", traffic=None):
    status: dict = {"components": {"predictor": {}}}
    if observed is not None:
        status["observedGeneration"] = observed
    if ready is not None:
        status["conditions"] = [
            {"type": "Ready", "status": ready, "reason": "RevisionMissing", "message": "m"}
        ]
    predictor = status["components"]["predictor"]
    if created:
        predictor["latestCreatedRevision"] = created
    if latest_ready:
        predictor["latestReadyRevision"] = latest_ready
    predictor["traffic"] = traffic or [{"revisionName": latest_ready, "percent": 100, "latestRevision": True}]
    return {"metadata": {"generation": generation}, "status": status}


def test_ready_when_our_generation_is_seen_ready_and_the_newest_revision_is_the_ready_one():
    status = read_status(isvc())
    assert status["ready"] is True
    assert status["traffic"] == [{"revisionName": "p-00003", "percent": 100, "latestRevision": True}]
    assert (status["latest_created_revision"], status["latest_ready_revision"]) == ("p-00003", "p-00003")


@pytest.mark.parametrize(
    "kwargs, reason",
    [
        ({"observed": 2}, "not yet seen"),  # an older generation's Ready says nothing about ours
        ({"observed": None}, "not yet seen"),
        ({"ready": "False"}, "RevisionMissing m"),
        ({"ready": None}, "no Ready condition"),
        ({"latest_ready": "p-00002"}, "revision p-00003 not ready yet"),
    ],
)
def test_not_ready(kwargs, reason):
    status = read_status(isvc(**kwargs))
    assert status["ready"] is False and reason in status["reason"]


def test_an_object_without_status_is_not_ready():
    assert read_status({"metadata": {"generation": 1}})["ready"] is False


def test_wait_polls_until_ready_and_times_out_with_one_line():
    answers = iter([isvc(observed=2), isvc(latest_ready="p-00002"), isvc()])
    now = [0.0]
    status = wait_ready(
        lambda: next(answers),
        60,
        "isvc x",
        clock=lambda: now[0],
        sleep=lambda s: now.__setitem__(0, now[0] + s),
    )
    assert status["ready"] and now[0] == 4.0  # two sleeps of 2 s
    with pytest.raises(
        RolloutNotReady, match=r"^isvc x not ready after 5 s: RevisionMissing m \(generation 3"
    ) as err:
        wait_ready(
            lambda: isvc(ready="False"),
            5,
            "isvc x",
            clock=lambda: now[0],
            sleep=lambda s: now.__setitem__(0, now[0] + s),
        )
    assert "\n" not in str(err.value)


def _pod(name, conditions=(), containers=(), phase="Pending"):
    return {
        "metadata": {"name": name},
        "status": {
            "phase": phase,
            "conditions": [{"type": t, "status": s, **extra} for t, s, extra in conditions],
            "containerStatuses": list(containers),
        },
    }


def test_pod_problems_say_what_the_kubelet_says_of_each_pod_that_is_not_ready():
    never = {"name": "c", "ready": False, "state": {"waiting": {"reason": "ErrImageNeverPull",
             "message": 'Container image "x:y" is not present with pull policy of Never'}}}  # fmt: skip
    crash = {"name": "c", "ready": False, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
    exited = {"name": "c", "ready": False, "state": {"terminated": {"reason": "Error", "exitCode": 2}}}
    unready = {"name": "c", "ready": False, "state": {"running": {}}}
    pods = [
        _pod(
            "a", [("Ready", "True", {})], [{"name": "c", "ready": True, "state": {"running": {}}}], "Running"
        ),
        _pod("b", [("Ready", "False", {})], [never]),
        _pod("c", [("Ready", "False", {})], [crash]),
        _pod("d", [("Ready", "False", {})], [exited]),
        _pod("e", [("Ready", "False", {})], [unready], "Running"),
        _pod("f", [("PodScheduled", "False", {"reason": "Unschedulable", "message": "0/1 nodes"})]),
    ]
    assert pod_problems(pods) == [
        'pod b: ErrImageNeverPull Container image "x:y" is not present with pull policy of Never',
        "pod c: CrashLoopBackOff",
        "pod d: Error (exit 2)",
        "pod e: container c running but not ready (readiness probe)",
        "pod f: Unschedulable: 0/1 nodes",
    ]


def test_pod_problems_name_a_failing_init_container_and_a_crash_loops_last_log_lines():
    fetch_failed = {"name": "sync-model", "ready": False, "state": {"waiting": {
        "reason": "CrashLoopBackOff", "message": "back-off 10s restarting failed container=sync-model"}},
        "lastState": {"terminated": {"exitCode": 1, "message": "INFO found nothing\n"
                      "cannot fetch the model from s3://models/m/3/: No model found\n"}}}  # fmt: skip
    initializing = {"name": "serve", "ready": False, "state": {"waiting": {"reason": "PodInitializing"}}}
    loaded_bad = {"name": "serve", "ready": False, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                  "lastState": {"terminated": {"exitCode": 1, "message": "x" * 400 + "\nOSError: bad"}}}  # fmt: skip
    init_done = {
        "name": "sync-model",
        "ready": False,
        "state": {"terminated": {"reason": "Completed", "exitCode": 0}},
    }
    pod = _pod("a", [("Ready", "False", {})], [initializing])
    pod["status"]["initContainerStatuses"] = [fetch_failed]
    other = _pod("b", [("Ready", "False", {})], [loaded_bad])
    other["status"]["initContainerStatuses"] = [init_done]
    first, second = pod_problems([pod, other])
    assert first == (
        "pod a: init container sync-model: CrashLoopBackOff back-off 10s restarting failed "
        "container=sync-model; last exit 1: INFO found nothing | cannot fetch the model from "
        "s3://models/m/3/: No model found"
    )
    assert second.startswith("pod b: CrashLoopBackOff; last exit 1: ...") and second.endswith("OSError: bad")
    assert len(second) < 400
