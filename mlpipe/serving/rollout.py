"""Serving rollout: point the serving target at one registry version (push, promote, rollback).

The patch bodies are pure functions; `apply` sends them with the kubernetes client (the push
step's own pusher token on a cluster, else the kubeconfig) as field manager `mlpipe-pusher`. Names come from
`mlpipe.serving.names`, the params.env the manifests use too. The manifests set none of
the fields patched here, so re-applying them never moves serving.
- deployment: the pod template annotation mlpipe.io/model-version, which the init container
  reads (downward API) to sync that version's serving prefix; a rolling update, no downtime,
  waited on until every pod is updated and available.
- blue-green (`serving.strategy: blue-green` with the deployment target): the idle colour's
  Deployment gets that annotation, and once it is ready the Service switches to it
  (`mlpipe.serving.blue_green`).
- kserve: storageUri pinned to the version's serving prefix (one immutable version) and a new
  revision, optionally as a canary (`canaryTrafficPercent`); promote sends 100 %; rollback pins
  the older version's prefix with all traffic. After a kserve patch, the InferenceService's
  status is read until it is ready (`rollout_status`), unless the wait is 0.
- shadow (`serving.strategy: shadow` with the kserve target): the new version goes to the shadow
  InferenceService, which gets a mirrored copy of live traffic; promote pins the primary to it;
  rollback pins the primary (`mlpipe.serving.shadow`).
"""

from __future__ import annotations

import os
from pathlib import Path

from mlpipe.errors import UserInputError
from mlpipe.serving.names import PUSHER_TOKEN_DIR, ServingNames

VERSION_ANNOTATION = "mlpipe.io/model-version"
URI_ANNOTATION = "mlpipe.io/model-uri"
SYNC_CONTAINER = "sync-model"
KSERVE = ("serving.kserve.io", "v1beta1", "inferenceservices")
FIELD_MANAGER = "mlpipe-pusher"


def deployment_patch(version: int, registry_uri: str) -> dict:
    """Strategic merge patch of the pod template annotations: new pods sync `version`."""
    annotations = {VERSION_ANNOTATION: str(version), URI_ANNOTATION: registry_uri}
    return {"spec": {"template": {"metadata": {"annotations": annotations}}}}


def inferenceservice_patch(names: ServingNames, version: int, canary_percent: int) -> dict:
    """Merge patch: storageUri pinned to the version's serving prefix (one immutable version), a new
    revision, optional canary (None deletes the field: all traffic to the new revision)."""
    if not 0 <= canary_percent <= 100:
        raise UserInputError(f"serving.canary_traffic_percent must be 0-100, got {canary_percent}")
    predictor: dict = {
        "annotations": {VERSION_ANNOTATION: str(version)},
        "model": {"storageUri": names.version_uri(version)},
        "canaryTrafficPercent": canary_percent if canary_percent else None,
    }
    return {"metadata": {"annotations": {VERSION_ANNOTATION: str(version)}}, "spec": {"predictor": predictor}}


def promote_patch() -> dict:
    """All traffic to the latest (canary) revision."""
    return {"spec": {"predictor": {"canaryTrafficPercent": 100}}}


def api_client(kubeconfig: str | None = None, token_dir: str | Path = PUSHER_TOKEN_DIR):
    """The pusher's own token when the step mounts it (a cluster run), else the pod's account,
    else the kubeconfig (a laptop)."""
    from kubernetes import client, config
    from kubernetes.config.incluster_config import InClusterConfigLoader

    token = Path(token_dir) / "token"
    if token.is_file():
        configuration = client.Configuration()
        InClusterConfigLoader(
            token_filename=str(token), cert_filename=str(Path(token_dir) / "ca.crt")
        ).load_and_set(configuration)
        return client.ApiClient(configuration)
    try:
        config.load_incluster_config()
    except config.ConfigException:
        # the client reads KUBECONFIG once, when it is imported: read it now
        config.load_kube_config(config_file=kubeconfig or os.environ.get("KUBECONFIG"))
    return client.ApiClient()


TARGETS = ("deployment", "blue-green", "kserve", "shadow")


def _check_target(target: str) -> None:
    if target not in TARGETS:
        raise UserInputError(
            f"unknown serving target {target!r}; expected none, deployment, blue-green, kserve or shadow"
        )


def get_inferenceservice(names: ServingNames, api=None, name: str | None = None) -> dict:
    """The InferenceService `name` (default: the primary, INFERENCE_SERVICE) as a dict."""
    from kubernetes import client

    group, version, plural = KSERVE
    return client.CustomObjectsApi(api or api_client()).get_namespaced_custom_object(
        group, version, names.namespace, plural, name or names.inference_service
    )


def patch_inferenceservice(api, names: ServingNames, name: str, body: dict, wait: float = 0) -> dict:
    """Merge-patch the InferenceService `name` as the pusher; with `wait` > 0 seconds, its status
    once the new revision is ready."""
    from kubernetes import client

    group, version, plural = KSERVE
    result = client.CustomObjectsApi(api).patch_namespaced_custom_object(
        group, version, names.namespace, plural, name, body, field_manager=FIELD_MANAGER
    )
    answer = {"kind": "InferenceService", "name": name, "generation": result["metadata"].get("generation")}
    if wait > 0:
        from mlpipe.serving.status import wait_ready

        what = f"InferenceService {names.namespace}/{name}"
        answer["status"] = wait_ready(lambda: get_inferenceservice(names, api, name), wait, what)
    return answer


def patch_deployment(api, namespace: str, name: str, body: dict, wait: float = 0) -> dict:
    """Patch a serving Deployment as the pusher; with `wait` > 0 seconds, its status once every pod
    is updated and available."""
    from kubernetes import client

    result = client.AppsV1Api(api).patch_namespaced_deployment(
        name, namespace, body, field_manager=FIELD_MANAGER
    )
    answer = {"kind": "Deployment", "name": result.metadata.name, "generation": result.metadata.generation}
    if wait > 0:
        from mlpipe.serving.status import wait_deployment

        answer["status"] = wait_deployment(api, namespace, name, wait)
    return answer


def apply(target: str, names: ServingNames, body: dict, api=None, wait: float = 0) -> dict:
    """Send a patch to the serving object; returns what the API server answered (trimmed) and, with
    `wait` > 0 seconds, its status once ready (every pod of the Deployment updated and available;
    the InferenceService's new revision ready)."""
    _check_target(target)
    api = api or api_client()
    if target == "deployment":
        return patch_deployment(api, names.namespace, names.deployment, body, wait)
    return patch_inferenceservice(api, names, names.inference_service, body, wait)


def roll_out(
    target: str,
    names: ServingNames,
    version: int,
    registry_uri: str,
    canary_percent: int = 0,
    api=None,
    wait: float = 0,
) -> dict:
    """Point `target` at `version`; `none` does nothing."""
    if target == "none":
        return {"target": "none"}
    _check_target(target)
    if target == "blue-green":
        from mlpipe.serving import blue_green

        return {
            "target": target,
            "version": version,
            **blue_green.roll_out(names, version, registry_uri, api or api_client(), wait),
        }
    if target == "shadow":
        from mlpipe.serving import shadow

        return {
            "target": target,
            "version": version,
            **shadow.roll_out(names, version, api or api_client(), wait),
        }
    if target == "deployment":
        body = deployment_patch(version, registry_uri)
    else:
        body = inferenceservice_patch(names, version, canary_percent)
    return {"target": target, "version": version, **apply(target, names, body, api, wait)}


def promote(registry, model: str, target: str, names: ServingNames, api=None, wait: float = 0) -> dict:
    """KServe: the canary revision gets 100 % of the traffic (shadow: the primary serves the
    shadow's version)."""
    if target == "shadow":
        from mlpipe.serving import shadow

        return shadow.promote(registry, model, names, api or api_client(), wait)
    if target != "kserve":
        raise UserInputError(f"promote moves a KServe canary to 100 %; the {target!r} target has no canary")
    version = registry.serving_version(model)
    if version is None:
        raise UserInputError(f"nothing to promote: no version of {model} has been rolled out")
    serving = {"target": "kserve", **apply("kserve", names, promote_patch(), api, wait)}
    registry.set_serving(model, version)
    return {"version": version, "serving": serving}


def rollback(
    registry, model: str, target: str, names: ServingNames, to: int | None = None, api=None, wait: float = 0
) -> dict:
    """Serve `to`, or the published version before the one serving now, with all traffic (a KServe
    canary is dropped: storageUri is pinned to the older version; blue-green switches back to the
    other colour when it still holds `to`); records it in the registry."""
    versions = registry.versions(model)
    current = registry.serving_version(model) or (versions[-1] if versions else None)
    if to is None:
        older = [v for v in versions if current is not None and v < current]
        if not older:
            raise UserInputError(f"nothing to roll back to: {model} serves version {current}, none older")
        to = older[-1]
    registry.metadata(model, to)  # must be published
    if target == "blue-green":
        from mlpipe.serving import blue_green

        switched = blue_green.roll_back(names, to, registry.uri(model, to), api or api_client(), wait)
        serving = {"target": target, "version": to, **switched}
    else:  # shadow: the primary, as the kserve target does; the shadow keeps what it holds
        primary = "kserve" if target == "shadow" else target
        serving = roll_out(primary, names, to, registry.uri(model, to), canary_percent=0, api=api, wait=wait)
    registry.set_serving(model, to)
    return {"version": to, "previous": current, "serving": serving}
