"""The compiled pipeline runs as submitted: `build/training_pipeline.yaml`, the file `mlpipe submit`
sends, executed by kfp.local's DockerRunner in the project's images.

Only what a cluster user passes goes in: the config run parameter (as `mlpipe submit --config`
sends it), s3:// data and registry on the S3 server of the tests, and the credentials as the
Kubernetes Secret gives them (mapped to env vars by the IR's platform spec). Nothing of the
checkout is mounted. Checked: a clean Adult subsample is blessed and pushed to S3 with its
statistics; a drifted batch stops at the validation gate with the report in the validate task's
outputs; a rerun of the same model publishes no second version; no credential is written anywhere.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mlpipe.cli.main import main
from mlpipe.cluster.submit import cluster_arguments
from mlpipe.config.io import load_config
from mlpipe.run.containers import run_package
from mlpipe.serving.names import ACCESS_KEY_ID_KEY, SECRET_ACCESS_KEY_KEY, load_serving_names

from .dockerutil import Images

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.s3, pytest.mark.timeout(2400)]

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "build" / "training_pipeline.yaml"
NAMES = load_serving_names()


def _upload(client, bucket: str, key: str, lines: list[str]) -> str:
    import io

    body = ("\n".join(lines) + "\n").encode()
    client.put_object(bucket, key, io.BytesIO(body), len(body))
    return f"s3://{bucket}/{key}"


def _drifted(lines: list[str]) -> list[str]:
    """Every person 30 years older: `age` drifts far past its Jensen-Shannon threshold."""
    header, rows = lines[0], lines[1:]
    out = [header]
    for row in rows:
        age, rest = row.split(",", 1)
        out.append(f"{int(age) + 30},{rest}")
    return out


@pytest.fixture(scope="module")
def cluster_run(images: Images, s3_server, tmp_path_factory, adult, write_config):
    """`run(**params)` runs the compiled IR in containers; the S3 locations of the test data."""
    client = s3_server.client()
    for bucket in (NAMES.registry_bucket, "datasets"):
        if not client.bucket_exists(bucket):
            client.make_bucket(bucket)
    train = _upload(client, "datasets", "adult/train.csv", adult.lines(adult.train, 4000))
    eval_lines = adult.lines(adult.test, 2000)
    clean_eval = _upload(client, "datasets", "adult/eval.csv", eval_lines)
    drifted_eval = _upload(client, "datasets", "adult/eval-drifted.csv", _drifted(eval_lines))

    # `make compile` writes the package; the test sends exactly that file.
    assert main(["compile", "--components"]) == 0
    folder = tmp_path_factory.mktemp("cluster-config")
    # The user's cluster config: s3:// everywhere, small training, policies for a 4k-row sample.
    config_path = write_config(
        folder,
        {
            "data": {"train": train, "eval": clean_eval},
            "registry.uri": f"s3://{NAMES.registry_bucket}",
            "training.epochs": 3,
            "tuning.enabled": False,
            "evaluation.min_auc": 0.8,
            "evaluation.fairness_gates": [{"feature": "sex", "metric": "auc", "max_gap": 0.2}],
        },
    )
    config = load_config(config_path, check_data=False)
    secrets = {
        NAMES.pipeline_credentials_secret: {
            ACCESS_KEY_ID_KEY: s3_server.access_key,
            SECRET_ACCESS_KEY_KEY: s3_server.secret_key,
        }
    }
    runs = tmp_path_factory.mktemp("ir-runs")

    def run(**params):
        arguments = cluster_arguments(config, params)  # what `mlpipe submit --config` sends
        return run_package(PACKAGE, runs, arguments, secrets, {"MLPIPE_S3_ENDPOINT": s3_server.endpoint})

    return run, client, runs, drifted_eval


def _versions(client) -> list[str]:
    names = [
        o.object_name
        for o in client.list_objects(NAMES.registry_bucket, prefix=f"{NAMES.model_name}/_published/")
    ]
    return sorted(n.rsplit("/", 1)[-1] for n in names)


def test_the_package_sent_to_a_cluster_runs_in_the_images(cluster_run, s3_server):
    run, client, runs, drifted_eval = cluster_run

    first, first_dir = run()
    assert first["status"] == "succeeded", (first["failed_stage"], first["error"])
    assert first["push"]["pushed"] and first["push"]["version"] == 1, first["push"]
    assert first["push"]["uri"] == f"s3://{NAMES.registry_bucket}/{NAMES.model_name}/1/"
    assert _versions(client) == ["1.json"]
    objects = {
        o.object_name
        for o in client.list_objects(NAMES.registry_bucket, prefix=f"{NAMES.model_name}/", recursive=True)
    }
    assert f"{NAMES.model_name}/1/1/saved_model.pb" in objects
    # the statistics the model was trained on travel with the version: the next run's drift baseline
    assert f"{NAMES.model_name}/_attachments/1/statistics/Split-train/FeatureStats.pb" in objects

    drifted, _ = run(eval_data=drifted_eval)
    assert drifted["status"] == "failed" and drifted["failed_stage"] == "validation_gate"
    assert "age" in drifted["error"] and "\n" not in drifted["error"]
    assert [s["name"] for s in drifted["stages"]] == [
        "ingest",
        "statistics",
        "schema",
        "validate",
        "validation_gate",
    ]
    assert any(a["feature"] == "age" and "JENSEN_SHANNON" in a["kind"] for a in drifted["anomalies"])
    # validate succeeded, so its report is among its uploaded outputs, as the KFP UI would show it
    report = Path(drifted["artifacts"]["validation_report"]).read_text()
    assert "| age |" in report and "**over**" in report
    assert f"served {NAMES.model_name} version 1" in report
    assert _versions(client) == ["1.json"]

    again, _ = run()
    assert again["status"] == "succeeded", (again["failed_stage"], again["error"])
    assert again["push"]["pushed"] and again["push"]["version"] == 1 and again["push"]["reused"]
    assert _versions(client) == ["1.json"], "a rerun of the same model must not publish a second version"

    # credentials reached the stages only through the environment
    for path in runs.rglob("*"):
        if path.is_file() and path.stat().st_size < 50_000_000:
            assert s3_server.secret_key.encode() not in path.read_bytes(), path
    assert s3_server.secret_key not in json.dumps(first) + PACKAGE.read_text()
    assert yaml.safe_load_all(PACKAGE.read_text())
