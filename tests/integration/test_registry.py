"""The model registry, every behaviour against both backends: a directory (LocalRegistry) and a real
MinIO server (through the minio client) with a fresh bucket per test.

Versions only grow and are never overwritten; metadata and the serving pointer round-trip;
credentials appear in no log line and no artifact. Concurrent and killed publishes:
test_registry_publish.py.
"""

from __future__ import annotations

import json
import logging
import math
import os
import types
from pathlib import Path

import pytest
from registry_backends import MODEL, make_model_dir

from mlpipe.components.evaluate.baseline_record import stored_record, write_record
from mlpipe.components.push.core import push
from mlpipe.config.io import load_config
from mlpipe.errors import UserInputError
from mlpipe.registry.access import latest_blessed, open_registry
from mlpipe.serving.names import load_serving_names


def test_versions_grow_one_two_three(backend, tmp_path):
    registry = backend.registry
    assert registry.versions(MODEL) == []
    published = [
        registry.publish(MODEL, make_model_dir(tmp_path / f"m{i}", str(i)), {"blessed": True})
        for i in range(3)
    ]
    assert published == [1, 2, 3]
    assert registry.versions(MODEL) == [1, 2, 3]
    assert registry.versions("another_model") == []
    for version in published:
        # the serving prefix <model>/<N>/ holds exactly the folder <N>/ (TF Serving's layout)
        files = backend.files(str(version))
        assert {name.split("/")[0] for name in files} == {str(version)}
        assert files[f"{version}/saved_model.pb"] == f"graph-{version - 1}".encode()
    if backend.kind == "s3":
        assert registry.uri(MODEL, 2) == f"{backend.uri}/{MODEL}/2/"  # the slash: 2/ never matches 20/
    else:
        assert registry.uri(MODEL, 2) == f"{backend.uri}/{MODEL}/2" and Path(registry.uri(MODEL, 2)).is_dir()
    assert backend.files("_staging") == {}  # staging is cleaned up after a complete publish
    assert sorted(backend.files("_claims")) == ["1.json", "2.json", "3.json"]


def test_publishing_never_overwrites_and_skips_unmarked_versions(backend, tmp_path):
    registry = backend.registry
    first = make_model_dir(tmp_path / "first", "first")
    assert registry.publish(MODEL, first, {"blessed": True}) == 1
    before = backend.files("1")
    # a version folder that exists without a completion marker (a crash, or a hand copy)
    backend.put_file("2/saved_model.pb", b"someone else's model")
    assert registry.versions(MODEL) == [1]  # not visible: no marker

    assert registry.publish(MODEL, make_model_dir(tmp_path / "second", "second"), {"blessed": True}) == 3
    assert registry.versions(MODEL) == [1, 3]
    assert backend.files("1") == before
    assert backend.files("2") == {"saved_model.pb": b"someone else's model"}
    assert backend.files("3")["3/saved_model.pb"] == b"graph-second"
    with pytest.raises(UserInputError, match="no published version 2"):
        registry.metadata(MODEL, 2)


def test_latest_blessed_is_the_newest_blessed_version(backend, tmp_path):
    registry = backend.registry
    assert latest_blessed(registry, MODEL) is None
    registry.publish(MODEL, make_model_dir(tmp_path / "a"), {"blessed": True, "overall_auc": 0.90})
    registry.publish(MODEL, make_model_dir(tmp_path / "b"), {"blessed": False, "overall_auc": 0.95})
    registry.publish(MODEL, make_model_dir(tmp_path / "c"), {"overall_auc": 0.96})  # no verdict: not blessed
    best = latest_blessed(registry, MODEL)
    assert (best["version"], best["overall_auc"]) == (1, 0.90)
    registry.publish(MODEL, make_model_dir(tmp_path / "d"), {"blessed": True, "overall_auc": 0.91})
    assert latest_blessed(registry, MODEL)["version"] == 4
    assert latest_blessed(registry, MODEL)["uri"] == registry.uri(MODEL, 4)


def test_metadata_round_trips(backend, tmp_path):
    registry = backend.registry
    metadata = {
        "blessed": True,
        "run_id": "mlpipe-training-20260101-000000",
        "data_fingerprint": "ab" * 32,
        "training_metrics": {"eval_auc": 0.9012, "eval_loss": 0.31},
        "hyperparameters": {"units": 64, "learning_rate": 0.003},
        "fairness_checks": [{"feature": "sex", "metric": "auc", "gap": 0.04, "passed": True}],
    }
    version = registry.publish(MODEL, make_model_dir(tmp_path / "m"), metadata)
    stored = registry.metadata(MODEL, version)
    assert stored == {**metadata, "version": version, "uri": registry.uri(MODEL, version)}
    with pytest.raises(UserInputError, match=f"model {MODEL} has no published version 9"):
        registry.metadata(MODEL, 9)


def test_the_serving_pointer_is_set_and_read(backend, tmp_path):
    registry = backend.registry
    assert registry.serving_version(MODEL) is None
    for name in "ab":
        registry.publish(MODEL, make_model_dir(tmp_path / name), {"blessed": True})
    registry.set_serving(MODEL, 2)
    assert registry.serving_version(MODEL) == 2
    registry.set_serving(MODEL, 1)
    assert registry.serving_version(MODEL) == 1
    with pytest.raises(UserInputError, match="no published version 7"):
        registry.set_serving(MODEL, 7)  # only a published version can be served
    assert registry.serving_version(MODEL) == 1


def test_a_fetched_version_has_the_published_files(backend, tmp_path):
    registry = backend.registry
    source = make_model_dir(tmp_path / "m", "fetched")
    version = registry.publish(MODEL, source, {"blessed": True})
    local = registry.local_copy(MODEL, version)
    assert (local / "saved_model.pb").read_bytes() == b"graph-fetched"
    assert (local / "variables" / "variables.data-00000-of-00001").read_bytes() == (
        source / "variables" / "variables.data-00000-of-00001"
    ).read_bytes()


def test_credentials_never_appear_in_logs_or_artifacts(backend, tmp_path, caplog, monkeypatch):
    """Publish and push with credentials in the environment; grep every log record, marker, metadata
    object, model file and the push result for the secret and the access key."""
    from mlpipe.components.push.core import push
    from mlpipe.serving.names import load_serving_names

    environ = backend.environ or {
        "MLPIPE_S3_ENDPOINT": "127.0.0.1:1",
        "MLPIPE_S3_ACCESS_KEY": "local-ACCESS-0d1e",
        "MLPIPE_S3_SECRET_KEY": "local-SECRET-7c2b",
    }
    secret, access = environ["MLPIPE_S3_SECRET_KEY"], environ["MLPIPE_S3_ACCESS_KEY"]
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.DEBUG)
    registry = open_registry(backend.uri, os.environ)  # credentials from the environment, as the stages do
    config = types.SimpleNamespace(
        model_name=MODEL, serving=types.SimpleNamespace(canary_traffic_percent=0, rollout_timeout_seconds=0)
    )
    model_dir = tmp_path / "model"
    make_model_dir(model_dir / "saved_model")
    (model_dir / "model_metadata.json").write_text(
        json.dumps({"data_fingerprint": "f" * 64, "metrics": {"eval_auc": 0.9}})
    )
    result = push(
        config,
        model_dir,
        {"blessed": True, "overall_auc": 0.9},
        {"blessed": True, "latency": {}},
        registry,
        "none",
        load_serving_names(),
        run_id="run-1",
    )
    assert result["pushed"] and result["version"] == 1
    (tmp_path / "push.json").write_text(json.dumps(result, indent=2))
    registry.set_serving(MODEL, 1)
    if backend.kind == "s3":
        with pytest.raises(UserInputError) as missing:
            open_registry("s3://no-such-bucket-here", os.environ)
        assert secret not in str(missing.value) and access not in str(missing.value)

    artifacts = {"push.json": (tmp_path / "push.json").read_bytes(), **backend.files("")}
    assert any(name.startswith("_published/") for name in artifacts) and "_serving.json" in artifacts
    for name, data in artifacts.items():
        assert secret.encode() not in data and access.encode() not in data, name
    assert caplog.records, "nothing was logged: the check would be empty"
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert secret not in logged and access not in logged


def test_push_stores_the_evaluation_record_with_the_version(backend, tmp_path, adult):
    """What evaluate wrote next to its blessing travels with the pushed version, NaN included."""
    config = load_config(adult.config, check_data=False)
    model = tmp_path / "model"
    make_model_dir(model / "saved_model")
    (model / "model_metadata.json").write_text("{}")
    record = {
        "format": 1,
        "eval_data_fingerprint": "d" * 64,
        "eval_config_fingerprint": "c" * 64,
        "metrics": {"overall": {"auc": 0.9123, "precision": float("nan")}, "sex:Female": {"auc": 0.88}},
    }
    path = write_record(record, tmp_path / "blessing")
    names = load_serving_names()
    result = push(
        config,
        model,
        {"blessed": True},
        {"blessed": True},
        backend.registry,
        "none",
        names,
        run_id="run-1",
        evaluation_record=path,
    )
    got, why = stored_record(backend.registry, config.model_name, result["version"])
    assert why == "" and got is not None
    assert got["metrics"]["sex:Female"] == {"auc": 0.88} and got["metrics"]["overall"]["auc"] == 0.9123
    assert math.isnan(got["metrics"]["overall"]["precision"])
    assert got["eval_data_fingerprint"] == "d" * 64 and got["eval_config_fingerprint"] == "c" * 64
    # a push without a record (an older evaluate) stores none, and says so
    (model / "model_metadata.json").write_text('{"training_fingerprint": "other"}')
    second = push(
        config, model, {"blessed": True}, {"blessed": True}, backend.registry, "none", names, run_id="run-2"
    )
    assert stored_record(backend.registry, config.model_name, second["version"]) == (
        None,
        "it has no stored evaluation record",
    )
