"""Multi-worker training under `TF_CONFIG`: who is the chief, where each worker writes.

MultiWorkerMirroredStrategy runs the same program on every worker. Saving is a collective
operation, so every worker must export the model, but only the chief's copy is the model:
the others write to a private temporary directory that is deleted afterwards (TensorFlow's
multi-worker guide). A TFJob with only `Worker` replicas has no `chief` task: worker 0 is
the chief, as TensorFlow itself decides.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from mlpipe.errors import UserInputError


@dataclasses.dataclass(frozen=True)
class Role:
    task_type: str
    index: int
    workers: int  # every task that trains: chief plus workers
    is_chief: bool


SINGLE = Role("chief", 0, 1, True)


def role_from(tf_config: str | None) -> Role:
    """This process's role from the TF_CONFIG text; one worker when there is none."""
    if not tf_config:
        return SINGLE
    try:
        parsed = json.loads(tf_config)
        cluster, task = parsed["cluster"], parsed["task"]
        task_type, index = str(task["type"]), int(task["index"])
    except (ValueError, KeyError, TypeError) as exc:
        raise UserInputError(
            f"TF_CONFIG is not a TensorFlow cluster spec ({exc}): {tf_config[:200]}"
        ) from None
    workers = len(cluster.get("chief", [])) + len(cluster.get("worker", []))
    chief = task_type == "chief" or (task_type == "worker" and index == 0 and "chief" not in cluster)
    return Role(task_type, index, workers, chief)


@contextlib.contextmanager
def output_dirs(
    role: Role, model_dir: str | Path, tensorboard_dir: str | Path
) -> Iterator[tuple[Path, Path]]:
    """Where this worker writes its model and TensorBoard logs: the real outputs on the chief,
    a scratch directory (removed on exit) elsewhere."""
    if role.is_chief:
        yield Path(model_dir), Path(tensorboard_dir)
        return
    scratch = Path(tempfile.mkdtemp(prefix=f"mlpipe-worker-{role.index}-"))
    try:
        yield scratch / "model", scratch / "tensorboard"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def shard_by_data(dataset):
    """Every worker reads the same files and keeps its share of each global batch: ingest writes
    fewer files than a cluster may have workers, so file sharding (AUTO's first choice) would
    leave workers without data; element sharding needs the same order on every worker, which
    the seeded shuffle gives."""
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def prepare_for_strategy(model, dataset) -> None:
    """Two Keras 3 (3.15) gaps under a distribution strategy, closed here.

    - Keras builds the model from the first distributed batch, which it MEAN-reduces across
      replicas (`_maybe_symbolic_build`): that fails for a dict of features and could never work
      for strings. Building needs only the batch's structure: one local batch is handed instead.
    - Across workers, Keras reduces each step's logs with `strategy.reduce("MEAN", v, axis=0)`,
      which fails on scalars (every loss and metric): `_scalar_safe_mean` reduces them with
      `axis=None`, the mean of the workers' values. Epoch logs, which early stopping and the final
      metrics read, come from the metrics' variables aggregated over all workers, so every worker
      takes the same decisions."""
    build = model._maybe_symbolic_build
    x, y = next(iter(dataset.take(1)))

    def from_local_batch(iterator=None, data_batch=None):
        build(data_batch=(x, y, None))

    model._maybe_symbolic_build = from_local_batch
    _scalar_safe_mean()


def _scalar_safe_mean() -> None:
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer

    original = trainer.reduce_per_replica
    if getattr(original, "mlpipe_patched", False):
        return

    def reduce_per_replica(values, strategy, reduction):
        if reduction == "auto" and trainer._collective_all_reduce_multi_worker(strategy):
            return tree.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)
        return original(values, strategy, reduction)

    reduce_per_replica.mlpipe_patched = True
    trainer.reduce_per_replica = reduce_per_replica
