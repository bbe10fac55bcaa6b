"""The monitoring pipeline: compiled and submitted the way the training pipeline is.

Submission is checked against the recording KFP API server of test_submit.py.
"""

from __future__ import annotations

import base64
import gzip

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


def test_the_monitoring_ir_is_a_dag_of_the_stages(monitoring_ir):
    _, spec, platform = monitoring_ir
    assert spec["pipelineInfo"]["name"] == "mlpipe-monitoring"
    tasks = spec["root"]["dag"]["tasks"]
    steps = {"served-model", "ingest-batch", "statistics", "schema", "validate-batch", "ingest"}
    assert set(tasks) == {*steps, "predict", "performance", "monitor", "retrain"}
    after = {name: set(task.get("dependentTasks", [])) for name, task in tasks.items()}
    assert after["statistics"] == {"ingest-batch"} and after["schema"] == {"served-model"}
    assert {"statistics", "schema", "served-model"} <= after["validate-batch"]
    assert {"validate-batch", "predict", "performance"} <= after["monitor"]
    assert after["retrain"] == {"monitor"}
    # the shared stages are the training pipeline's own components
    for stage in ("statistics", "schema", "ingest"):
        assert tasks[stage]["componentRef"]["name"] == f"comp-{stage}"
    # every batch is new figures: no task but the reference data's ingest comes from the cache
    cached = {name for name, task in tasks.items() if task.get("cachingOptions", {}).get("enableCache")}
    assert cached == {"ingest"}
    # retrain carries the training pipeline's IR: it submits it, importing no pipeline code
    carried = tasks["retrain"]["inputs"]["parameters"]["training_pipeline"]["runtimeValue"]["constant"]
    assert len(carried) < 64_000  # a task's inputs are one argument of its command: 128 KB at most
    ir = gzip.decompress(base64.b64decode(carried)).decode()
    assert next(yaml.safe_load_all(ir))["pipelineInfo"]["name"] == "mlpipe-training"
    parameters = spec["root"]["inputDefinitions"]["parameters"]
    assert set(parameters) == {"config", "batch", "labels", "kfp_host"}
    assert parameters["kfp_host"]["defaultValue"] == IN_CLUSTER_KFP
    assert parameters["config"]["defaultValue"]["registry"]["uri"].startswith("s3://")
    outputs = spec["components"]["comp-monitor"]["outputDefinitions"]["artifacts"]
    assert outputs["dashboard"]["artifactType"]["schemaTitle"] == "system.HTML"
    assert outputs["metrics"]["artifactType"]["schemaTitle"] == "system.Metrics"
    # every step reaches the registry with the credentials Secret, by name only
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert set(executors) == {f"exec-{name}" for name in tasks}
    for executor in executors.values():
        assert executor["secretAsEnv"], executor


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
