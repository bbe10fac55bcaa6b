"""The serving names a cluster runs with, read at run time from what is deployed.

Each overlay generates the ConfigMap `serving-params` (params.env, merged with the overlay's)
in its serving namespace; that namespace is the run config's `serving.namespace`. The push
step reads it before it publishes, and `mlpipe submit` reads it before it sends a run, so a
config can only publish where its serving objects read, and two datasets deployed in two
namespaces publish and serve side by side.
"""

from __future__ import annotations

from mlpipe.errors import UserInputError
from mlpipe.serving.names import PARAMS_CONFIGMAP, ServingNames, names_from_params


class NamesUnreadable(UserInputError):
    """This identity may not read the serving names (RBAC)."""


def read_serving_names(namespace: str, api=None) -> ServingNames:
    """The names in `namespace`'s serving-params ConfigMap; one clear line when it cannot be read."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    from mlpipe.serving.rollout import api_client

    where = f"ConfigMap {namespace}/{PARAMS_CONFIGMAP}"
    try:
        configmap = client.CoreV1Api(api or api_client()).read_namespaced_config_map(
            PARAMS_CONFIGMAP, namespace
        )
    except ApiException as exc:
        if exc.status == 404:
            raise UserInputError(
                f"no {where}: deploy the serving overlay there, or set serving.namespace to where it is"
            ) from None
        if exc.status == 403:
            raise NamesUnreadable(f"this identity may not read {where} (RBAC)") from None
        raise
    try:
        names = names_from_params(dict(configmap.data or {}), where)
    except ValueError as exc:
        raise UserInputError(str(exc)) from None
    if names.namespace != namespace:
        raise UserInputError(f"{where} says SERVING_NAMESPACE={names.namespace}, not {namespace}")
    return names


def check_names(model: str, registry_uri: str, names: ServingNames) -> None:
    """The config publishes where serving reads: the same model name and, for an S3 registry, the
    bucket (no prefix) that serving reads."""
    if model != names.model_name:
        raise UserInputError(
            f"model_name {model!r} is not the served model {names.model_name!r} "
            f"(MODEL_NAME in {names.namespace}/{PARAMS_CONFIGMAP})"
        )
    if registry_uri.startswith("s3://"):
        from mlpipe.storage.s3 import split_uri

        bucket, prefix = split_uri(registry_uri)
        if bucket != names.registry_bucket or prefix.strip("/"):
            raise UserInputError(
                f"registry {registry_uri.rstrip('/')} is not where serving reads "
                f"(s3://{names.registry_bucket}, REGISTRY_BUCKET in {names.namespace}/{PARAMS_CONFIGMAP})"
            )
