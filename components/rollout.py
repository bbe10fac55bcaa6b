"""Serving rollout: point the serving target at a registry version (push and rollback).

The patch bodies are pure functions; `apply` sends them with the kubernetes
client (in-cluster config, else the kubeconfig). Names come from
`mlpipe.components.serving`, the params.env the manifests use too.
- deployment: pin the TF Serving Deployment's init container to the version
  (MODEL_VERSION) and stamp the pod template, a rolling update with no downtime.
- kserve: point the InferenceService at the registry prefix and roll a new
  revision (annotation), optionally as a canary (`canaryTrafficPercent`);
  rollback sends all traffic back to the previous rolled-out revision.
"""

from __future__ import annotations

from mlpipe.components.errors import UserInputError
from mlpipe.components.serving import ServingNames

VERSION_ANNOTATION = "mlpipe.io/model-version"
SYNC_CONTAINER = "sync-model"
KSERVE = ("serving.kserve.io", "v1beta1", "inferenceservices")


def deployment_patch(version: int, registry_uri: str) -> dict:
    """Strategic merge patch: the init container syncs `version`; the annotation rolls the pods."""
    return {
        "spec": {
            "template": {
                "metadata": {
                    "annotations": {VERSION_ANNOTATION: str(version), "mlpipe.io/model-uri": registry_uri}
                },
                "spec": {
                    "initContainers": [
                        {"name": SYNC_CONTAINER, "env": [{"name": "MODEL_VERSION", "value": str(version)}]}
                    ]
                },
            }
        }
    }


def inferenceservice_patch(names: ServingNames, version: int, canary_percent: int) -> dict:
    """Merge patch: storageUri at the model's version folders, a new revision, optional canary."""
    if not 0 <= canary_percent <= 100:
        raise UserInputError(f"serving.canary_traffic_percent must be 0-100, got {canary_percent}")
    predictor: dict = {
        "annotations": {VERSION_ANNOTATION: str(version)},
        "model": {"storageUri": names.storage_uri},
        "canaryTrafficPercent": canary_percent if canary_percent else None,
    }
    return {"metadata": {"annotations": {VERSION_ANNOTATION: str(version)}}, "spec": {"predictor": predictor}}


def inferenceservice_rollback_patch() -> dict:
    """All traffic back to the last revision that was fully rolled out (KServe's canary rollback)."""
    return {"spec": {"predictor": {"canaryTrafficPercent": 0}}}


def api_client(kubeconfig: str | None = None):
    from kubernetes import client, config

    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config(config_file=kubeconfig)
    return client.ApiClient()


def apply(target: str, names: ServingNames, body: dict, api=None) -> dict:
    """Send a patch to the serving object; returns what the API server answered (trimmed)."""
    from kubernetes import client

    api = api or api_client()
    if target == "deployment":
        result = client.AppsV1Api(api).patch_namespaced_deployment(names.deployment, names.namespace, body)
        return {"kind": "Deployment", "name": result.metadata.name, "generation": result.metadata.generation}
    if target == "kserve":
        group, version, plural = KSERVE
        result = client.CustomObjectsApi(api).patch_namespaced_custom_object(
            group, version, names.namespace, plural, names.inference_service, body
        )
        return {"kind": "InferenceService", "name": result["metadata"]["name"]}
    raise UserInputError(f"unknown serving target {target!r}; expected none, deployment or kserve")


def roll_out(
    target: str, names: ServingNames, version: int, registry_uri: str, canary_percent: int = 0, api=None
) -> dict:
    """Point `target` at `version`; `none` does nothing."""
    if target == "none":
        return {"target": "none"}
    if target == "deployment":
        body = deployment_patch(version, registry_uri)
    else:
        body = inferenceservice_patch(names, version, canary_percent)
    return {"target": target, "version": version, **apply(target, names, body, api)}


def rollback(registry, model: str, target: str, names: ServingNames, to: int | None = None, api=None) -> dict:
    """Serve `to`, or the published version before the one serving now; records it in the registry.

    kserve: traffic goes back to the previous rolled-out revision (KServe's TF runtime serves
    the newest version folder, so an arbitrary `to` can only be pinned on the deployment target).
    """
    if target == "kserve" and to is not None:
        raise UserInputError(
            "kserve rollback returns traffic to the previous rolled-out revision; --to is for the deployment target"
        )
    versions = registry.versions(model)
    current = registry.serving_version(model) or (versions[-1] if versions else None)
    if to is None:
        older = [v for v in versions if current is not None and v < current]
        if not older:
            raise UserInputError(f"nothing to roll back to: {model} serves version {current}, none older")
        to = older[-1]
    registry.metadata(model, to)  # must be published
    if target == "kserve":
        serving = {"target": "kserve", **apply("kserve", names, inferenceservice_rollback_patch(), api)}
    else:
        serving = roll_out(target, names, to, registry.uri(model, to), api=api)
    registry.set_serving(model, to)
    return {"version": to, "previous": current, "serving": serving}
