"""Serving names read at run time from the deployed overlay's ConfigMap, on the real API server:
two datasets deployed side by side (each its own serving namespace, model and pusher; the
kubeflow overlay, since the kind overlay's NodePorts are fixed host ports, one dataset per kind
cluster) publish and serve without touching each other, and a config that points at the
other's serving is refused before anything is published (push) or sent (submit)."""

from __future__ import annotations

import json
import logging
import shutil

import pytest

from mlpipe.cluster.submit import check_serving
from mlpipe.components.push.core import push
from mlpipe.errors import UserInputError
from mlpipe.registry.local import LocalRegistry
from mlpipe.serving.live import NamesUnreadable, read_serving_names
from mlpipe.serving.rollout import VERSION_ANNOTATION

from .conftest import REPO

pytestmark = pytest.mark.cluster

BLESSED = {"blessed": True, "reasons": []}


def _params(team: str) -> dict[str, str]:
    return {
        "SERVING_NAMESPACE": f"team-{team}",
        "SERVING_DEPLOYMENT": f"{team}-serving",
        "SERVING_SERVICE": f"{team}-serving",
        "MODEL_NAME": f"model_{team}",
        "INFERENCE_SERVICE": f"{team}-isvc",
        "REGISTRY_ENDPOINT": f"minio.team-{team}.svc.cluster.local:9000",
        "PIPELINE_CREDENTIALS_SECRET": f"registry-pipeline-{team}",
        "PUSHER_SERVICE_ACCOUNT": f"pusher-{team}",
        "PUSHER_TOKEN_SECRET": f"pusher-{team}-token",
    }


@pytest.fixture(scope="module")
def teams(kubeflow_cluster, tmp_path_factory):
    """Two more datasets' kubeflow overlays, applied beside the plane's own (which stays as it was)."""
    plane, names = kubeflow_cluster.plane, kubeflow_cluster.names
    before = plane.kubectl("get", "inferenceservice", names.inference_service, "-n", names.namespace,
                           "-o", "jsonpath={.metadata.generation}").stdout  # fmt: skip
    for team in ("a", "b"):
        tree = tmp_path_factory.mktemp(f"manifests-{team}") / "manifests"
        shutil.copytree(REPO / "manifests", tree)
        params = tree / "base" / "params.env"
        values = _params(team)
        lines = [
            f"{key}={values[key]}" if (key := line.partition("=")[0]) in values else line
            for line in params.read_text().splitlines()
        ]
        params.write_text("\n".join(lines) + "\n")
        plane.kubectl("apply", "--server-side", "-k", str(tree / "overlays" / "kubeflow"))
    after = plane.kubectl("get", "inferenceservice", names.inference_service, "-n", names.namespace,
                          "-o", "jsonpath={.metadata.generation}").stdout  # fmt: skip
    assert after == before
    return kubeflow_cluster


def _config(adult, team: str, namespace: str):
    from mlpipe.config.io import load_config

    config = load_config(adult.config, check_data=False)
    serving = config.serving.model_copy(
        update={"target": "kserve", "namespace": namespace, "rollout_timeout_seconds": 0}
    )
    return config.model_copy(update={"model_name": f"model_{team}", "serving": serving})


def _model(folder):
    (folder / "saved_model").mkdir(parents=True)
    (folder / "saved_model" / "saved_model.pb").write_bytes(folder.name.encode())
    (folder / "model_metadata.json").write_text(json.dumps({"training_fingerprint": folder.name * 4}))
    return folder


def _pinned(cluster, team: str) -> str | None:
    out = cluster.plane.kubectl(
        "get", "inferenceservice", f"{team}-isvc", "-n", f"team-{team}", "-o", "json"
    ).stdout
    return (json.loads(out)["spec"]["predictor"].get("annotations") or {}).get(VERSION_ANNOTATION)


def test_two_datasets_publish_and_serve_side_by_side(teams, tmp_path, adult):
    plane = teams.plane
    pipelines = teams.names.pipeline_namespace
    for team in ("a", "b"):
        api = plane.api_client(plane.token(pipelines, f"pusher-{team}"))
        names = read_serving_names(f"team-{team}", api)  # what the push step does first
        assert (names.model_name, names.inference_service) == (f"model_{team}", f"{team}-isvc")
        registry = LocalRegistry(tmp_path / f"registry-{team}")
        config = _config(adult, team, f"team-{team}")
        result = push(
            config, _model(tmp_path / f"m-{team}"), BLESSED, BLESSED, registry, "kserve", names, api=api
        )
        assert result["version"] == 1 and _pinned(teams, team) == "1"
    assert _pinned(teams, "a") == "1" and _pinned(teams, "b") == "1"


def test_a_config_pointing_at_the_other_datasets_serving_is_refused_before_publishing(teams, tmp_path, adult):
    plane = teams.plane
    wrong = _config(adult, "a", "team-b")  # model_a, but the serving namespace of b
    pipelines = teams.names.pipeline_namespace
    api_a = plane.api_client(plane.token(pipelines, "pusher-a"))
    with pytest.raises(NamesUnreadable, match="may not read ConfigMap team-b/serving-params"):
        read_serving_names("team-b", api_a)  # a's pusher cannot even read b's names
    api_b = plane.api_client(plane.token(pipelines, "pusher-b"))
    names_b = read_serving_names("team-b", api_b)
    registry = LocalRegistry(tmp_path / "registry")
    with pytest.raises(
        UserInputError, match="model_name 'model_a' is not the served model 'model_b'.*nothing was published"
    ):
        push(wrong, _model(tmp_path / "m"), BLESSED, BLESSED, registry, "kserve", names_b, api=api_b)
    assert registry.versions("model_a") == []


def test_submit_checks_the_deployed_names_and_says_when_it_cannot(
    teams, adult, caplog, monkeypatch, tmp_path
):
    plane = teams.plane
    admin = plane.api_client(plane.env["KUBE_ADMIN_TOKEN"])  # the submitter's kubeconfig
    check_serving(_config(adult, "b", "team-b"), admin)  # consistent: no word
    with pytest.raises(UserInputError, match="model_name 'model_a' is not the served model 'model_b'"):
        check_serving(_config(adult, "a", "team-b"), admin)
    with pytest.raises(
        UserInputError, match="no ConfigMap team-c/serving-params: deploy the serving overlay"
    ):
        check_serving(_config(adult, "a", "team-c"), admin)
    # no kubeconfig on this machine: a warning, and the push step's preflight stays the guard
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with caplog.at_level(logging.WARNING):
        check_serving(_config(adult, "a", "team-a"))
    assert "could not read the serving names in namespace team-a" in caplog.text
