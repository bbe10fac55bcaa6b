"""Train: fit the shared Keras model and export one SavedModel with two signatures.

`serving_default` takes serialized tf.Examples (TFMA, TF Serving predict);
`serving_raw` takes raw feature tensors (TF Serving REST with JSON). Both run
the same graph after parsing, so they agree to float precision.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from pathlib import Path

from mlpipe.components.train.multiworker import (
    output_dirs,
    prepare_for_strategy,
    role_from,
    shard_by_data,
)
from mlpipe.config.dataset import DatasetConfig, HyperParameters
from mlpipe.data.artifacts import check_schema_matches
from mlpipe.model.keras_model import (
    PREDICTION_KEY,
    Preprocessing,
    build_model,
    feature_spec,
    fit_preprocessing,
    make_dataset,
    progress_callback,
    strategy_for,
)
from mlpipe.storage.atomic import atomic_dir

log = logging.getLogger(__name__)

SAVED_MODEL_DIR = "saved_model"
METADATA_FILE = "model_metadata.json"


@dataclasses.dataclass(frozen=True)
class TrainResult:
    metrics: dict[str, float]
    epochs_run: int
    seconds_per_epoch: float
    examples_per_second: float
    hyperparameters: HyperParameters

    @classmethod
    def from_metadata(cls, metadata: dict) -> TrainResult:
        """The result as the chief recorded it in `model_metadata.json` (a TFJob's model)."""
        epochs, seconds = metadata["epochs_run"], metadata["fit_seconds"]
        return cls(
            metrics=metadata["metrics"],
            epochs_run=epochs,
            seconds_per_epoch=seconds / epochs,
            examples_per_second=metadata["train_rows"] * epochs / seconds,
            hyperparameters=HyperParameters.model_validate(metadata["hyperparameters"]),
        )


def export_saved_model(model, config: DatasetConfig, preprocessing: Preprocessing, path: str | Path) -> None:
    """SavedModel with `serving_default` (tf.Example strings) and `serving_raw` (feature tensors)."""
    import tensorflow as tf

    spec = feature_spec(config, preprocessing, with_label=False)
    raw_signature = {name: tf.TensorSpec([None], s.dtype, name=name) for name, s in spec.items()}

    class Exported(tf.Module):
        def __init__(self, keras_model):
            super().__init__()
            self.model = keras_model

        def _predict(self, features):
            columns = {name: tf.reshape(value, [-1, 1]) for name, value in features.items()}
            return {PREDICTION_KEY: tf.reshape(self.model(columns, training=False), [-1])}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
        def serving_default(self, examples):
            return self._predict(tf.io.parse_example(examples, spec))

        @tf.function(input_signature=[raw_signature])
        def serving_raw(self, features):
            return self._predict(features)

    module = Exported(model)
    tf.saved_model.save(
        module,
        str(path),
        signatures={"serving_default": module.serving_default, "serving_raw": module.serving_raw},
    )


def training_fingerprint(config: DatasetConfig, hyperparameters, data_fingerprint: str) -> str:
    """What makes two trainings the same model: data, features, label, settings and code version.
    Training is seeded, so the same fingerprint means the same model; push publishes it once."""
    from mlpipe import __version__

    identity = {
        "data": data_fingerprint,
        "features": config.features.model_dump(),
        "label": config.label.model_dump(),
        "training": config.training.model_dump(),
        "hyperparameters": hyperparameters.model_dump(),
        "version": __version__,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def train(
    config: DatasetConfig,
    examples_dir: str | Path,
    schema,
    model_dir: str | Path,
    tensorboard_dir: str | Path,
    hyperparameters: HyperParameters,
    fingerprint: str = "",
    tf_config: str | None = None,
) -> TrainResult:
    """Fit on the train split with early stopping on eval AUC; write the SavedModel atomically.

    With `tf_config` (a TFJob worker, or the two-worker test), every worker runs this under a
    MultiWorkerMirroredStrategy; the chief writes `model_dir` and `tensorboard_dir`, the others a
    scratch directory (`multiworker`)."""
    import time

    import keras
    import tensorflow as tf

    check_schema_matches(config, schema, "the validated schema")
    role = role_from(tf_config)
    # first TF call of the process: collective ops must be configured before any other
    strategy = strategy_for(tf_config)
    settings = config.training
    keras.utils.set_random_seed(settings.seed)
    preprocessing = fit_preprocessing(examples_dir, config)
    train_ds = make_dataset(
        examples_dir, "train", config, preprocessing, settings.batch_size, shuffle_seed=settings.seed
    )
    eval_ds = make_dataset(examples_dir, "eval", config, preprocessing, 1024)
    if role.workers > 1:
        train_ds, eval_ds = shard_by_data(train_ds), shard_by_data(eval_ds)
    with strategy.scope():
        model = build_model(config, preprocessing, hyperparameters)
    if strategy is not tf.distribute.get_strategy():
        prepare_for_strategy(model, train_ds)
    with output_dirs(role, model_dir, tensorboard_dir) as (model_out, tensorboard_out):
        callbacks = [
            keras.callbacks.EarlyStopping(
                monitor="val_auc",
                mode="max",
                patience=settings.early_stopping_patience,
                restore_best_weights=True,
            ),
            keras.callbacks.TensorBoard(log_dir=str(tensorboard_out), write_graph=False, profile_batch=0),
            progress_callback("epoch", settings.epochs),
        ]
        log.info(
            "training %d epochs at most, batch %d, %s, worker %d of %d%s",
            settings.epochs,
            settings.batch_size,
            hyperparameters,
            role.index,
            role.workers,
            " (chief)" if role.is_chief else "",
        )
        start = time.perf_counter()
        history = model.fit(
            train_ds, validation_data=eval_ds, epochs=settings.epochs, callbacks=callbacks, verbose=2
        )
        fit_seconds = time.perf_counter() - start
        epochs_run = len(history.history["loss"])
        train_rows = sum(int(tf.shape(y)[0]) for _, y in train_ds)
        metrics = {}
        for split, dataset in (("train", train_ds), ("eval", eval_ds)):
            values = model.evaluate(dataset, verbose=0, return_dict=True)
            metrics |= {f"{split}_{name}": float(value) for name, value in values.items()}
        log.info("final metrics: %s", metrics)
        with atomic_dir(model_out) as out:
            export_saved_model(model, config, preprocessing, out / SAVED_MODEL_DIR)
            metadata = {
                "model_name": config.model_name,
                "training_fingerprint": training_fingerprint(config, hyperparameters, fingerprint),
                "hyperparameters": hyperparameters.model_dump(),
                "metrics": metrics,
                "data_fingerprint": fingerprint,
                "epochs_run": epochs_run,
                "workers": role.workers,
                "fit_seconds": fit_seconds,
                "train_rows": train_rows,
                "preprocessing": preprocessing.to_json(),
            }
            (out / METADATA_FILE).write_text(json.dumps(metadata, indent=2))
    return TrainResult(
        metrics=metrics,
        epochs_run=epochs_run,
        seconds_per_epoch=fit_seconds / epochs_run,
        examples_per_second=train_rows * epochs_run / fit_seconds,
        hyperparameters=hyperparameters,
    )
