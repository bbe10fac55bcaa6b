"""`mlpipe models --cluster` reads which version each serving object serves, from the real API server."""

from __future__ import annotations

import pytest

from mlpipe.serving.rollout import roll_out
from mlpipe.serving.state import serving_state

from .conftest import registry_with_versions

pytestmark = pytest.mark.cluster


def test_models_shows_what_the_deployment_serves(kind_cluster, tmp_path, repo_root, monkeypatch, capsys):
    from mlpipe.cli.main import main

    names, plane = kind_cluster.names, kind_cluster.plane
    registry = registry_with_versions(tmp_path, names.model_name)
    registry.set_serving(names.model_name, 2)
    admin = plane.api_client(plane.token(names.pipeline_namespace, names.pusher_service_account))
    roll_out(
        "deployment", names, 1, registry.uri(names.model_name, 1), api=admin
    )  # behind the registry's back
    assert serving_state("deployment", names, admin)["version"] == 1

    monkeypatch.setenv("KUBECONFIG", plane.kubeconfig)
    config = str(repo_root / "configs" / "adult.yaml")
    code = main(
        [
            "models",
            "--config",
            config,
            "--registry",
            str(registry.root),
            "--cluster",
            "--target",
            "deployment",
        ]
    )
    assert code == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith(f"serving now: deployment {names.deployment}: version 1 (")
    assert last.endswith("; the registry's serving pointer says 2")


def test_serving_state_reads_the_kserve_version_and_canary(kubeflow_cluster):
    names, plane = kubeflow_cluster.names, kubeflow_cluster.plane
    api = plane.api_client(plane.token(names.pipeline_namespace, names.pusher_service_account))
    roll_out("kserve", names, 31, names.version_uri(31), canary_percent=20, api=api)
    state = serving_state("kserve", names, api)
    assert (state["version"], state["canary_percent"]) == (31, 20)
