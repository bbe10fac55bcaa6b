"""Rollout, rollback and push through `mlpipe/serving/rollout.py` against a real API server, with
the pusher ServiceAccount's own token (TokenRequest), as the push step in a pod would.

The controller-manager runs, so a Deployment patch makes a new ReplicaSet and revision; no node
runs the pods. KServe's controller does not run: the InferenceService's spec is what is checked.
"""

from __future__ import annotations

import json

import pytest

from mlpipe.components.push.core import push
from mlpipe.registry.local import LocalRegistry
from mlpipe.serving.rollout import SYNC_CONTAINER, VERSION_ANNOTATION, roll_out, rollback
from mlpipe.serving.status import RolloutNotReady

from .conftest import kubelet, pusher_api, registry_with_versions, wait_for

pytestmark = pytest.mark.cluster


def _deployment(cluster) -> dict:
    names = cluster.names
    return json.loads(
        cluster.plane.kubectl(
            "get", "deployment", names.deployment, "-n", names.namespace, "-o", "json"
        ).stdout
    )


def _synced_version(deployment: dict) -> str:
    """The version the pod template's init container syncs: MODEL_VERSION comes from the annotation."""
    template = deployment["spec"]["template"]
    (init,) = [c for c in template["spec"]["initContainers"] if c["name"] == SYNC_CONTAINER]
    (env,) = [e for e in init["env"] if e["name"] == "MODEL_VERSION"]
    assert env["valueFrom"]["fieldRef"]["fieldPath"] == f"metadata.annotations['{VERSION_ANNOTATION}']"
    return (template["metadata"].get("annotations") or {}).get(VERSION_ANNOTATION)


def _replica_sets(cluster) -> dict[str, str]:
    """revision -> the MODEL_VERSION its pod template syncs."""
    names = cluster.names
    items = json.loads(
        cluster.plane.kubectl(
            "get",
            "replicasets",
            "-n",
            names.namespace,
            "-l",
            "app.kubernetes.io/name=tf-serving",
            "-o",
            "json",
        ).stdout
    )["items"]
    return {
        rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: _synced_version(rs)
        for rs in items
    }


def _model(folder, tag: str):
    (folder / "saved_model").mkdir(parents=True)
    (folder / "saved_model" / "saved_model.pb").write_bytes(tag.encode())
    (folder / "model_metadata.json").write_text(json.dumps({"training_fingerprint": tag * 8}))
    return folder


def test_push_rollout_and_rollback_move_the_deployment_with_the_pushers_rights(kind_cluster, tmp_path, adult):
    from mlpipe.config.io import load_config

    names, api = kind_cluster.names, pusher_api(kind_cluster)
    config = load_config(adult.config, check_data=False)
    registry = LocalRegistry(tmp_path / "registry")
    blessed, infra = {"blessed": True, "reasons": []}, {"blessed": True, "reasons": []}
    before = _deployment(kind_cluster)
    # someone scales serving by hand while we roll out: our patch must keep their edit
    kind_cluster.plane.kubectl("scale", "deployment", names.deployment, "-n", names.namespace, "--replicas=2")

    with kubelet(kind_cluster, "app.kubernetes.io/name=tf-serving"):
        first = push(
            config, _model(tmp_path / "m1", "a"), blessed, infra, registry, "deployment", names, api=api
        )
        second = push(
            config, _model(tmp_path / "m2", "b"), blessed, infra, registry, "deployment", names, api=api
        )
    assert (first["version"], second["version"]) == (1, 2)
    assert second["serving"]["kind"] == "Deployment"
    # push waited for the rolling update: both pods (replicas=2) updated and available, none old
    assert second["serving"]["status"]["ready"] is True
    after = _deployment(kind_cluster)
    assert _synced_version(after) == "2"
    assert after["spec"]["template"]["metadata"]["annotations"][VERSION_ANNOTATION] == "2"
    assert after["spec"]["replicas"] == 2  # a strategic merge patch, not a replace
    assert after["metadata"]["generation"] > before["metadata"]["generation"]
    # the controller-manager made one ReplicaSet per pod template it saw
    revisions = wait_for(
        lambda: (r := _replica_sets(kind_cluster)) and "2" in r.values() and r, "a ReplicaSet of v2"
    )
    assert {"1", "2"} <= set(revisions.values())
    pushed_v1 = max((rev for rev, version in revisions.items() if version == "1"), key=int)

    result = rollback(registry, config.model_name, "deployment", names, api=api)
    assert (result["version"], result["previous"]) == (1, 2)
    assert _synced_version(_deployment(kind_cluster)) == "1"
    assert registry.serving_version(config.model_name) == 1
    # back to the pushed v1 template: the controller reuses that ReplicaSet under a new revision
    latest = wait_for(
        lambda: (r := _replica_sets(kind_cluster)) and r[max(r, key=int)] == "1" and r,
        "the v1 ReplicaSet on top",
    )
    assert len(latest) == len(revisions) and pushed_v1 not in latest


def test_a_rolling_update_that_never_gets_ready_fails_the_push_and_the_retry_reuses_it(
    kind_cluster, tmp_path, adult
):
    from mlpipe.config.io import load_config

    names, api = kind_cluster.names, pusher_api(kind_cluster)
    config = load_config(adult.config, check_data=False)
    impatient = config.model_copy(
        update={"serving": config.serving.model_copy(update={"rollout_timeout_seconds": 3})}
    )
    registry = LocalRegistry(tmp_path / "registry")
    blessed, infra = {"blessed": True, "reasons": []}, {"blessed": True, "reasons": []}
    model = _model(tmp_path / "m", "never")
    with pytest.raises(
        RolloutNotReady, match=f"Deployment {names.namespace}/{names.deployment} not ready after 3 s"
    ):
        push(impatient, model, blessed, infra, registry, "deployment", names, api=api)
    assert registry.versions(config.model_name) == [1]
    assert registry.serving_version(config.model_name) is None  # nothing took it: no new baseline
    with kubelet(kind_cluster, "app.kubernetes.io/name=tf-serving"):
        again = push(config, model, blessed, infra, registry, "deployment", names, api=api)
    assert (again["version"], again["reused"]) == (1, True)
    assert registry.serving_version(config.model_name) == 1


def test_a_pipeline_identity_without_the_pushers_rights_is_refused(kind_cluster):
    from kubernetes.client.exceptions import ApiException

    names, plane = kind_cluster.names, kind_cluster.plane
    plane.kubectl("create", "serviceaccount", "trainer", "-n", names.pipeline_namespace)
    api = plane.api_client(plane.token(names.pipeline_namespace, "trainer"))
    with pytest.raises(ApiException) as refused:
        roll_out("deployment", names, 9, "s3://models/x/9", api=api)
    assert refused.value.status == 403
    assert _synced_version(_deployment(kind_cluster)) != "9"


def test_a_kserve_rollout_patches_the_inferenceservice_with_merge_semantics(kubeflow_cluster):
    names, plane = kubeflow_cluster.names, kubeflow_cluster.plane
    api = pusher_api(kubeflow_cluster)

    def isvc() -> dict:
        out = plane.kubectl(
            "get", "inferenceservice", names.inference_service, "-n", names.namespace, "-o", "json"
        )
        return json.loads(out.stdout)

    canary = roll_out("kserve", names, 3, "s3://models/adult_income/3", canary_percent=10, api=api)
    assert isvc()["spec"]["predictor"]["model"]["storageUri"] == names.version_uri(
        3
    )  # pinned, not the prefix
    assert canary["kind"] == "InferenceService"
    predictor = isvc()["spec"]["predictor"]
    assert predictor["canaryTrafficPercent"] == 10
    assert predictor["annotations"][VERSION_ANNOTATION] == "3"
    # a full rollout sends null, and a JSON merge patch deletes the field: all traffic to the new revision
    roll_out("kserve", names, 4, "s3://models/adult_income/4", canary_percent=0, api=api)
    predictor = isvc()["spec"]["predictor"]
    assert "canaryTrafficPercent" not in predictor
    assert predictor["annotations"][VERSION_ANNOTATION] == "4"
    assert predictor["model"]["modelFormat"]["name"] == "tensorflow"  # the rest of the spec is kept


def test_rollback_to_nothing_older_and_to_a_missing_object_fail_clearly(kind_cluster, tmp_path):
    import dataclasses

    from kubernetes.client.exceptions import ApiException

    from mlpipe.errors import UserInputError

    names, api = kind_cluster.names, pusher_api(kind_cluster)
    registry = LocalRegistry(tmp_path / "registry")
    model = tmp_path / "model"
    model.mkdir()
    (model / "saved_model.pb").write_bytes(b"x")
    registry.publish(names.model_name, model, {"blessed": True})
    registry.set_serving(names.model_name, 1)
    with pytest.raises(UserInputError, match="nothing to roll back to"):
        rollback(registry, names.model_name, "deployment", names, api=api)
    # a Deployment the pusher may not even see: the server's answer, not a guess
    with pytest.raises(ApiException) as missing:
        roll_out("deployment", dataclasses.replace(names, deployment="not-there"), 1, "s3://m/1", api=api)
    assert missing.value.status == 403  # RBAC by resourceName: the pusher cannot learn it does not exist


def test_a_kserve_rollback_after_a_full_rollout_pins_the_previous_version(kubeflow_cluster, tmp_path):
    names, plane = kubeflow_cluster.names, kubeflow_cluster.plane
    api = pusher_api(kubeflow_cluster)
    registry = registry_with_versions(tmp_path, names.model_name)
    roll_out("kserve", names, 2, registry.uri(names.model_name, 2), canary_percent=0, api=api)
    registry.set_serving(names.model_name, 2)
    result = rollback(registry, names.model_name, "kserve", names, api=api)
    assert result["version"] == 1 and result["serving"]["kind"] == "InferenceService"
    out = plane.kubectl(
        "get", "inferenceservice", names.inference_service, "-n", names.namespace, "-o", "json"
    )
    predictor = json.loads(out.stdout)["spec"]["predictor"]
    assert predictor["model"]["storageUri"] == names.version_uri(1)  # really the previous version
    assert "canaryTrafficPercent" not in predictor and predictor["annotations"][VERSION_ANNOTATION] == "1"
    assert registry.serving_version(names.model_name) == 1
