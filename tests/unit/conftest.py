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

import pytest

N_TRAIN = 16_000
N_EVAL = 3_000
EPOCHS = 4


@pytest.fixture(scope="session")
def adult_examples(tmp_path_factory, adult, adult_subsample) -> types.SimpleNamespace:
    """The Adult subsample ingested once: `config`, `config_path`, `examples`, `fingerprint`, `schema`, `sample`."""
    from mlpipe.components.ingest.core import ingest
    from mlpipe.config.io import load_config
    from mlpipe.data.artifacts import load_schema

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


def make_fake_run(run_dir, statistics, validate_status="succeeded"):
    """A run directory whose summary.json points at `statistics`, as `mlpipe validate` looks for."""
    run_dir.mkdir(parents=True)
    summary = {
        "stages": [{"name": "validate", "status": validate_status, "seconds": 1}],
        "artifacts": {"statistics": str(statistics)},
    }
    (run_dir / "summary.json").write_text(json.dumps(summary))
    return run_dir


@pytest.fixture(scope="session")
def fake_run():
    """`fake_run(run_dir, statistics, validate_status)`: a run directory as `mlpipe validate` reads it."""
    return make_fake_run


@pytest.fixture(scope="session")
def baseline(tmp_path_factory, adult):
    """A run directory whose statistics come from the real Adult train/test files."""
    from mlpipe.components.ingest.core import ingest
    from mlpipe.components.statistics.core import compute_statistics
    from mlpipe.config.io import load_config

    root = tmp_path_factory.mktemp("baseline")
    ingest(load_config(adult.config), root / "examples", environ={})
    compute_statistics(root / "examples", root / "statistics")
    return make_fake_run(root / "runs" / "20240101-000000", root / "statistics")


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


# --- rollout code that must not reach a server (the real one: tests/cluster) -----------------------


class NoServer:
    """An API client that fails the test if anything tries to use it."""

    def __getattr__(self, name):
        raise AssertionError(f"the API server was contacted ({name})")


@pytest.fixture
def no_server() -> NoServer:
    return NoServer()


# --- a served model: the shared model evaluated (real TFMA), pushed with its statistics ---------


@pytest.fixture(scope="session")
def served_model(tmp_path_factory, adult_examples, trained_model) -> types.SimpleNamespace:
    """`trained_model` evaluated and pushed (target none) into a local registry with the statistics
    of `adult_examples` and its evaluation record, so it is what serving points at: `registry`
    (folder), `evaluation`, `push`. Tests copy the registry before they change it."""
    from mlpipe.components.evaluate.baseline_record import write_record
    from mlpipe.components.evaluate.core import evaluate
    from mlpipe.components.push.core import push
    from mlpipe.components.statistics.core import compute_statistics
    from mlpipe.registry.local import LocalRegistry
    from mlpipe.serving.names import load_serving_names

    root = tmp_path_factory.mktemp("served")
    config = adult_examples.config
    compute_statistics(adult_examples.examples, root / "statistics")
    evaluation = evaluate(config, trained_model.model_dir, adult_examples.examples, root / "evaluation")
    assert evaluation.verdict["blessed"], evaluation.verdict["reasons"]
    registry = LocalRegistry(root / "registry")
    result = push(
        config,
        trained_model.model_dir,
        evaluation.verdict,
        {"blessed": True},
        registry,
        "none",
        load_serving_names(),
        run_id="served-fixture",
        statistics_dir=root / "statistics",
        evaluation_record=write_record(evaluation.record, root / "blessing"),
    )
    assert result["pushed"] and result["version"] == 1
    return types.SimpleNamespace(registry=root / "registry", evaluation=evaluation, push=result)
