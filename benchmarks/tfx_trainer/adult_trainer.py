"""TFX Trainer module file for benchmarks/tfx_pipeline.py: the same model as mlpipe/model/keras_model.py.

Runs inside the TFX virtual environment (benchmarks/tfx-env.sh), never in mlpipe's. The
preprocessing is learnt the same way (means, variances and vocabularies of the train split,
inside the Keras graph; no Transform component), the DNN and the training loop (epochs, batch,
early stopping on eval AUC, seed) come from configs/adult.yaml through the Trainer's
custom_config, and the SavedModel has the same `serving_default` signature (serialized
tf.Examples in, `probabilities` out) that TFMA calls.
"""

from __future__ import annotations

MISSING = "__missing__"
PREDICTION_KEY = "probabilities"


def _spec(numeric, categorical, label=None):
    import tensorflow as tf

    # CsvExampleGen infers INT64 for Adult's numeric columns (all integers).
    spec = {name: tf.io.FixedLenFeature([1], tf.int64, default_value=[0]) for name in numeric}
    # CsvExampleGen writes a missing value as an empty list (not an absent feature), which a
    # FixedLenFeature rejects: parse them sparse and fill the gaps in _dense.
    spec |= {name: tf.io.VarLenFeature(tf.string) for name in categorical}
    if label:
        spec[label] = tf.io.FixedLenFeature([1], tf.int64)
    return spec


def _parse(serialized, spec, numeric):
    """Numeric features as float32 [batch, 1]; categorical ones as string [batch, 1], MISSING filled in."""
    import tensorflow as tf

    parsed = tf.io.parse_example(serialized, spec)
    rows = tf.shape(serialized, out_type=tf.int64)[0]
    out = {}
    for name, value in parsed.items():
        if isinstance(value, tf.SparseTensor):
            value = tf.sparse.to_dense(
                tf.SparseTensor(value.indices, value.values, tf.stack([rows, 1])), default_value=MISSING
            )
        out[name] = tf.cast(value, tf.float32) if name in numeric else value
    return out


def _dataset(files, cfg, batch_size, shuffle_seed=None):
    import tensorflow as tf

    numeric, label = set(cfg["numeric"]), cfg["label"]
    spec = _spec(cfg["numeric"], cfg["categorical"], label)
    paths = [p for pattern in files for p in tf.io.gfile.glob(pattern)]
    dataset = tf.data.TFRecordDataset(paths, compression_type="GZIP")
    if shuffle_seed is not None:
        dataset = dataset.shuffle(50_000, seed=shuffle_seed, reshuffle_each_iteration=True)

    def parse(serialized):
        parsed = _parse(serialized, spec, numeric)
        y = tf.cast(parsed.pop(label), tf.float32)
        return parsed, y

    return dataset.batch(batch_size).map(parse, num_parallel_calls=tf.data.AUTOTUNE).cache().prefetch(-1)


def _fit_preprocessing(dataset, cfg):
    import numpy as np

    columns = {name: [] for name in cfg["numeric"] + cfg["categorical"]}
    for features, _ in dataset:
        for name in columns:
            columns[name].append(features[name].numpy().reshape(-1))
    numeric = {}
    for name in cfg["numeric"]:
        values = np.concatenate(columns[name]).astype(np.float64)
        numeric[name] = (float(values.mean()), float(max(values.var(), 1e-12)))
    vocabularies = {}
    for name in cfg["categorical"]:
        values = {v.decode() for v in np.concatenate(columns[name])}
        vocabularies[name] = sorted(values - {MISSING})
    return numeric, vocabularies


def _build_model(cfg, numeric, vocabularies):
    import keras

    hp = cfg["hyperparameters"]
    inputs, encoded = {}, []
    for name in cfg["numeric"]:
        inputs[name] = keras.Input(shape=(1,), name=name, dtype="float32")
        mean, variance = numeric[name]
        encoded.append(keras.layers.Normalization(mean=mean, variance=variance)(inputs[name]))
    for name in cfg["categorical"]:
        inputs[name] = keras.Input(shape=(1,), name=name, dtype="string")
        lookup = keras.layers.StringLookup(
            vocabulary=vocabularies[name], num_oov_indices=1, output_mode="one_hot"
        )
        encoded.append(lookup(inputs[name]))
    x = keras.layers.Concatenate()(encoded)
    for _ in range(hp["hidden_layers"]):
        x = keras.layers.Dense(hp["units"], activation="relu")(x)
        if hp["dropout"] > 0:
            x = keras.layers.Dropout(hp["dropout"])(x)
    output = keras.layers.Dense(1, activation="sigmoid", name=PREDICTION_KEY)(x)
    model = keras.Model(inputs=inputs, outputs=output)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=hp["learning_rate"]),
        loss=keras.losses.BinaryCrossentropy(),
        metrics=[keras.metrics.AUC(name="auc"), keras.metrics.BinaryAccuracy(name="binary_accuracy")],
    )
    return model


def _export(model, cfg, path):
    import tensorflow as tf

    numeric = set(cfg["numeric"])
    spec = _spec(cfg["numeric"], cfg["categorical"])

    class Exported(tf.Module):
        def __init__(self, keras_model):
            super().__init__()
            self.model = keras_model

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
        def serving_default(self, examples):
            features = _parse(examples, spec, numeric)
            return {PREDICTION_KEY: tf.reshape(self.model(features, training=False), [-1])}

    module = Exported(model)
    tf.saved_model.save(module, path, signatures={"serving_default": module.serving_default})


def run_fn(fn_args):
    """TFX Trainer entry point (GenericExecutor)."""
    import keras

    cfg = fn_args.custom_config
    keras.utils.set_random_seed(cfg["seed"])
    train_ds = _dataset(fn_args.train_files, cfg, cfg["batch_size"], shuffle_seed=cfg["seed"])
    eval_ds = _dataset(fn_args.eval_files, cfg, 1024)
    numeric, vocabularies = _fit_preprocessing(_dataset(fn_args.train_files, cfg, 4096), cfg)
    model = _build_model(cfg, numeric, vocabularies)
    stop = keras.callbacks.EarlyStopping(
        monitor="val_auc", mode="max", patience=cfg["early_stopping_patience"], restore_best_weights=True
    )
    model.fit(train_ds, validation_data=eval_ds, epochs=cfg["epochs"], callbacks=[stop], verbose=2)
    _export(model, cfg, fn_args.serving_model_dir)
