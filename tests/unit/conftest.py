"""Fixtures shared by the model-stage unit tests: one ingested Adult subsample and one model trained
on it, built once per session (each costs seconds; TF's import alone costs 10-25 s per process),
and a local HTTP server that records what the kubernetes client sends.

The subsample (the first 16,000 train rows, the first 3,000 test rows, 4 epochs) is big enough that
the default gates of configs/adult.yaml bless the model; measured on 2 cores: overall AUC ~0.90,
sex AUC gap ~0.04 (bound 0.06), sex FPR@0.5 gap ~0.06 (bound 0.10), race AUC gap ~0.07 (bound 0.10).
Training takes about 8 s.
"""

from __future__ import annotations

import json
import types
from collections.abc import Iterator

import pytest

N_TRAIN = 16_000
N_EVAL = 3_000
EPOCHS = 4


@pytest.fixture(scope="session")
def adult_examples(tmp_path_factory, adult, adult_subsample) -> types.SimpleNamespace:
    """The Adult subsample ingested once: `config`, `config_path`, `examples`, `fingerprint`, `schema`, `sample`."""
    from mlpipe.components.artifacts import load_schema
    from mlpipe.components.config import load_config
    from mlpipe.components.ingest.core import ingest

    sample = adult_subsample(
        tmp_path_factory.mktemp("adult-sample"), N_TRAIN, N_EVAL, changes={"training.epochs": EPOCHS}
    )
    config = load_config(sample.config)
    examples = sample.folder / "examples"
    result = ingest(config, examples, environ={})
    assert result.rows == {"train": N_TRAIN, "eval": N_EVAL}
    return types.SimpleNamespace(
        config=config,
        config_path=sample.config,
        examples=examples,
        fingerprint=result.fingerprint,
        schema=load_schema(adult.schema),
        sample=sample,
    )


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory, adult_examples) -> types.SimpleNamespace:
    """One model trained on `adult_examples` with the config's hyperparameters: `model_dir`, `result`."""
    from mlpipe.components.train.core import train

    out = tmp_path_factory.mktemp("trained")
    config = adult_examples.config
    result = train(
        config,
        adult_examples.examples,
        adult_examples.schema,
        out / "model",
        out / "tensorboard",
        config.training.hyperparameters,
        fingerprint=adult_examples.fingerprint,
    )
    return types.SimpleNamespace(model_dir=out / "model", tensorboard=out / "tensorboard", result=result)


# --- batch validation: a baseline run from the real Adult files, and batches changed from its test file --


def fake_run(run_dir, statistics, validate_status="succeeded"):
    """A run directory whose summary.json points at `statistics`, as `mlpipe validate` looks for."""
    run_dir.mkdir(parents=True)
    summary = {
        "stages": [{"name": "validate", "status": validate_status, "seconds": 1}],
        "artifacts": {"statistics": str(statistics)},
    }
    (run_dir / "summary.json").write_text(json.dumps(summary))
    return run_dir


@pytest.fixture(scope="session")
def baseline(tmp_path_factory, adult):
    """A run directory whose statistics come from the real Adult train/test files."""
    from mlpipe.components.config import load_config
    from mlpipe.components.ingest.core import ingest
    from mlpipe.components.statistics.core import compute_statistics

    root = tmp_path_factory.mktemp("baseline")
    ingest(load_config(adult.config), root / "examples", environ={})
    compute_statistics(root / "examples", root / "statistics")
    return fake_run(root / "runs" / "20240101-000000", root / "statistics")


@pytest.fixture(scope="session")
def adult_test_frame(adult):
    """The real Adult test file as strings, `?` kept as written."""
    import pandas as pd

    return pd.read_csv(adult.test, skipinitialspace=True, dtype=str, na_filter=False)


@pytest.fixture
def batch(tmp_path, adult_test_frame):
    """`batch(change)`: write the Adult test file changed by `change(frame)` as a CSV batch."""

    def write(change=None, name="batch.csv"):
        frame = adult_test_frame.copy()
        if change is not None:
            frame = change(frame)
        path = tmp_path / name
        frame.to_csv(path, index=False)
        return path

    return write


# --- a fake Kubernetes API server, on the shared recording server ---------------------------


def kubernetes_answer(request: dict) -> tuple[int, object]:
    """What a Kubernetes API server answers to a PATCH of a Deployment or an InferenceService."""
    path = request["path"]
    parts = path.strip("/").split("/")
    name = parts[-1]
    if len(parts) > 3 and parts[-3] == "missing":  # a namespace that does not exist
        return 404, {"kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404}
    if "/deployments/" in path:
        return 200, {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": parts[-3], "generation": 7},
        }
    if "/inferenceservices/" in path:
        return 200, {
            "apiVersion": "serving.kserve.io/v1beta1",
            "kind": "InferenceService",
            "metadata": {"name": name, "namespace": parts[-3]},
        }
    return 404, {"kind": "Status", "status": "Failure", "reason": "NotFound"}


@pytest.fixture
def k8s_server(recording_server) -> Iterator[types.SimpleNamespace]:
    """A recording fake Kubernetes API server and an `ApiClient` pointed at it: `.api`, `.requests`, `.url`."""
    from kubernetes import client

    with recording_server(kubernetes_answer) as server:
        configuration = client.Configuration()
        configuration.host = server.url
        api = client.ApiClient(configuration)
        try:
            yield types.SimpleNamespace(api=api, requests=server.requests, url=server.url)
        finally:
            api.close()
