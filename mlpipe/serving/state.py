"""What the cluster serves now, read back from the serving objects (for `mlpipe models`).

blue-green: the live colour (the Service's selector) and the version each colour holds.
deployment: the pod template annotation mlpipe.io/model-version (what new pods sync) and the
rollout's progress (updated / available replicas). kserve: the version in storageUri, the
canary percent, and the status (`rollout_status.read_status`); shadow: that of the primary, and
the version the shadow holds (not served: it gets mirrored traffic). Pure parsing functions plus
one get per object.
"""

from __future__ import annotations

from mlpipe.serving.names import ServingNames
from mlpipe.serving.rollout import KSERVE, VERSION_ANNOTATION, api_client
from mlpipe.serving.status import read_status


def _int(text) -> int | None:
    return int(text) if isinstance(text, str) and text.isdigit() else None


def deployment_state(deployment: dict) -> dict:
    template = deployment.get("spec", {}).get("template", {})
    status = deployment.get("status") or {}
    return {
        "version": _int((template.get("metadata", {}).get("annotations") or {}).get(VERSION_ANNOTATION)),
        "replicas": deployment.get("spec", {}).get("replicas"),
        "updated": status.get("updatedReplicas", 0),
        "available": status.get("availableReplicas", 0),
    }


def inferenceservice_state(isvc: dict, names: ServingNames) -> dict:
    predictor = isvc.get("spec", {}).get("predictor", {})
    uri = (predictor.get("model") or {}).get("storageUri") or ""
    prefix = names.storage_uri + "/"
    version = _int(uri[len(prefix) :].strip("/")) if uri.startswith(prefix) else None
    status = read_status(isvc)
    return {
        "version": version,
        "storage_uri": uri or None,
        "canary_percent": predictor.get("canaryTrafficPercent"),
        "ready": status["ready"],
        "traffic": status["traffic"],
    }


def serving_state(target: str, names: ServingNames, api=None) -> dict:
    """`{target, name, version, ...}` of the serving object, read from the API server."""
    from kubernetes import client

    api = api or api_client()
    if target == "blue-green":
        from mlpipe.serving.blue_green import colour_states, live_colour

        colours = colour_states(names, api)
        live = live_colour(names, api)
        serving = colours[live] if live else {"version": None, "replicas": None, "updated": 0, "available": 0}
        return {"target": target, "name": names.service, **serving, "live": live, "colours": colours}
    if target == "deployment":
        raw = client.AppsV1Api(api).read_namespaced_deployment(names.deployment, names.namespace)
        obj = api.sanitize_for_serialization(raw)
        return {"target": target, "name": names.deployment, **deployment_state(obj)}
    if target == "shadow":
        from mlpipe.serving.shadow import shadow_name, states

        both = states(names, api)
        shadow = {"name": shadow_name(names), **both["shadow"]}
        return {"target": target, "name": names.inference_service, **both["primary"], "shadow": shadow}
    group, version, plural = KSERVE
    obj = client.CustomObjectsApi(api).get_namespaced_custom_object(
        group, version, names.namespace, plural, names.inference_service
    )
    return {"target": target, "name": names.inference_service, **inferenceservice_state(obj, names)}


def describe(state: dict, pointer: int | None) -> str:
    """One line: what the cluster serves, and whether the registry's pointer agrees."""
    version = state["version"]
    line = f"{state['target']} {state['name']}: version {version if version is not None else 'none'}"
    if state["target"] == "blue-green":
        live = state["live"]
        parts = [f"{live} live" if live else "no colour live yet"]
        for colour, held in state["colours"].items():
            if colour != live:
                parts.append(
                    f"{colour} holds version {held['version'] if held['version'] is not None else 'none'}"
                )
        line += f" ({'; '.join(parts)})"
    elif state["target"] == "deployment":
        line += f" ({state['updated']}/{state['replicas']} pods updated, {state['available']} available)"
    else:
        canary = state["canary_percent"]
        line += f" at {canary} % (canary)" if canary not in (None, 100) else " at 100 %"
        line += ", ready" if state["ready"] else ", not ready"
        shadow = state.get("shadow")
        if shadow:
            held = shadow["version"] if shadow["version"] is not None else "none"
            line += f"; shadow {shadow['name']} holds version {held}, "
            line += "ready (mirrored traffic, answers discarded)" if shadow["ready"] else "not ready"
    if version != pointer:
        line += f"; the registry's serving pointer says {pointer if pointer is not None else 'none'}"
    return line
