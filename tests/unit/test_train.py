"""Train on the real Adult subsample: quality, the two serving signatures, a fresh-process load,
reproducibility, schema/config agreement, the metadata file and the distribution strategy.

The multi-worker path (TF_CONFIG, two worker processes on 127.0.0.1) is test_train_multiworker.py.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mlpipe.components.train.core import METADATA_FILE, SAVED_MODEL_DIR, train
from mlpipe.data.artifacts import check_schema_matches
from mlpipe.data.examples import read_split_records
from mlpipe.errors import UserInputError

TOLERANCE = 1e-6


def _complete_rows(config, records: list[bytes], count: int) -> tuple[list[bytes], dict[str, list]]:
    """Serialized eval tf.Examples with every feature present, and the same rows as raw columns."""
    import tensorflow as tf

    chosen, raw = [], {name: [] for name in config.feature_keys}
    for record in records:
        features = tf.train.Example.FromString(record).features.feature
        values = {}
        for name in config.feature_keys:
            feature = features[name] if name in features else None
            if name in config.features.numeric:
                value = list(feature.float_list.value) if feature is not None else []
            else:
                value = [v.decode("utf-8") for v in feature.bytes_list.value] if feature is not None else []
            if len(value) != 1:
                break
            values[name] = value[0]
        else:
            chosen.append(record)
            for name, value in values.items():
                raw[name].append(value)
            if len(chosen) == count:
                break
    return chosen, raw


@pytest.fixture(scope="module")
def canaries(adult_examples):
    examples, raw = _complete_rows(
        adult_examples.config, read_split_records(adult_examples.examples, "eval"), 200
    )
    assert len(examples) == 200
    return examples, raw


@pytest.fixture(scope="module")
def loaded(trained_model):
    import tensorflow as tf

    return tf.saved_model.load(str(trained_model.model_dir / SAVED_MODEL_DIR))


def test_training_reaches_a_sane_eval_auc(trained_model, adult_examples):
    result = trained_model.result
    assert result.metrics["eval_auc"] > 0.8, result.metrics
    assert result.metrics["train_auc"] > 0.8, result.metrics
    assert 0.7 < result.metrics["eval_binary_accuracy"] <= 1.0
    assert {
        "train_loss",
        "eval_loss",
        "train_auc",
        "eval_auc",
        "train_binary_accuracy",
        "eval_binary_accuracy",
    } <= set(result.metrics)
    assert 1 <= result.epochs_run <= adult_examples.config.training.epochs
    assert result.seconds_per_epoch > 0 and result.examples_per_second > 0
    assert result.hyperparameters == adult_examples.config.training.hyperparameters
    assert list(trained_model.tensorboard.rglob("events.out.tfevents.*")), "no TensorBoard logs"


def test_both_signatures_agree_on_the_same_rows(loaded, canaries):
    import numpy as np
    import tensorflow as tf

    examples, raw = canaries
    assert set(loaded.signatures) >= {"serving_default", "serving_raw"}
    by_example = loaded.signatures["serving_default"](examples=tf.constant(examples))
    raw_spec = loaded.signatures["serving_raw"].structured_input_signature[1]
    assert set(raw_spec) == set(raw)
    by_raw = loaded.signatures["serving_raw"](
        **{k: tf.constant(v, dtype=raw_spec[k].dtype) for k, v in raw.items()}
    )
    assert list(by_example) == ["probabilities"] and list(by_raw) == ["probabilities"]
    a, b = by_example["probabilities"].numpy(), by_raw["probabilities"].numpy()
    assert a.shape == b.shape == (len(examples),)
    assert np.all((a >= 0) & (a <= 1))
    assert float(np.max(np.abs(a - b))) <= TOLERANCE
    assert float(a.std()) > 0.05, "the model answers the same for every row"


def test_a_missing_feature_parses_to_its_default(loaded, canaries):
    """serving_default fills a missing value (train mean / OOV), serving_raw gets it explicitly."""
    import tensorflow as tf

    examples, _ = canaries
    example = tf.train.Example.FromString(examples[0])
    del example.features.feature["workclass"]
    del example.features.feature["age"]
    out = loaded.signatures["serving_default"](examples=tf.constant([example.SerializeToString()]))
    value = float(out["probabilities"].numpy()[0])
    assert 0.0 <= value <= 1.0


FRESH_PROCESS = r"""
import json, sys
import tensorflow as tf
saved_model, request = sys.argv[1], json.load(open(sys.argv[2]))
model = tf.saved_model.load(saved_model)
raw_spec = model.signatures["serving_raw"].structured_input_signature[1]
by_example = model.signatures["serving_default"](examples=tf.constant([bytes.fromhex(e) for e in request["examples"]]))
by_raw = model.signatures["serving_raw"](**{k: tf.constant(v, dtype=raw_spec[k].dtype) for k, v in request["raw"].items()})
print(json.dumps({
    "signatures": sorted(model.signatures),
    "default": by_example["probabilities"].numpy().tolist(),
    "raw": by_raw["probabilities"].numpy().tolist(),
    "project_imported": any(m == "components" or m.startswith("components.") for m in sys.modules),
}))
"""


def test_the_exported_model_serves_in_a_fresh_process(trained_model, loaded, canaries, tmp_path):
    import numpy as np
    import tensorflow as tf

    examples, raw = canaries
    request = tmp_path / "request.json"
    request.write_text(
        json.dumps({"examples": [e.hex() for e in examples[:32]], "raw": {k: v[:32] for k, v in raw.items()}})
    )
    done = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, str(trained_model.model_dir / SAVED_MODEL_DIR), str(request)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "2", "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["signatures"] == ["serving_default", "serving_raw"]
    assert not answer["project_imported"], "loading the SavedModel needed the project's code"
    here = loaded.signatures["serving_default"](examples=tf.constant(examples[:32]))["probabilities"].numpy()
    assert np.max(np.abs(np.array(answer["default"]) - here)) <= TOLERANCE
    assert np.max(np.abs(np.array(answer["raw"]) - np.array(answer["default"]))) <= TOLERANCE


def test_a_rerun_with_the_same_seed_reproduces_the_metrics(trained_model, adult_examples, tmp_path):
    config = adult_examples.config
    again = train(
        config,
        adult_examples.examples,
        adult_examples.schema,
        tmp_path / "model",
        tmp_path / "tb",
        config.training.hyperparameters,
        fingerprint=adult_examples.fingerprint,
    )
    first = trained_model.result
    assert again.epochs_run == first.epochs_run
    assert abs(again.metrics["eval_auc"] - first.metrics["eval_auc"]) < 0.01, (again.metrics, first.metrics)
    assert abs(again.metrics["eval_loss"] - first.metrics["eval_loss"]) < 0.02, (again.metrics, first.metrics)


def test_model_metadata_has_hyperparameters_fingerprint_and_metrics(trained_model, adult_examples):
    metadata = json.loads((trained_model.model_dir / METADATA_FILE).read_text())
    config = adult_examples.config
    assert metadata["model_name"] == config.model_name == "adult_income"
    assert metadata["hyperparameters"] == config.training.hyperparameters.model_dump()
    assert (
        metadata["data_fingerprint"] == adult_examples.fingerprint and len(metadata["data_fingerprint"]) == 64
    )
    assert metadata["metrics"] == pytest.approx(trained_model.result.metrics)
    assert metadata["epochs_run"] == trained_model.result.epochs_run
    # preprocessing was fitted on the train split only, and travels with the model
    assert metadata["preprocessing"]["vocabularies"]["sex"] == ["Female", "Male"]
    assert set(metadata["preprocessing"]["numeric"]) == set(config.features.numeric)
    assert (trained_model.model_dir / SAVED_MODEL_DIR / "saved_model.pb").is_file()
    assert sorted(p.name for p in trained_model.model_dir.iterdir()) == [METADATA_FILE, SAVED_MODEL_DIR]


# --- the config's features must match the schema ------------------------------------------------


def _with_features(config, numeric=None, categorical=None):
    features = config.features.model_copy(
        update={
            "numeric": config.features.numeric if numeric is None else numeric,
            "categorical": config.features.categorical if categorical is None else categorical,
        }
    )
    return config.model_copy(update={"features": features})


def test_the_curated_schema_matches_the_adult_config(adult_examples):
    check_schema_matches(adult_examples.config, adult_examples.schema)


def test_a_config_feature_missing_from_the_schema_is_a_user_error(adult_examples):
    config = adult_examples.config
    bad = _with_features(config, categorical=[*config.features.categorical, "favourite_colour"])
    with pytest.raises(UserInputError, match="config feature 'favourite_colour' is not in the schema"):
        check_schema_matches(bad, adult_examples.schema)


def test_a_schema_feature_missing_from_the_config_is_a_user_error(adult_examples):
    config = adult_examples.config
    bad = _with_features(config, numeric=[n for n in config.features.numeric if n != "fnlwgt"])
    with pytest.raises(UserInputError, match="schema feature 'fnlwgt' is not a feature or the label"):
        check_schema_matches(bad, adult_examples.schema)


def test_a_type_mismatch_is_a_user_error(adult_examples):
    config = adult_examples.config
    bad = _with_features(
        config,
        numeric=[n for n in config.features.numeric if n != "age"],
        categorical=[*config.features.categorical, "age"],
    )
    with pytest.raises(
        UserInputError, match="config lists 'age' as categorical but the schema types it as (FLOAT|INT)"
    ):
        check_schema_matches(bad, adult_examples.schema)
    bad = _with_features(
        config,
        numeric=[*config.features.numeric, "sex"],
        categorical=[c for c in config.features.categorical if c != "sex"],
    )
    with pytest.raises(
        UserInputError, match="config lists 'sex' as numeric but the schema types it as BYTES"
    ):
        check_schema_matches(bad, adult_examples.schema)


def test_train_refuses_a_mismatching_config_before_writing_anything(adult_examples, tmp_path):
    config = adult_examples.config
    bad = _with_features(config, categorical=[*config.features.categorical, "favourite_colour"])
    with pytest.raises(UserInputError, match="favourite_colour"):
        train(
            bad,
            adult_examples.examples,
            adult_examples.schema,
            tmp_path / "model",
            tmp_path / "tb",
            config.training.hyperparameters,
        )
    assert not (tmp_path / "model").exists()


def test_without_tf_config_or_gpus_the_default_strategy_is_used():
    import tensorflow as tf

    from mlpipe.model.keras_model import strategy_for

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("GPUs visible: strategy_for picks MirroredStrategy")
    strategy = strategy_for(None)
    assert strategy is tf.distribute.get_strategy()
    assert not tf.distribute.has_strategy()  # nothing entered: the default (single-device) strategy
    assert strategy.num_replicas_in_sync == 1
    assert strategy_for("") is tf.distribute.get_strategy()  # an empty TF_CONFIG is no cluster
