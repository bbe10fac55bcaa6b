"""The retrain stage on a cluster's terms: the monitoring history and the retraining data on a
real S3 server (MinIO), the training run submitted to the recording KFP API of test_submit.py.
"""

from __future__ import annotations

import gzip
import io
import json
import uuid

import pandas as pd
import pytest
from test_submit import FakeKfp, kfp_server  # noqa: F401 (the fixture)

from mlpipe.components.retrain.core import act
from mlpipe.config.io import load_config
from mlpipe.monitoring.history import History, new_key
from mlpipe.registry.access import open_registry

pytestmark = pytest.mark.s3
MODEL = "adult_income"
N_TRAIN = 500


@pytest.fixture
def on_s3(tmp_path, s3_server, adult, write_config):
    """A bucket with Adult's first rows as training data, a served version (a model-shaped
    folder: nothing here loads it) and one monitored batch whose rows half got labels."""
    client = s3_server.client()
    bucket = f"mon-{uuid.uuid4().hex[:10]}"
    client.make_bucket(bucket)
    train = tmp_path / "train.csv"
    train.write_text("\n".join(adult.lines(adult.train, N_TRAIN)) + "\n")
    client.fput_object(bucket, "data/train.csv", str(train))
    environ = s3_server.environ()
    config = load_config(
        write_config(
            tmp_path / "config",
            {
                "data": {"train": f"s3://{bucket}/data/train.csv", "eval": f"s3://{bucket}/data/train.csv"},
                "registry.uri": f"s3://{bucket}/registry",
                "monitoring": {"id_column": "id", "retrain": "auto"},
            },
        ),
        check_data=False,
    )
    registry = open_registry(config.registry.uri, environ)
    (tmp_path / "model" / "variables").mkdir(parents=True)
    (tmp_path / "model" / "saved_model.pb").write_bytes(b"graph")
    version = registry.publish(MODEL, tmp_path / "model", {"blessed": True, "overall_auc": 0.9})
    registry.set_serving(MODEL, version)
    rows = pd.read_csv(adult.test, skipinitialspace=True, dtype=str, na_filter=False).head(400)
    rows.insert(0, "id", [f"r{i}" for i in range(len(rows))])
    history = History(registry, MODEL, version)
    key = new_key()
    batch = rows.drop(columns=["Y"]).to_csv(index=False).encode()
    history.append_batch(key, {"key": key, "decision": {"retrain": False}}, gzip.compress(batch))
    labels = rows[["id", "Y"]].iloc[::2].to_csv(index=False).encode()
    history.append_feedback(key, gzip.compress(labels))
    return config, registry, environ, history, bucket


@pytest.fixture
def training_package(tmp_path, on_s3):
    """The training IR as the monitoring pipeline carries it to its retrain step."""
    import base64

    from mlpipe.pipelines.monitoring import training_ir

    path = tmp_path / "training_pipeline.yaml"
    path.write_bytes(gzip.decompress(base64.b64decode(training_ir(on_s3[0]))))
    return path


RECORD = {
    "key": "20261123T120000000000Z-0a1b2c3d",
    "decision": {"retrain": True, "reasons": ["drift:age: ..."]},
}


def test_auto_retrain_submits_a_training_run_on_the_data_plus_the_labelled_feedback(
    tmp_path,
    on_s3,
    kfp_server,  # noqa: F811
    training_package,
):
    config, registry, environ, history, bucket = on_s3
    result = act(config, RECORD, environ, kfp_server.url, tmp_path / "work", training_package)
    assert result["action"] == "submitted" and result["run"].endswith("/#/runs/details/run-42")
    data = result["train_data"]
    assert data == f"s3://{bucket}/registry/{MODEL}/_monitoring/1/retrain/{RECORD['key']}.csv.gz"
    (run,) = kfp_server.posted("/apis/v2beta1/runs")
    parameters = run["body"]["runtime_config"]["parameters"]
    assert parameters["train_data"] == data
    assert parameters["config"] == config.run_input()  # the monitoring run's own config
    assert run["body"]["display_name"] == f"retrain-{RECORD['key']}"
    spec = run["body"]["pipeline_spec"].get("pipeline_spec", run["body"]["pipeline_spec"])
    assert spec["pipelineInfo"]["name"] == "mlpipe-training"
    # the retraining data: the training rows, then the 200 labelled batch rows, in its columns
    stored = gzip.decompress(history.read(f"retrain/{RECORD['key']}.csv.gz"))
    frame = pd.read_csv(io.BytesIO(stored), dtype=str)
    assert len(frame) == N_TRAIN + 200 and "id" not in frame.columns
    assert frame["y"].isin([">50K", "<=50K", ">50K.", "<=50K."]).all()
    # written once: a second decision for the same batch key cannot overwrite it
    assert not history.create(f"retrain/{RECORD['key']}.csv.gz", b"other")


def test_manual_retrain_records_the_decision_and_submits_nothing(
    tmp_path,
    on_s3,
    kfp_server,  # noqa: F811
    training_package,
):
    config, registry, environ, _, _ = on_s3
    package = training_package
    manual = config.model_copy(
        update={"monitoring": config.monitoring.model_copy(update={"retrain": "manual"})}
    )
    result = act(manual, RECORD, environ, kfp_server.url, tmp_path / "work", package, registry=registry)
    assert result == {"action": "recorded", "reasons": RECORD["decision"]["reasons"], "run": None}
    assert kfp_server.requests == []
    no = act(config, {**RECORD, "decision": {"retrain": False}}, environ, kfp_server.url, tmp_path, package)
    assert no["action"] == "none" and kfp_server.requests == []
    # no KFP host (`mlpipe monitor` on this machine): a due retraining is recorded, not sent
    local = act(config, RECORD, environ, "", tmp_path / "work", package, registry=registry)
    assert local["action"] == "recorded" and kfp_server.requests == []


def test_the_history_on_s3_is_append_only_and_ordered(on_s3):
    _, registry, _, history, _ = on_s3
    keys = [new_key() for _ in range(5)]
    assert keys == sorted(keys) and len(set(keys)) == 5
    for i, key in enumerate(keys):
        history.append_batch(key, {"key": key, "i": i}, gzip.compress(b"id\n1\n"))
    records = history.records()
    assert [r.get("i") for r in records[1:]] == list(range(5))
    with pytest.raises(RuntimeError, match="never rewritten"):
        history.append_batch(keys[0], {"key": keys[0], "i": 99}, b"x")
    assert json.loads(history.read(f"batches/{keys[0]}.json"))["i"] == 0
