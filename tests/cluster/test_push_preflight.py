"""Push checks the serving object before it publishes: against the real API server (RBAC,
SelfSubjectAccessReview) and a real MinIO registry, an identity that may not patch serving, or a
serving object that does not exist, publishes nothing at all."""

from __future__ import annotations

import dataclasses
import json
import types

import pytest

from mlpipe.components.push.core import push
from mlpipe.components.push.preflight import check_access
from mlpipe.errors import UserInputError
from mlpipe.registry.access import open_registry

pytestmark = pytest.mark.cluster
BLESSED = {"blessed": True, "reasons": []}


def _model(folder):
    (folder / "saved_model").mkdir(parents=True)
    (folder / "saved_model" / "saved_model.pb").write_text("graph")
    (folder / "model_metadata.json").write_text(json.dumps({"training_fingerprint": "p" * 64}))
    return folder


@pytest.fixture
def serving_registry(s3_server, kind_cluster):
    """The registry bucket serving reads (params.env REGISTRY_BUCKET) on a real MinIO."""
    client, bucket = s3_server.client(), kind_cluster.names.registry_bucket
    if not client.bucket_exists(bucket):
        client.make_bucket(bucket)
    registry = open_registry(f"s3://{bucket}", s3_server.environ())

    def objects() -> list[str]:
        prefix = f"{kind_cluster.names.model_name}/"
        return sorted(o.object_name for o in client.list_objects(bucket, prefix=prefix, recursive=True))

    registry.objects = objects
    return registry


def _config(names):
    return types.SimpleNamespace(
        model_name=names.model_name,
        serving=types.SimpleNamespace(canary_traffic_percent=0, rollout_timeout_seconds=0),
    )


def _push(names, tmp_path, registry, api):
    """A blessed push of a fresh model to the Deployment target, as `api`."""
    return push(
        _config(names), _model(tmp_path / "m"), BLESSED, BLESSED, registry, "deployment", names, api=api
    )


def test_a_push_whose_identity_cannot_patch_serving_publishes_nothing(
    kind_cluster, serving_registry, tmp_path
):
    names, plane = kind_cluster.names, kind_cluster.plane
    plane.kubectl("create", "serviceaccount", "no-rights", "-n", names.pipeline_namespace)
    api = plane.api_client(plane.token(names.pipeline_namespace, "no-rights"))
    before = serving_registry.objects()
    with pytest.raises(
        UserInputError, match=f"may not get deployments/{names.deployment} .*nothing was published"
    ):
        _push(names, tmp_path, serving_registry, api)
    assert serving_registry.objects() == before  # no claim, no staging, no version


def test_a_push_to_a_serving_object_that_does_not_exist_publishes_nothing(
    kind_cluster, serving_registry, tmp_path
):
    from kubernetes import config

    names = dataclasses.replace(kind_cluster.names, deployment="not-there")
    admin = config.new_client_from_config(config_file=kind_cluster.plane.kubeconfig)  # may do anything
    before = serving_registry.objects()
    with pytest.raises(UserInputError, match="deployments/not-there in namespace .* does not exist: nothing"):
        _push(names, tmp_path, serving_registry, admin)
    assert serving_registry.objects() == before


def test_the_pusher_passes_the_checks_on_both_targets(kind_cluster, kubeflow_cluster):
    for cluster, target in ((kind_cluster, "deployment"), (kubeflow_cluster, "kserve")):
        names, plane = cluster.names, cluster.plane
        api = plane.api_client(plane.token(names.pipeline_namespace, names.pusher_service_account))
        check_access(target, names, api)  # no error
