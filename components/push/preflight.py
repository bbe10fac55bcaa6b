"""What push checks before it publishes anything: settings that make the rollout impossible, then
the serving object itself (it exists, and this identity may get and patch it).

Settings are checked without a cluster; the object through the kubernetes client: a
SelfSubjectAccessReview per verb (what RBAC lets this identity do, asked of the API server) and a
get. Every failure is one UserInputError line that says nothing was published.
"""

from __future__ import annotations

from mlpipe.errors import UserInputError
from mlpipe.serving.live import check_names
from mlpipe.serving.names import ServingNames
from mlpipe.serving.rollout import KSERVE, TARGETS, api_client

NOTHING = "nothing was published"


def check_settings(target: str, names: ServingNames, model: str, registry, canary_percent: int) -> None:
    """The serving target can read what push publishes: the same model name and, for an S3
    registry, the bucket (no prefix) that serving reads (params.env)."""
    if target == "none":
        return
    if target not in TARGETS:
        raise UserInputError(
            f"unknown serving target {target!r}; expected none, deployment, blue-green, kserve or shadow: "
            f"{NOTHING}"
        )
    if not 0 <= canary_percent <= 100:
        raise UserInputError(f"serving.canary_traffic_percent must be 0-100, got {canary_percent}: {NOTHING}")
    if canary_percent and target != "kserve":  # blue-green switches all traffic at once
        raise UserInputError(
            f"serving.canary_traffic_percent is for the kserve target, not {target}: {NOTHING}"
        )
    bucket, prefix = getattr(registry, "bucket", None), getattr(registry, "prefix", None)
    registry_uri = f"s3://{bucket}/{prefix or ''}" if bucket is not None else ""
    try:
        check_names(model, registry_uri, names)
    except UserInputError as exc:
        raise UserInputError(f"{exc}: {NOTHING}") from None


def _objects(target: str, names: ServingNames) -> list[tuple[str, str, str]]:
    """(API group, resource, name) of each object the rollout gets and patches."""
    if target == "deployment":
        return [("apps", "deployments", names.deployment)]
    if target == "blue-green":
        from mlpipe.serving.blue_green import COLOURS, colour_deployment

        colours = [("apps", "deployments", colour_deployment(names, c)) for c in COLOURS]
        return [*colours, ("", "services", names.service)]
    primary = [(KSERVE[0], KSERVE[2], names.inference_service)]
    if target == "shadow":  # push pins the shadow; promote and rollback the primary
        from mlpipe.serving.shadow import shadow_name

        return [*primary, (KSERVE[0], KSERVE[2], shadow_name(names))]
    return primary


def _read(api, group: str, resource: str, name: str, namespace: str) -> None:
    from kubernetes import client

    if resource == "deployments":
        client.AppsV1Api(api).read_namespaced_deployment(name, namespace)
    elif resource == "services":
        client.CoreV1Api(api).read_namespaced_service(name, namespace)
    else:
        client.CustomObjectsApi(api).get_namespaced_custom_object(group, KSERVE[1], namespace, resource, name)


def check_access(target: str, names: ServingNames, api=None) -> None:
    """The serving objects exist and this identity may get and patch them."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    if target == "none":
        return
    api = api or api_client()
    for group, resource, name in _objects(target, names):
        what = f"{resource}/{name} in namespace {names.namespace}"
        for verb in ("get", "patch"):
            review = client.V1SelfSubjectAccessReview(
                spec=client.V1SelfSubjectAccessReviewSpec(
                    resource_attributes=client.V1ResourceAttributes(
                        group=group, resource=resource, name=name, namespace=names.namespace, verb=verb
                    )
                )
            )
            answer = client.AuthorizationV1Api(api).create_self_subject_access_review(review)
            if not answer.status.allowed:
                raise UserInputError(f"this identity may not {verb} {what} (RBAC): {NOTHING}")
        try:
            _read(api, group, resource, name, names.namespace)
        except ApiException as exc:
            if exc.status == 404:
                raise UserInputError(f"the serving target {what} does not exist: {NOTHING}") from None
            raise


def preflight(target: str, names: ServingNames, model: str, registry, canary_percent: int, api=None) -> None:
    check_settings(target, names, model, registry, canary_percent)
    check_access(target, names, api)
