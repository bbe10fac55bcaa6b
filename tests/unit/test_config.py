"""The dataset config loader: the real Adult config, and every way a config can be wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mlpipe.config.dataset import DataConfig, DatasetConfig, FeaturesConfig, LabelConfig, normalize_name
from mlpipe.config.io import check_columns, check_for_cluster, config_from_dict, load_config
from mlpipe.errors import UserInputError

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
    assert config.data.train == str(adult.train)
    assert config.schema_path == str(adult.schema)
    assert config.registry.uri == str(repo_root / "registry")


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
    assert config.data.train == str(folder / "data" / "train.csv")
    assert config.schema_path == str(folder / "my.schema.pbtxt")
    assert config.registry.uri == str(tmp_path / "project" / "registry")


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


@pytest.mark.parametrize(
    ("changes", "key", "named"),
    [
        # a gate may only compare slices the evaluation computes
        (
            {"evaluation.fairness_gates": [{"feature": "fnlwgt", "metric": "auc", "max_gap": 0.1}]},
            "evaluation.fairness_gates[0].feature",
            "'fnlwgt'",
        ),
        (
            {"evaluation.fairness_gates": [{"feature": "workclass", "metric": "auc", "max_gap": 0.1}]},
            "evaluation.fairness_gates[0].feature",
            "'workclass'",
        ),
        (
            {"evaluation.fairness_gates": [{"feature": "sex", "metric": "acuracy", "max_gap": 0.1}]},
            "evaluation.fairness_gates[0].metric",
            "'acuracy'",
        ),
        (
            {
                "evaluation.fairness_gates": [
                    {"feature": "sex", "metric": "false_positive_rate@0.55", "max_gap": 0.1}
                ]
            },
            "evaluation.fairness_gates[0].metric",
            "'false_positive_rate@0.55'",
        ),
        ({"serving.canary_traffic_percent": 120}, "serving.canary_traffic_percent", "120"),
        ({"serving.canary_traffic_percent": -1}, "serving.canary_traffic_percent", "-1"),
        ({"serving.strategy": "blue-green"}, "serving.strategy", "target: deployment, not none"),
        ({"serving.target": "kserve", "serving.strategy": "blue-green"}, "serving.strategy", "not kserve"),
        ({"serving.strategy": "canary"}, "serving.strategy", "'rolling', 'blue-green' or 'shadow'"),
        ({"serving.strategy": "shadow"}, "serving.strategy", "shadow needs serving.target: kserve"),
        (
            {"serving.target": "deployment", "serving.strategy": "shadow"},
            "serving.strategy",
            "not deployment",
        ),
        (
            {"serving.target": "kserve", "serving.strategy": "shadow", "serving.canary_traffic_percent": 10},
            "serving.canary_traffic_percent",
            "mirrored copy",
        ),
        ({"validation.drift_thresholds": {"agee": 0.2}}, "validation.drift_thresholds.agee", "'agee'"),
        ({"validation.skew_thresholds": {"salary": 0.2}}, "validation.skew_thresholds.salary", "'salary'"),
        ({"tuning.search_space.neurons": [4, 8]}, "tuning.search_space.neurons", "unknown config key"),
        ({"tuning.search_space.units": []}, "tuning.search_space.units", "at least 1"),
        ({"model_name": "../escape"}, "model_name", "'../escape'"),
    ],
)
def test_cross_field_rules_fail_on_load_naming_the_key(tmp_path, write_config, changes, key, named):
    with pytest.raises(UserInputError) as info:
        load_config(write_config(tmp_path, changes), check_data=False)
    message = str(info.value)
    assert f"'{key}'" in message and named in message
    assert "\n" not in message


def test_the_strategy_picks_what_the_rollout_drives(tmp_path, write_config):
    def target(changes):
        return load_config(write_config(tmp_path, changes), check_data=False).serving.rollout_target

    assert target({"serving.target": "deployment"}) == "deployment"
    assert target({"serving.target": "deployment", "serving.strategy": "blue-green"}) == "blue-green"
    assert target({"serving.target": "kserve"}) == "kserve"
    assert target({"serving.target": "kserve", "serving.strategy": "shadow"}) == "shadow"


def test_gate_on_a_fairness_rate_at_a_configured_threshold_loads(tmp_path, write_config):
    gates = [{"feature": "race", "metric": "false_negative_rate@0.3", "max_gap": 0.2}]
    config = load_config(write_config(tmp_path, {"evaluation.fairness_gates": gates}), check_data=False)
    assert config.evaluation.fairness_gates[0].metric == "false_negative_rate@0.3"


def test_run_input_is_self_contained_and_round_trips(repo_root):
    """What travels as the `config` run parameter: no local schema path, the schema inlined,
    and KFP's struct numbers (floats) read back as the same config."""
    config = load_config(repo_root / "configs" / "adult.yaml")
    run_input = config.run_input()
    assert "schema_path" not in run_input
    assert run_input["schema_pbtxt"] == (repo_root / "configs" / "adult.schema.pbtxt").read_text()
    as_kfp_struct = yaml.safe_load(yaml.safe_dump(run_input).replace("epochs: 8", "epochs: 8.0"))
    assert as_kfp_struct["training"]["epochs"] == 8.0
    back = config_from_dict(as_kfp_struct)
    assert back.training.epochs == 8 and isinstance(back.training.epochs, int)
    assert back.model_dump(exclude={"schema_path", "schema_pbtxt"}) == config.model_dump(
        exclude={"schema_path", "schema_pbtxt"}
    )


def test_base_overlay_merges_over_the_base_file(repo_root):
    cluster = load_config(repo_root / "configs" / "adult-cluster.yaml", check_data=False)
    local = load_config(repo_root / "configs" / "adult.yaml", check_data=False)
    assert cluster.data.train.startswith("s3://") and cluster.registry.uri.startswith("s3://")
    # everything else comes from the base, with the base's paths resolved against its own folder
    assert cluster.schema_path == local.schema_path
    assert cluster.evaluation == local.evaluation
    check_for_cluster(cluster)


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({}, "data.train"),  # the Adult config's local files
        ({"data": {"train": "s3://b/train.csv", "eval": "eval.csv"}}, "data.eval"),
        ({"data": {"train": "s3://b/train.csv"}, "registry.uri": "registry"}, "registry.uri"),
    ],
)
def test_a_cluster_run_refuses_local_locations(tmp_path, write_config, changes, key):
    config = load_config(write_config(tmp_path, changes), check_data=False)
    with pytest.raises(UserInputError, match=f"config key '{key}'.*cluster pod cannot read"):
        check_for_cluster(config)
