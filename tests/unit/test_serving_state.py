"""Reading back what the serving objects serve (pure parsing; the cluster: tests/cluster/test_serving_state.py)."""

from __future__ import annotations

from mlpipe.serving.names import load_serving_names
from mlpipe.serving.state import deployment_state, describe, inferenceservice_state

NAMES = load_serving_names()


def test_the_deployment_serves_its_annotated_version():
    deployment = {
        "spec": {"replicas": 2, "template": {"metadata": {"annotations": {"mlpipe.io/model-version": "7"}}}},
        "status": {"updatedReplicas": 1, "availableReplicas": 2},
    }
    state = {"target": "deployment", "name": "d", **deployment_state(deployment)}
    assert (state["version"], state["updated"], state["available"]) == (7, 1, 2)
    assert describe(state, 7) == "deployment d: version 7 (1/2 pods updated, 2 available)"
    assert describe(state, 6).endswith("; the registry's serving pointer says 6")
    assert deployment_state({"spec": {"template": {}}})["version"] is None  # before the first push


def test_the_inferenceservice_serves_the_version_of_its_storage_uri():
    isvc = {
        "metadata": {"generation": 2},
        "spec": {"predictor": {"model": {"storageUri": NAMES.version_uri(12)}, "canaryTrafficPercent": 10}},
    }
    state = {"target": "kserve", "name": "i", **inferenceservice_state(isvc, NAMES)}
    assert (state["version"], state["canary_percent"], state["ready"]) == (12, 10, False)
    assert describe(state, 12) == "kserve i: version 12 at 10 % (canary), not ready"
    elsewhere = {"spec": {"predictor": {"model": {"storageUri": "s3://other/adult_income/3/"}}}}
    assert inferenceservice_state(elsewhere, NAMES)["version"] is None  # not our registry


def test_shadow_describes_the_primary_and_the_version_the_shadow_holds():
    primary = {
        "metadata": {"generation": 1},
        "spec": {"predictor": {"model": {"storageUri": NAMES.version_uri(3)}}},
    }
    shadow = {
        "metadata": {"generation": 1},
        "spec": {"predictor": {"model": {"storageUri": NAMES.version_uri(4)}}},
    }
    state = {
        "target": "shadow",
        "name": "i",
        **inferenceservice_state(primary, NAMES),
        "shadow": {"name": "i-shadow", **inferenceservice_state(shadow, NAMES)},
    }
    assert (
        describe(state, 3)
        == "shadow i: version 3 at 100 %, not ready; shadow i-shadow holds version 4, not ready"
    )
    # the pointer follows the primary, never the shadow
    assert describe(state, 4).endswith("; the registry's serving pointer says 4")
