"""The Keras model that tune and train share: preprocessing inside the graph, then a DNN.

Numeric features are normalized with statistics adapted on the train split;
categorical ones go through vocabularies of the train split with an OOV bucket.
Because preprocessing lives in the model, serving takes raw features and
cannot skew from training. The tf.Example parsing spec is built here once and
used by both the input pipeline and the exported `serving_default` signature.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np

from mlpipe.config.dataset import DatasetConfig, HyperParameters
from mlpipe.data.examples import column_values, load_examples
from mlpipe.data.tfrecord import split_files

log = logging.getLogger(__name__)

MISSING = "__missing__"
PREDICTION_KEY = "probabilities"


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """What the model learns from the train split before any training step."""

    numeric: dict[str, tuple[float, float]]  # feature -> (mean, variance)
    vocabularies: dict[str, list[str]]

    def to_json(self) -> dict:
        return {"numeric": self.numeric, "vocabularies": self.vocabularies}


def fit_preprocessing(examples_dir: str | Path, config: DatasetConfig) -> Preprocessing:
    """Means, variances and vocabularies from the train split only."""
    batch = load_examples(examples_dir, "train")
    numeric = {}
    for name in config.features.numeric:
        values = np.array([v for v in column_values(batch, name) if v is not None], dtype=np.float64)
        numeric[name] = (float(values.mean()), float(max(values.var(), 1e-12)))
    vocabularies = {}
    for name in config.features.categorical:
        values = [v.decode("utf-8") for v in column_values(batch, name) if v is not None]
        vocabularies[name] = sorted(set(values))
    return Preprocessing(numeric, vocabularies)


def feature_spec(config: DatasetConfig, preprocessing: Preprocessing, with_label: bool) -> dict:
    """tf.Example parsing spec; a missing value parses to the train mean or to the OOV token."""
    import tensorflow as tf

    spec = {
        name: tf.io.FixedLenFeature([1], tf.float32, default_value=[preprocessing.numeric[name][0]])
        for name in config.features.numeric
    }
    spec |= {
        name: tf.io.FixedLenFeature([1], tf.string, default_value=[MISSING])
        for name in config.features.categorical
    }
    if with_label:
        spec[config.label_key] = tf.io.FixedLenFeature([1], tf.int64)
    return spec


def make_dataset(
    examples_dir,
    split: str,
    config: DatasetConfig,
    preprocessing: Preprocessing,
    batch_size: int,
    shuffle_seed=None,
):
    """tf.data over the ingested GZIP TFRecords: (features, label) batches."""
    import tensorflow as tf

    files = [str(p) for p in split_files(examples_dir, split)]
    spec = feature_spec(config, preprocessing, with_label=True)
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    if shuffle_seed is not None:
        dataset = dataset.shuffle(50_000, seed=shuffle_seed, reshuffle_each_iteration=True)
    label = config.label_key

    def parse(serialized):
        parsed = tf.io.parse_example(serialized, spec)
        y = tf.cast(parsed.pop(label), tf.float32)
        return parsed, y

    return (
        dataset.batch(batch_size)
        .map(parse, num_parallel_calls=tf.data.AUTOTUNE)
        .cache()
        .prefetch(tf.data.AUTOTUNE)
    )


def build_model(config: DatasetConfig, preprocessing: Preprocessing, hp: HyperParameters):
    """A compiled Keras 3 model over raw feature inputs of shape [batch, 1]."""
    import keras

    inputs, encoded = {}, []
    for name in config.features.numeric:
        inputs[name] = keras.Input(shape=(1,), name=name, dtype="float32")
        mean, variance = preprocessing.numeric[name]
        encoded.append(
            keras.layers.Normalization(mean=mean, variance=variance, name=f"norm_{name}")(inputs[name])
        )
    for name in config.features.categorical:
        inputs[name] = keras.Input(shape=(1,), name=name, dtype="string")
        vocabulary = preprocessing.vocabularies[name]
        if hp.embedding_dim > 0:
            ids = keras.layers.StringLookup(vocabulary=vocabulary, num_oov_indices=1, name=f"lookup_{name}")(
                inputs[name]
            )
            embedded = keras.layers.Embedding(len(vocabulary) + 1, hp.embedding_dim, name=f"embed_{name}")(
                ids
            )
            encoded.append(keras.layers.Flatten()(embedded))
        else:
            lookup = keras.layers.StringLookup(
                vocabulary=vocabulary, num_oov_indices=1, output_mode="one_hot", name=f"onehot_{name}"
            )
            encoded.append(lookup(inputs[name]))
    x = keras.layers.Concatenate(name="features")(encoded)
    for i in range(hp.hidden_layers):
        x = keras.layers.Dense(hp.units, activation="relu", name=f"dense_{i}")(x)
        if hp.dropout > 0:
            x = keras.layers.Dropout(hp.dropout, name=f"dropout_{i}")(x)
    output = keras.layers.Dense(1, activation="sigmoid", name=PREDICTION_KEY)(x)
    model = keras.Model(inputs=inputs, outputs=output)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=hp.learning_rate),
        loss=keras.losses.BinaryCrossentropy(),
        metrics=[keras.metrics.AUC(name="auc"), keras.metrics.BinaryAccuracy(name="binary_accuracy")],
    )
    return model


def hyperparameters_from(values: dict | None, defaults: HyperParameters) -> HyperParameters:
    """Tuned values (JSON) over the config's defaults; unknown names are an error."""
    if not values:
        return defaults
    known = {name: field.annotation for name, field in HyperParameters.model_fields.items()}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"unknown hyperparameter {unknown[0]!r}")
    cast = {k: (int(v) if known[k] is int else float(v)) for k, v in values.items()}
    return defaults.model_copy(update=cast)


def strategy_for(tf_config: str | None):
    """MultiWorkerMirrored under TF_CONFIG (a TFJob), Mirrored on GPUs, else the default."""
    import tensorflow as tf

    if tf_config:
        log.info("TF_CONFIG set: MultiWorkerMirroredStrategy")
        return tf.distribute.MultiWorkerMirroredStrategy()
    if tf.config.list_physical_devices("GPU"):
        log.info("GPUs visible: MirroredStrategy")
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def progress_callback(unit: str, total: int | None, on_train_end: bool = False, metric: str = "val_auc"):
    """A Keras callback that logs a progress line (`mlpipe.runtime.logs.progress`) per
    epoch, or per `fit` when `on_train_end` (one keras-tuner trial is one fit). The count lives
    in a closure: keras-tuner deep-copies callbacks for every trial, and functions survive a
    deep copy as themselves, so the count goes on across trials."""
    import keras

    from mlpipe.runtime.logs import progress

    count = 0

    def step(logs: dict | None) -> None:
        nonlocal count
        count += 1
        try:
            note = f"{metric}={float((logs or {})[metric]):.4f}"
        except (KeyError, TypeError, ValueError):
            note = ""
        progress(unit, count, total, note)

    class Progress(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.step = step

        def on_epoch_end(self, epoch, logs=None):
            if not on_train_end:
                self.step(logs)

        def on_train_end(self, logs=None):
            if on_train_end:
                self.step(logs)

    return Progress()
