"""Shadow serving for the KServe target (manifests/overlays/kubeflow-shadow).

Two InferenceServices: the primary, `<INFERENCE_SERVICE>`, answers every request; the shadow,
`<INFERENCE_SERVICE>-shadow`, gets a mirrored copy of the primary predictor's in-mesh traffic
(an Istio VirtualService `mirror`), and Envoy discards its answers; its predictions are logged
by KServe's logger. A push pins the new version into the shadow alone and waits until it is
ready: the primary, and the registry's serving pointer, stay where they were, because the shadow
serves nobody. `mlpipe promote` pins the primary to the shadow's version; `mlpipe rollback` pins
the primary to an older one (rollout.rollback). The manifests set no storageUri: only the pusher.
"""

from __future__ import annotations

from mlpipe.errors import UserInputError
from mlpipe.serving.names import ServingNames

SUFFIX = "-shadow"


def shadow_name(names: ServingNames) -> str:
    return f"{names.inference_service}{SUFFIX}"


def roll_out(names: ServingNames, version: int, api, wait: float) -> dict:
    """Pin the shadow to `version` and wait until it is ready (`wait` seconds; 0: do not wait). A
    shadow that never gets ready raises RolloutNotReady; the primary is never touched."""
    from mlpipe.serving.rollout import inferenceservice_patch, patch_inferenceservice

    body = inferenceservice_patch(names, version, 0)
    answer = patch_inferenceservice(api, names, shadow_name(names), body, wait)
    return {**answer, "strategy": "shadow", "primary": names.inference_service}


def states(names: ServingNames, api) -> dict[str, dict]:
    """`serving_state.inferenceservice_state` of the primary and of the shadow."""
    from mlpipe.serving.rollout import get_inferenceservice
    from mlpipe.serving.state import inferenceservice_state

    return {
        role: inferenceservice_state(get_inferenceservice(names, api, name), names)
        for role, name in (("primary", names.inference_service), ("shadow", shadow_name(names)))
    }


def promote(registry, model: str, names: ServingNames, api, wait: float) -> dict:
    """The primary serves the shadow's version, with all traffic; recorded in the registry once
    it is ready. The shadow keeps that version (it mirrors the same model until the next push)."""
    from mlpipe.serving.rollout import inferenceservice_patch, patch_inferenceservice

    version = states(names, api)["shadow"]["version"]
    if version is None:
        raise UserInputError(
            f"nothing to promote: the shadow InferenceService {names.namespace}/{shadow_name(names)} "
            f"holds no version of {model} (push one first)"
        )
    registry.metadata(model, version)  # must be published
    previous = registry.serving_version(model)
    body = inferenceservice_patch(names, version, 0)
    answer = patch_inferenceservice(api, names, names.inference_service, body, wait)
    registry.set_serving(model, version)
    return {"version": version, "previous": previous, "serving": {"target": "shadow", **answer}}
