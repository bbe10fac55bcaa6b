"""The train step's TFJob path end to end: the step stages its inputs in MinIO, creates the TFJob as the
run's account on the real API server and waits; the test plays the training operator and kubelet:
it reads the created TFJob, starts each worker's container command on 127.0.0.1 with the TF_CONFIG
the operator would give it (and the Secret's values for the variables that reference it), and writes
the Succeeded condition when both exit 0. The step then holds the chief's model, and the staging
prefix is gone."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading

import pytest

from mlpipe.components.train.core import METADATA_FILE, SAVED_MODEL_DIR
from mlpipe.config.io import load_config

from .conftest import run_api, wait_for
from .test_tfjob import CREATED, RUNNING, _write_status

pytestmark = [pytest.mark.cluster, pytest.mark.s3, pytest.mark.slow]


def _operator(cluster, s3_server, job: dict) -> list[subprocess.Popen]:
    """Start every worker of `job` as its pod would run, with the operator's TF_CONFIG."""
    from servers import free_port

    worker = job["spec"]["tfReplicaSpecs"]["Worker"]
    (container,) = worker["template"]["spec"]["containers"]
    secret_values = {"AWS_ACCESS_KEY_ID": s3_server.access_key, "AWS_SECRET_ACCESS_KEY": s3_server.secret_key}
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    for item in container["env"]:
        env[item["name"]] = item.get("value") or secret_values[item["valueFrom"]["secretKeyRef"]["key"]]
    env["MLPIPE_S3_ENDPOINT"] = s3_server.endpoint  # the registry Service's DNS name, on this machine
    ports: set[int] = set()
    while len(ports) < worker["replicas"]:  # distinct ports (a closed probe's port may come back)
        ports.add(free_port())
    hosts = [f"127.0.0.1:{port}" for port in sorted(ports)]
    command = [sys.executable, *container["command"][1:], *container["args"]]
    processes = []
    for index in range(worker["replicas"]):
        tf_config = {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": index}}
        processes.append(
            subprocess.Popen(
                command,
                env={**env, "TF_CONFIG": json.dumps(tf_config)},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )  # fmt: skip
        )
    return processes


def test_the_train_step_trains_through_a_tfjob_and_collects_the_chiefs_model(
    tfjobs, s3_server, adult, adult_subsample, tmp_path
):
    from mlpipe.components.ingest.core import ingest
    from mlpipe.components.train.launch import train_as_tfjob
    from mlpipe.components.tune.core import TuneResult, write_outputs

    names = tfjobs.names
    sample = adult_subsample(
        tmp_path / "data", 2000, 1000, changes={"training.epochs": 2, "training.distributed.workers": 2}
    )
    config = load_config(sample.config)
    ingest(config, tmp_path / "examples", environ={})
    write_outputs(
        TuneResult(False, config.training.hyperparameters, None, []), tmp_path / "hp.json", tmp_path / "t.md"
    )
    client = s3_server.client()
    if not client.bucket_exists(names.registry_bucket):
        client.make_bucket(names.registry_bucket)

    result: dict = {}

    def step():
        try:
            result["train"] = train_as_tfjob(
                config, tmp_path / "examples", adult.schema, tmp_path / "hp.json",
                tmp_path / "model", tmp_path / "tensorboard", names, "localhost:5001/mlpipe-tf:test",
                fingerprint="f" * 64, api=run_api(tfjobs), environ=s3_server.environ(),
            )  # fmt: skip
        except Exception as exc:  # noqa: BLE001  handed to the test
            result["error"] = exc

    thread = threading.Thread(target=step)
    thread.start()
    try:

        def created():
            out = tfjobs.plane.kubectl("get", "tfjobs", "-n", names.pipeline_namespace, "-o", "json").stdout
            jobs = [
                j
                for j in json.loads(out)["items"]
                if re.fullmatch(r"train-adult-[0-9a-f]{8}", j["metadata"]["name"])
            ]
            return jobs[0] if jobs else None

        job = wait_for(lambda: created() or ("error" in result and {}), "the step to create its TFJob", 120)
        assert "error" not in result, result
        name = job["metadata"]["name"]
        _write_status(tfjobs, name, [CREATED, RUNNING])
        workers = _operator(tfjobs, s3_server, job)
        outputs = [w.communicate(timeout=400) for w in workers]
        for w, (_, err) in zip(workers, outputs, strict=True):
            assert w.returncode == 0, err[-4000:]
        done = {"type": "Succeeded", "status": "True", "reason": "TFJobSucceeded", "message": "ok"}
        _write_status(tfjobs, name, [CREATED, {**RUNNING, "status": "False"}, done])
    finally:
        thread.join(timeout=120)
    assert "error" not in result, result
    trained = result["train"]
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == [METADATA_FILE, SAVED_MODEL_DIR]
    metadata = json.loads((tmp_path / "model" / METADATA_FILE).read_text())
    assert metadata["workers"] == 2 and metadata["data_fingerprint"] == "f" * 64
    assert trained.metrics == metadata["metrics"] and trained.metrics["eval_auc"] > 0.8
    assert trained.epochs_run == 2 and trained.examples_per_second > 0
    assert any((tmp_path / "tensorboard").rglob("*tfevents*"))
    staged = list(client.list_objects(names.registry_bucket, prefix=".train-jobs/", recursive=True))
    assert staged == []  # the staging prefix is removed
