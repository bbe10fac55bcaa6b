"""Blue-green serving (overlays/kind-blue-green) on a real API server with its real controllers.

No node runs pods here, so a stand-in kubelet marks a colour's pods Running and Ready; the
real ReplicaSet and Deployment controllers turn that into the Deployment's availability, which
the pusher waits for before it switches the Service. Every step runs with the pusher's token.
"""

from __future__ import annotations

import json

import pytest

from mlpipe.components.push.preflight import check_access
from mlpipe.errors import UserInputError
from mlpipe.serving.blue_green import COLOUR_LABEL, colour_deployment
from mlpipe.serving.rollout import VERSION_ANNOTATION, roll_out, rollback
from mlpipe.serving.state import describe, serving_state
from mlpipe.serving.status import RolloutNotReady

from .conftest import REPO, kubelet, pusher_api, registry_with_versions

pytestmark = pytest.mark.cluster


def _service_colour(cluster) -> str | None:
    names = cluster.names
    service = json.loads(
        cluster.plane.kubectl("get", "service", names.service, "-n", names.namespace, "-o", "json").stdout
    )
    return (service["spec"].get("selector") or {}).get(COLOUR_LABEL)


def _pinned(cluster, colour: str) -> str | None:
    names = cluster.names
    deployment = json.loads(
        cluster.plane.kubectl(
            "get", "deployment", colour_deployment(names, colour), "-n", names.namespace, "-o", "json"
        ).stdout
    )
    return (deployment["spec"]["template"]["metadata"].get("annotations") or {}).get(VERSION_ANNOTATION)


def test_the_overlay_ships_two_colours_and_leaves_the_colour_to_the_pusher(blue_green_cluster):
    names = blue_green_cluster.names
    assert _service_colour(blue_green_cluster) is None  # no selector (no endpoints) until the first push
    for colour in ("blue", "green"):
        assert _pinned(blue_green_cluster, colour) is None
    plane = blue_green_cluster.plane
    pusher = f"system:serviceaccount:{names.pipeline_namespace}:{names.pusher_service_account}"
    for resource in (
        f"deployments.apps/{names.deployment}-blue",
        f"deployments.apps/{names.deployment}-green",
        f"services/{names.service}",
    ):
        for verb in ("get", "patch"):
            done = plane.kubectl("auth", "can-i", verb, resource, "-n", names.namespace, f"--as={pusher}")
            assert done.stdout.strip() == "yes", (verb, resource)
    refused = plane.kubectl(
        "auth", "can-i", "patch", "services/minio", "-n", names.namespace, f"--as={pusher}", check=False
    )
    assert refused.stdout.strip() == "no"
    # push checks this before it publishes: the strategy must match what is deployed
    api = pusher_api(blue_green_cluster)
    check_access("blue-green", names, api)
    with pytest.raises(
        UserInputError, match=f"may not get deployments/{names.deployment} .*nothing was published"
    ):
        check_access("deployment", names, api)


def test_push_switches_only_once_the_new_colour_is_ready_and_rollback_switches_back(
    blue_green_cluster, tmp_path
):
    cluster, names = blue_green_cluster, blue_green_cluster.names
    api = pusher_api(cluster)
    registry = registry_with_versions(tmp_path, names.model_name, count=2)

    with kubelet(cluster, f"{COLOUR_LABEL}=blue"):
        first = roll_out("blue-green", names, 1, registry.uri(names.model_name, 1), api=api, wait=60)
    assert (first["colour"], first["previous_colour"], first["status"]["ready"]) == ("blue", None, True)
    assert _service_colour(cluster) == "blue" and _pinned(cluster, "blue") == "1"

    # green never gets ready: the Service stays on blue, and says why
    with pytest.raises(RolloutNotReady, match=f"{names.deployment}-green not ready after 3 s"):
        roll_out("blue-green", names, 2, registry.uri(names.model_name, 2), api=api, wait=3)
    assert _service_colour(cluster) == "blue" and _pinned(cluster, "green") == "2"

    # the retry of the same version, once green's pods come up
    with kubelet(cluster, f"{COLOUR_LABEL}=green"):
        second = roll_out("blue-green", names, 2, registry.uri(names.model_name, 2), api=api, wait=60)
    assert (second["colour"], second["previous_colour"]) == ("green", "blue")
    assert _service_colour(cluster) == "green" and _pinned(cluster, "blue") == "1"  # blue still holds 1
    registry.set_serving(names.model_name, 2)
    state = serving_state("blue-green", names, api)
    assert (state["live"], state["version"], state["colours"]["blue"]["version"]) == ("green", 2, 1)
    assert describe(state, 2).startswith(
        f"blue-green {names.service}: version 2 (green live; blue holds version 1"
    )

    # re-applying the manifests (a GitOps sync) moves nothing the pusher set
    again = cluster.plane.kubectl(
        "apply", "--server-side", "-k", str(REPO / "manifests/overlays/kind-blue-green")
    )
    assert again.returncode == 0
    assert _service_colour(cluster) == "green" and _pinned(cluster, "green") == "2"

    back = rollback(registry, names.model_name, "blue-green", names, api=api, wait=10)
    assert (back["version"], back["previous"]) == (1, 2)
    assert back["serving"]["switched_only"] is True  # blue was still serving 1: a switch, at once
    assert _service_colour(cluster) == "blue" and _pinned(cluster, "green") == "2"
    assert registry.serving_version(names.model_name) == 1
