"""Blue-green serving for the Deployment target (manifests/overlays/kind-blue-green).

Two TF Serving Deployments, `<deployment>-blue` and `<deployment>-green`, and one Service whose
selector is the live one's pod selector (`mlpipe.io/colour` tells them apart). A rollout pins the
idle colour to the new version, waits until that Deployment is ready, then switches the Service:
traffic moves at once, and the old colour keeps serving the previous version, so a rollback to it
is a switch of the Service alone. No manifest sets the selector or a version: only the pusher does.
"""

from __future__ import annotations

from mlpipe.serving.names import ServingNames
from mlpipe.serving.status import wait_deployment

COLOURS = ("blue", "green")
COLOUR_LABEL = "mlpipe.io/colour"


def colour_deployment(names: ServingNames, colour: str) -> str:
    return f"{names.deployment}-{colour}"


def other(colour: str | None) -> str:
    """The idle colour: the one that is not live (blue before the first switch)."""
    return "green" if colour == "blue" else "blue"


def selector_patch(pod_selector: dict[str, str]) -> dict:
    """The Service's whole selector (an atomic field): exactly the colour Deployment's."""
    return {"spec": {"selector": dict(pod_selector)}}


def _apps(api):
    from kubernetes import client

    return client.AppsV1Api(api)


def live_colour(names: ServingNames, api) -> str | None:
    from kubernetes import client

    service = client.CoreV1Api(api).read_namespaced_service(names.service, names.namespace)
    return (service.spec.selector or {}).get(COLOUR_LABEL)


def colour_states(names: ServingNames, api) -> dict[str, dict]:
    """Each colour's `serving_state.deployment_state`: the version its pod template pins (None
    before its first rollout) and its pods' progress."""
    from mlpipe.serving.state import deployment_state

    states = {}
    for colour in COLOURS:
        deployment = _apps(api).read_namespaced_deployment(colour_deployment(names, colour), names.namespace)
        states[colour] = deployment_state(api.sanitize_for_serialization(deployment))
    return states


def switch(names: ServingNames, colour: str, api) -> None:
    from kubernetes import client

    from mlpipe.serving.rollout import FIELD_MANAGER

    deployment = _apps(api).read_namespaced_deployment(colour_deployment(names, colour), names.namespace)
    pods = deployment.spec.selector.match_labels or {}
    if pods.get(COLOUR_LABEL) != colour:
        raise ValueError(
            f"Deployment {deployment.metadata.name} does not select {COLOUR_LABEL}={colour} pods"
        )
    client.CoreV1Api(api).patch_namespaced_service(
        names.service, names.namespace, selector_patch(pods), field_manager=FIELD_MANAGER
    )


def roll_out(names: ServingNames, version: int, registry_uri: str, api, wait: float) -> dict:
    """Pin the idle colour to `version`, wait until it is ready (`wait` seconds; 0: do not wait),
    then switch the Service to it. A colour that never gets ready leaves the Service where it was."""
    from mlpipe.serving.rollout import deployment_patch, patch_deployment

    live = live_colour(names, api)
    idle = other(live)
    body = deployment_patch(version, registry_uri)
    answer = patch_deployment(api, names.namespace, colour_deployment(names, idle), body, wait)
    switch(names, idle, api)
    return {**answer, "strategy": "blue-green", "colour": idle, "previous_colour": live}


def roll_back(names: ServingNames, version: int, registry_uri: str, api, wait: float) -> dict:
    """Serve `version`: at once when the idle colour still holds it, else as a new rollout."""
    live = live_colour(names, api)
    idle = other(live)
    if live is not None and colour_states(names, api)[idle]["version"] == version:
        if wait > 0:
            wait_deployment(api, names.namespace, colour_deployment(names, idle), wait)
        switch(names, idle, api)
        return {"strategy": "blue-green", "colour": idle, "previous_colour": live, "switched_only": True}
    return roll_out(names, version, registry_uri, api, wait)
