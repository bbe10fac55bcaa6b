"""The dataset config loader: the real Adult config, and every way a config can be wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from components.config import (
    DataConfig,
    DatasetConfig,
    FeaturesConfig,
    LabelConfig,
    check_columns,
    load_config,
    normalize_name,
)
from components.errors import UserInputError

ADULT_FEATURES = [
    "age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week",
    "workclass", "education", "marital_status", "occupation", "relationship", "race", "sex", "native_country",
]  # fmt: skip


def test_real_adult_config_loads_with_normalized_names(repo_root, adult):
    config = load_config(repo_root / "configs" / "adult.yaml")
    assert config.name == "adult"
    assert config.label_key == "y"
    assert config.label.positive == [">50K", ">50K."]
    assert config.label.negative == ["<=50K", "<=50K."]
    assert config.feature_keys == ADULT_FEATURES
    assert config.slicing.features == ["sex", "race"]
    assert config.slicing.crosses == [["sex", "race"]]
    # relative paths in the file resolve against configs/
    assert config.resolve(config.data.train) == str(adult.train)
    assert config.resolve(config.schema_path) == str(adult.schema)
    assert config.resolve(config.registry.uri) == str(repo_root / "registry")
    assert config.resolve("s3://bucket/key.csv") == "s3://bucket/key.csv"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("education-num", "education_num"),
        ("Y", "y"),
        (" Hours per Week ", "hours_per_week"),
        ("a--b__c", "a_b_c"),
    ],
)
def test_normalize_name(name, expected):
    assert normalize_name(name) == expected


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"trainng": {"epochs": 3}}, "'trainng'"),
        ({"label.colum": "Y"}, "'label.colum'"),
        ({"validation.drift_treshold": 0.2}, "'validation.drift_treshold'"),
        ({"training.hyperparameters.unit": 8}, "'training.hyperparameters.unit'"),
    ],
)
def test_unknown_key_fails_naming_it(tmp_path, write_config, changes, named):
    with pytest.raises(UserInputError, match="unknown config key") as info:
        load_config(write_config(tmp_path, changes))
    assert named in str(info.value)


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"training.epochs": "ten"}, "training.epochs"),
        ({"training.epochs": 2.5}, "training.epochs"),
        ({"training.epochs": True}, "training.epochs"),
        ({"split.eval_fraction": True}, "split.eval_fraction"),
        ({"split.eval_fraction": "0.3"}, "split.eval_fraction"),
        ({"tuning.enabled": "yes please"}, "tuning.enabled"),
        ({"features.numeric": "age"}, "features.numeric"),
        ({"features.categorical": ["sex", 3]}, "features.categorical[1]"),
        ({"label": ["Y"]}, "label"),
        ({"validation.drift_action": "explode"}, "validation.drift_action"),
        ({"validation.drift_thresholds": {"age": "high"}}, "validation.drift_thresholds.age"),
    ],
)
def test_wrong_type_fails_naming_the_key(tmp_path, write_config, changes, key):
    with pytest.raises(UserInputError) as info:
        load_config(write_config(tmp_path, changes))
    assert f"'{key}'" in str(info.value)


@pytest.mark.parametrize("key", ["label", "label.column", "features.numeric", "data.train", "name"])
def test_missing_required_key(tmp_path, write_config, adult, key):
    with pytest.raises(UserInputError, match="is required") as info:
        load_config(write_config(tmp_path, {key: adult.DELETE}))
    assert f"'{key}'" in str(info.value)


def test_optional_sections_take_defaults(tmp_path, write_config, adult):
    path = write_config(
        tmp_path, {"tuning": adult.DELETE, "validation": adult.DELETE, "data.eval": adult.DELETE}
    )
    config = load_config(path)
    assert config.data.eval is None
    assert config.tuning.enabled is True
    assert config.validation.drift_action == "fail"


def test_column_missing_from_data_fails_on_load(tmp_path, write_config, adult):
    path = write_config(
        tmp_path,
        {"features.numeric": ["age", "fnlwgt", "salary", "capital-gain", "capital-loss", "hours-per-week"]},
    )
    with pytest.raises(UserInputError) as info:
        load_config(path)
    message = str(info.value)
    assert "'salary'" in message
    assert str(adult.train) in message
    # without reading the data the same config loads
    assert "salary" in load_config(path, check_data=False).features.numeric


def test_label_column_missing_from_data_fails_on_load(tmp_path, write_config):
    with pytest.raises(UserInputError, match="label column 'income'"):
        load_config(write_config(tmp_path, {"label.column": "income"}))


def test_check_columns_without_label():
    config_header = ["age", "sex"]
    config = DatasetConfig(
        name="t", model_name="t", data=DataConfig(train="x.csv"),
        label=LabelConfig(column="y", positive=["1"], negative=["0"]),
        features=FeaturesConfig(numeric=["age"], categorical=["sex"]),
    )  # fmt: skip
    check_columns(config, config_header, "batch.csv", require_label=False)
    with pytest.raises(UserInputError, match="label column 'y'"):
        check_columns(config, config_header, "batch.csv", require_label=True)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"slicing.features": ["sex", "age"]}, "'age'"),
        ({"slicing.crosses": [["sex", "hours-per-week"]]}, "'hours_per_week'"),
        ({"evaluation.fairness_gates": [{"feature": "fnlwgt", "metric": "auc", "max_gap": 0.1}]}, "'fnlwgt'"),
    ],
)
def test_slice_column_must_be_categorical(tmp_path, write_config, changes, named):
    with pytest.raises(UserInputError, match="must be a categorical feature") as info:
        load_config(write_config(tmp_path, changes))
    assert named in str(info.value)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        (
            {"features.categorical": ["workclass", "education", "sex", "Sex", "race"]},
            "'sex' is listed more than once",
        ),
        ({"features.categorical": ["workclass", "race", "sex", "y"]}, "label column 'y' is also listed"),
        ({"exclude": ["age"]}, "column 'age' is both a feature and excluded"),
        ({"label.negative": ["<=50K", ">50K"]}, "label value '>50K' is both"),
        ({"split.eval_fraction": 1.0}, "split.eval_fraction"),
        ({"split.eval_fraction": 0}, "split.eval_fraction"),
    ],
)
def test_inconsistent_config(tmp_path, write_config, changes, match):
    with pytest.raises(UserInputError, match=match):
        load_config(write_config(tmp_path, changes), check_data=False)


def test_relative_paths_resolve_against_the_config_folder(tmp_path, write_config, adult, monkeypatch):
    folder = tmp_path / "project" / "configs"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "train.csv").write_bytes(adult.train.read_bytes())  # gz content; read by magic bytes
    (folder / "my.schema.pbtxt").write_text(adult.schema.read_text())
    write_config(
        folder,
        {
            "data": {"train": "data/train.csv"},
            "schema_path": "my.schema.pbtxt",
            "registry.uri": "../registry",
        },
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(Path("..") / "project" / "configs" / "config.yaml")
    assert config.base_dir == str(folder)
    assert config.resolve(config.data.train) == str(folder / "data" / "train.csv")
    assert config.resolve(config.schema_path) == str(folder / "my.schema.pbtxt")
    assert config.resolve(config.registry.uri) == str(tmp_path / "project" / "registry")


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (None, "config file not found"),
        ("name: [unclosed", "not valid YAML"),
        ("- a\n- b\n", "must hold a mapping"),
    ],
)
def test_unreadable_config_file(tmp_path, content, match):
    path = tmp_path / "config.yaml"
    if content is not None:
        path.write_text(content)
    with pytest.raises(UserInputError, match=match) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_written_variant_round_trips(tmp_path, write_config):
    """The helper writes real YAML that pyyaml reads back as the original plus the change."""
    path = write_config(tmp_path, {"training.epochs": 1})
    raw = yaml.safe_load(path.read_text())
    assert raw["training"]["epochs"] == 1
    assert load_config(path).training.epochs == 1
