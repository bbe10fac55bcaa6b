"""The monitoring pipeline: compiled and submitted the way the training pipeline is.

Submission is checked against the recording KFP API server of test_submit.py.
"""

from __future__ import annotations

import pytest
import yaml
from test_submit import FakeKfp, kfp_server  # noqa: F401 (the fixture)

from mlpipe.cli.main import main
from mlpipe.components.retrain.core import IN_CLUSTER_KFP


@pytest.fixture(scope="module")
def monitoring_ir(tmp_path_factory, repo_root):
    import os

    output = tmp_path_factory.mktemp("monitoring") / "monitoring.yaml"
    cwd = os.getcwd()
    os.chdir(repo_root)
    try:
        code = main(["compile", "--pipeline", "monitoring", "--output", str(output)])
    finally:
        os.chdir(cwd)
    assert code == 0
    spec, platform = yaml.safe_load_all(output.read_text())
    return output, spec, platform


def test_the_monitoring_ir_runs_monitor_then_retrain(monitoring_ir):
    _, spec, platform = monitoring_ir
    assert spec["pipelineInfo"]["name"] == "mlpipe-monitoring"
    tasks = spec["root"]["dag"]["tasks"]
    assert set(tasks) == {"monitor", "retrain"}
    assert tasks["retrain"]["dependentTasks"] == ["monitor"]
    # every batch is new figures: no task may come back from the cache
    assert all(
        task["cachingOptions"] == {} or not task["cachingOptions"].get("enableCache")
        for task in tasks.values()
    )
    parameters = spec["root"]["inputDefinitions"]["parameters"]
    assert set(parameters) == {"config", "batch", "labels", "kfp_host"}
    assert parameters["kfp_host"]["defaultValue"] == IN_CLUSTER_KFP
    assert parameters["config"]["defaultValue"]["registry"]["uri"].startswith("s3://")
    outputs = spec["components"]["comp-monitor"]["outputDefinitions"]["artifacts"]
    assert outputs["dashboard"]["artifactType"]["schemaTitle"] == "system.HTML"
    assert outputs["metrics"]["artifactType"]["schemaTitle"] == "system.Metrics"
    # both stages reach the registry with the credentials Secret, by name only
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert {"exec-monitor", "exec-retrain"} <= set(executors)
    for executor in ("exec-monitor", "exec-retrain"):
        assert executors[executor]["secretAsEnv"], executor


def test_the_monitoring_pipeline_is_submitted_with_its_batch(kfp_server, monitoring_ir, capsys):  # noqa: F811
    package, spec, _ = monitoring_ir
    batch = "s3://models/serving-logs/2026-11-23.csv"
    code = main(["submit", "--host", kfp_server.url, "--package", str(package), "--param", f"batch={batch}"])
    assert code == 0, capsys.readouterr().err
    (run,) = kfp_server.posted("/apis/v2beta1/runs")
    body = run["body"]
    parameters = body["runtime_config"]["parameters"]
    assert parameters["batch"] == batch
    assert parameters["config"] == spec["root"]["inputDefinitions"]["parameters"]["config"]["defaultValue"]
    submitted = body["pipeline_spec"].get("pipeline_spec", body["pipeline_spec"])
    assert submitted["pipelineInfo"]["name"] == "mlpipe-monitoring"


def test_a_recurring_monitoring_run_compiles_from_the_config(kfp_server, repo_root, monkeypatch, capsys):  # noqa: F811
    monkeypatch.chdir(repo_root)
    args = [
        "submit",
        "--host",
        kfp_server.url,
        "--pipeline",
        "monitoring",
        "--config",
        "configs/adult-cluster.yaml",
    ]
    code = main([*args, "--recurring", "0 * * * *", "--param", "batch=s3://models/serving-logs/latest.csv"])
    assert code == 0, capsys.readouterr().err
    (job,) = kfp_server.posted("/apis/v2beta1/recurringruns")
    assert job["body"]["trigger"]["cron_schedule"]["cron"] == "0 * * * *"
    assert (repo_root / "build" / "monitoring_pipeline.yaml").is_file()


def test_a_local_batch_is_refused_before_anything_is_sent(kfp_server, monitoring_ir, capsys):  # noqa: F811
    package, _, _ = monitoring_ir
    code = main(
        ["submit", "--host", kfp_server.url, "--package", str(package), "--param", "batch=/tmp/b.csv"]
    )
    assert code == 2
    assert "--param batch=/tmp/b.csv: a pod cannot read a local path" in capsys.readouterr().err
    assert kfp_server.requests == []
