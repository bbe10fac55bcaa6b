"""Multi-worker training for real: two worker processes on 127.0.0.1 under TF_CONFIG, as a TFJob
runs them, against one worker on the same data, both through the train entry point
(`python -m mlpipe.components.train`).

Both runs see the same global batches (same seed, same shuffle, element sharding gives each worker
half of every batch) and start from the same weights (the strategy broadcasts the chief's). What
differs is the float order of the gradient all-reduce (the mean of two half-batch means against one
batch mean) and the dropout masks each worker draws: measured, the eval AUCs differ by ~3e-4 on
this sample. The bound, 0.01, is far above that and below what a broken setup costs (a worker that
trains on half the data alone, or diverging workers, loses several points at 3 epochs).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mlpipe.components.train.core import METADATA_FILE, SAVED_MODEL_DIR

pytestmark = pytest.mark.slow

AUC_TOLERANCE = 0.01
N_TRAIN, N_EVAL, EPOCHS = 4_000, 2_000, 3


@pytest.fixture(scope="module")
def sample(tmp_path_factory, adult, adult_subsample):
    from mlpipe.components.ingest.core import ingest
    from mlpipe.config.io import load_config

    folder = tmp_path_factory.mktemp("multiworker")
    made = adult_subsample(folder, N_TRAIN, N_EVAL, changes={"training.epochs": EPOCHS})
    config = load_config(made.config)
    ingest(config, folder / "examples", environ={})
    return folder, config


def _worker(folder, config, schema, model_dir, tf_config=None, tmpdir=None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    if tf_config:
        env["TF_CONFIG"] = json.dumps(tf_config)
    if tmpdir:
        env["TMPDIR"] = str(tmpdir)
    command = [
        sys.executable, "-m", "mlpipe.components.train",
        "--config-json", json.dumps(config.run_input()),
        "--examples", str(folder / "examples"),
        "--schema", str(schema),
        "--model", str(model_dir),
    ]  # fmt: skip
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(process: subprocess.Popen, what: str) -> dict:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, f"{what} failed:\n{err[-4000:]}"
    return json.loads(out.strip().splitlines()[-1])


def _serving_auc(model_dir, examples, label: str) -> float:
    """AUC of the exported `serving_default` over the eval split: what evaluate and serving load."""
    import keras
    import numpy as np
    import tensorflow as tf

    from mlpipe.data.examples import read_split_records

    records = read_split_records(examples, "eval")
    labels = [tf.train.Example.FromString(r).features.feature[label].int64_list.value[0] for r in records]
    loaded = tf.saved_model.load(str(model_dir / SAVED_MODEL_DIR))
    scores = loaded.signatures["serving_default"](examples=tf.constant(records))["probabilities"]
    auc = keras.metrics.AUC()
    auc.update_state(np.array(labels, dtype="float32"), scores.numpy())
    return float(auc.result())


def test_two_workers_train_the_model_one_worker_trains_and_only_the_chief_writes_it(sample, adult, tmp_path):
    from servers import free_port

    folder, config = sample
    single = _finish(_worker(folder, config, adult.schema, tmp_path / "single"), "the single worker")

    ports = [free_port()]
    while len(ports) < 2:  # two distinct ports (a closed probe's port may come back)
        ports = sorted({*ports, free_port()})
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    model_dir = tmp_path / "distributed"  # every worker is given the same output, as in a TFJob
    scratch = [tmp_path / "tmp0", tmp_path / "tmp1"]
    for folder_ in scratch:
        folder_.mkdir()
    workers = [
        _worker(
            folder, config, adult.schema, model_dir,
            {"cluster": cluster, "task": {"type": "worker", "index": i}}, scratch[i],
        )
        for i in range(2)
    ]  # fmt: skip
    chief, other = (_finish(w, f"worker {i}") for i, w in enumerate(workers))

    # one model, trained together: both workers report the same metrics and epochs
    assert chief == other
    assert chief["epochs_run"] == single["epochs_run"] == EPOCHS
    single_auc, chief_auc = single["metrics"]["eval_auc"], chief["metrics"]["eval_auc"]
    assert 0.85 < single_auc and abs(chief_auc - single_auc) < AUC_TOLERANCE, (single_auc, chief_auc)

    # the chief wrote the model where the step reads it; the other worker's copy is gone
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("distributed")) == [
        "distributed",
        "distributed-tensorboard",
    ]
    assert sorted(p.name for p in model_dir.iterdir()) == [METADATA_FILE, SAVED_MODEL_DIR]
    assert [list(f.iterdir()) for f in scratch] == [[], []]
    metadata = json.loads((model_dir / METADATA_FILE).read_text())
    assert metadata["workers"] == 2 and metadata["metrics"] == chief["metrics"]
    # and it is the model that was trained: its serving signature scores the eval split as reported
    assert _serving_auc(model_dir, folder / "examples", config.label_key) == pytest.approx(
        chief_auc, abs=2e-3
    )
