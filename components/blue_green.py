"""Blue-green serving for the Deployment target (manifests/overlays/kind-blue-green).

Two TF Serving Deployments, `<deployment>-blue` and `<deployment>-green`, and one Service whose
selector is the live one's pod selector (`mlpipe.io/colour` tells them apart). A rollout pins the
idle colour to the new version, waits until that Deployment is ready, then switches the Service:
traffic moves at once, and the old colour keeps serving the previous version, so a rollback to it
is a switch of the Service alone. No manifest sets the selector or a version: only the pusher does.
"""

from __future__ import annotations

from mlpipe.components.rollout_status import read_deployment_status, wait_ready
from mlpipe.components.serving import ServingNames

COLOURS = ("blue", "green")
COLOUR_LABEL = "mlpipe.io/colour"
FIELD_MANAGER = "mlpipe-pusher"


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


def colour_versions(names: ServingNames, api) -> dict[str, int | None]:
    """The version each colour's pod template pins (None before its first rollout)."""
    from mlpipe.components.rollout import VERSION_ANNOTATION

    versions = {}
    for colour in COLOURS:
        deployment = _apps(api).read_namespaced_deployment(colour_deployment(names, colour), names.namespace)
        text = (deployment.spec.template.metadata.annotations or {}).get(VERSION_ANNOTATION, "")
        versions[colour] = int(text) if text.isdigit() else None
    return versions


def switch(names: ServingNames, colour: str, api) -> None:
    from kubernetes import client

    deployment = _apps(api).read_namespaced_deployment(colour_deployment(names, colour), names.namespace)
    pods = deployment.spec.selector.match_labels or {}
    if pods.get(COLOUR_LABEL) != colour:
        raise ValueError(
            f"Deployment {deployment.metadata.name} does not select {COLOUR_LABEL}={colour} pods"
        )
    client.CoreV1Api(api).patch_namespaced_service(
        names.service, names.namespace, selector_patch(pods), field_manager=FIELD_MANAGER
    )


def _wait_ready(names: ServingNames, colour: str, api, wait: float) -> dict:
    name = colour_deployment(names, colour)

    def get() -> dict:
        return api.sanitize_for_serialization(_apps(api).read_namespaced_deployment(name, names.namespace))

    return wait_ready(get, wait, f"Deployment {names.namespace}/{name}", reader=read_deployment_status)


def roll_out(names: ServingNames, version: int, registry_uri: str, api, wait: float) -> dict:
    """Pin the idle colour to `version`, wait until it is ready (`wait` seconds; 0: do not wait),
    then switch the Service to it. A colour that never gets ready leaves the Service where it was."""
    from mlpipe.components.rollout import deployment_patch

    live = live_colour(names, api)
    idle = other(live)
    result = _apps(api).patch_namespaced_deployment(
        colour_deployment(names, idle), names.namespace, deployment_patch(version, registry_uri),
        field_manager=FIELD_MANAGER,
    )  # fmt: skip
    answer = {"kind": "Deployment", "name": result.metadata.name, "generation": result.metadata.generation}
    if wait > 0:
        answer["status"] = _wait_ready(names, idle, api, wait)
    switch(names, idle, api)
    return {**answer, "strategy": "blue-green", "colour": idle, "previous_colour": live}


def roll_back(names: ServingNames, version: int, registry_uri: str, api, wait: float) -> dict:
    """Serve `version`: at once when the idle colour still holds it, else as a new rollout."""
    live = live_colour(names, api)
    idle = other(live)
    if live is not None and colour_versions(names, api)[idle] == version:
        if wait > 0:
            _wait_ready(names, idle, api, wait)
        switch(names, idle, api)
        return {"strategy": "blue-green", "colour": idle, "previous_colour": live, "switched_only": True}
    return roll_out(names, version, registry_uri, api, wait)
