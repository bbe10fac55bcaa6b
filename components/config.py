"""The dataset config: everything dataset-specific, so a new CSV needs no code change.

Loaded from YAML into frozen dataclasses. Unknown keys, wrong types and columns
that the data lacks fail on load, naming the key or column, because a typo in
a config should never silently fall back to a default.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal

import yaml

from components.errors import UserInputError


def normalize_name(name: str) -> str:
    """Column names as features: lower case, runs of other characters become `_`."""
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


@dataclasses.dataclass(frozen=True)
class DataConfig:
    train: str
    eval: str | None = None


@dataclasses.dataclass(frozen=True)
class CsvConfig:
    delimiter: str = ","
    skip_initial_space: bool = True
    missing_value: str = "?"


@dataclasses.dataclass(frozen=True)
class LabelConfig:
    column: str
    positive: list[str]
    negative: list[str]


@dataclasses.dataclass(frozen=True)
class FeaturesConfig:
    numeric: list[str]
    categorical: list[str]


@dataclasses.dataclass(frozen=True)
class SlicingConfig:
    features: list[str] = dataclasses.field(default_factory=list)
    crosses: list[list[str]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class SplitConfig:
    eval_fraction: float = 0.3
    hash_key: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class ValidationConfig:
    drift_action: Literal["fail", "warn"] = "fail"
    numeric_drift_threshold: float = 0.1
    categorical_drift_threshold: float = 0.1
    drift_thresholds: dict[str, float] = dataclasses.field(default_factory=dict)
    skew_threshold: float = 0.1
    skew_thresholds: dict[str, float] = dataclasses.field(default_factory=dict)
    fail_on_anomalies: bool = True


@dataclasses.dataclass(frozen=True)
class HyperParameters:
    hidden_layers: int = 2
    units: int = 64
    dropout: float = 0.1
    learning_rate: float = 0.003
    embedding_dim: int = 0


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    epochs: int = 8
    batch_size: int = 256
    seed: int = 42
    early_stopping_patience: int = 2
    hyperparameters: HyperParameters = dataclasses.field(default_factory=HyperParameters)


@dataclasses.dataclass(frozen=True)
class TuningConfig:
    enabled: bool = True
    algorithm: Literal["random", "bayesian", "hyperband"] = "random"
    max_trials: int = 3
    epochs_per_trial: int = 2
    search_space: dict[str, list[float]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class FairnessGate:
    feature: str
    metric: str
    max_gap: float


@dataclasses.dataclass(frozen=True)
class EvaluationConfig:
    min_auc: float = 0.85
    min_binary_accuracy: float = 0.0
    max_auc_drop: float = 0.01
    fairness_thresholds: list[float] = dataclasses.field(
        default_factory=lambda: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    )
    fairness_gates: list[FairnessGate] = dataclasses.field(default_factory=list)
    min_slice_size: int = 30


@dataclasses.dataclass(frozen=True)
class RegistryConfig:
    uri: str = "registry"


@dataclasses.dataclass(frozen=True)
class ServingConfig:
    target: Literal["none", "deployment", "kserve"] = "none"
    canary_traffic_percent: int = 0


@dataclasses.dataclass(frozen=True)
class DatasetConfig:
    name: str
    model_name: str
    data: DataConfig
    label: LabelConfig
    features: FeaturesConfig
    csv: CsvConfig = dataclasses.field(default_factory=CsvConfig)
    exclude: list[str] = dataclasses.field(default_factory=list)
    slicing: SlicingConfig = dataclasses.field(default_factory=SlicingConfig)
    split: SplitConfig = dataclasses.field(default_factory=SplitConfig)
    schema_path: str | None = None
    validation: ValidationConfig = dataclasses.field(default_factory=ValidationConfig)
    training: TrainingConfig = dataclasses.field(default_factory=TrainingConfig)
    tuning: TuningConfig = dataclasses.field(default_factory=TuningConfig)
    evaluation: EvaluationConfig = dataclasses.field(default_factory=EvaluationConfig)
    registry: RegistryConfig = dataclasses.field(default_factory=RegistryConfig)
    serving: ServingConfig = dataclasses.field(default_factory=ServingConfig)
    # Where the file was loaded from; relative paths inside resolve against it.
    base_dir: str = "."

    @property
    def label_key(self) -> str:
        return self.label.column

    @property
    def feature_keys(self) -> list[str]:
        return [*self.features.numeric, *self.features.categorical]

    def resolve(self, location: str | None) -> str | None:
        """A data or file location from the config: `s3://` as is, paths against the config file."""
        if location is None or location.startswith("s3://"):
            return location
        return str((Path(self.base_dir) / location).resolve())


_NAME_FIELDS = {"column", "numeric", "categorical", "exclude", "features", "crosses", "hash_key", "feature"}


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _build(tp: Any, value: Any, key: str) -> Any:
    """Check `value` against the annotation `tp` and build dataclasses, naming `key` on error."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise UserInputError(f"config key '{key}' must be a mapping, got {type(value).__name__}")
        hints = typing.get_type_hints(tp)
        known = {f.name for f in dataclasses.fields(tp) if f.name != "base_dir"}
        unknown = sorted(set(value) - known)
        if unknown:
            raise UserInputError(
                f"unknown config key '{_join(key, unknown[0])}' (known keys here: {', '.join(sorted(known))})"
            )
        kwargs = {}
        for field in dataclasses.fields(tp):
            if field.name not in value:
                if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                    if field.name != "base_dir":
                        raise UserInputError(f"config key '{_join(key, field.name)}' is required")
                continue
            kwargs[field.name] = _build(hints[field.name], value[field.name], _join(key, field.name))
        return tp(**kwargs)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _build(inner[0], value, key)
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise UserInputError(f"config key '{key}' must be one of {list(choices)}, got {value!r}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise UserInputError(f"config key '{key}' must be a list, got {type(value).__name__}")
        (item,) = typing.get_args(tp)
        return [_build(item, v, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise UserInputError(f"config key '{key}' must be a mapping, got {type(value).__name__}")
        _, item = typing.get_args(tp)
        return {str(k): _build(item, v, _join(key, str(k))) for k, v in value.items()}
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UserInputError(f"config key '{key}' must be a number, got {value!r}")
        return float(value)
    if tp in (str, int, bool):
        if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
            raise UserInputError(f"config key '{key}' must be {_type_name(tp)}, got {value!r}")
        return value
    raise TypeError(f"unsupported config annotation {tp!r} at {key}")  # a bug, not user input


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _normalized(config: DatasetConfig) -> DatasetConfig:
    """Normalize every column name so `education-num` and `education_num` both work."""

    def walk(obj: Any, field_name: str = "") -> Any:
        if dataclasses.is_dataclass(obj):
            changes = {f.name: walk(getattr(obj, f.name), f.name) for f in dataclasses.fields(obj)}
            return dataclasses.replace(obj, **changes)
        if field_name in _NAME_FIELDS:
            if isinstance(obj, str):
                return normalize_name(obj)
            if isinstance(obj, list):
                return [walk(v, field_name) for v in obj]
        if isinstance(obj, list):
            return [walk(v) for v in obj]
        if isinstance(obj, dict) and field_name in ("drift_thresholds", "skew_thresholds"):
            return {normalize_name(k): v for k, v in obj.items()}
        return obj

    return walk(config)


def _check_consistency(config: DatasetConfig, source: str) -> None:
    features = config.feature_keys
    duplicated = sorted({f for f in features if features.count(f) > 1})
    if duplicated:
        raise UserInputError(f"{source}: feature '{duplicated[0]}' is listed more than once")
    if config.label_key in features:
        raise UserInputError(f"{source}: label column '{config.label_key}' is also listed as a feature")
    for name in config.exclude:
        if name in features:
            raise UserInputError(f"{source}: column '{name}' is both a feature and excluded")
    sliced = [*config.slicing.features, *(c for cross in config.slicing.crosses for c in cross)]
    sliced += [g.feature for g in config.evaluation.fairness_gates]
    for name in sliced:
        if name not in config.features.categorical:
            raise UserInputError(f"{source}: slice column '{name}' must be a categorical feature")
    overlap = set(config.label.positive) & set(config.label.negative)
    if overlap:
        raise UserInputError(f"{source}: label value '{sorted(overlap)[0]}' is both positive and negative")
    if not 0.0 < config.split.eval_fraction < 1.0:
        raise UserInputError(f"{source}: split.eval_fraction must be between 0 and 1")


def load_config(path: str | Path, check_data: bool = True) -> DatasetConfig:
    """Load and validate a dataset config; with `check_data`, also the columns of local data files."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserInputError(f"config file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise UserInputError(f"config file {path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise UserInputError(f"config file {path} must hold a mapping of keys")
    config = _build(DatasetConfig, raw, "")
    config = dataclasses.replace(_normalized(config), base_dir=str(path.resolve().parent))
    _check_consistency(config, str(path))
    if check_data:
        from components.csv_source import read_header  # local import: config stays light

        for location in (config.data.train, config.data.eval):
            resolved = config.resolve(location)
            if resolved and not resolved.startswith("s3://") and Path(resolved).exists():
                check_columns(config, read_header(resolved, config.csv), resolved, require_label=True)
    return config


def check_columns(config: DatasetConfig, header: list[str], source: str, require_label: bool) -> None:
    """Fail naming the first column the config expects but the data lacks."""
    present = set(header)
    expected = [*config.feature_keys, *config.exclude]
    if require_label:
        expected.insert(0, config.label_key)
    for column in expected:
        if column not in present:
            kind = "label column" if column == config.label_key else "column"
            raise UserInputError(
                f"{source}: {kind} '{column}' named in the config is not in the data "
                f"(columns: {', '.join(header)})"
            )


def with_data_overrides(config: DatasetConfig, train: str = "", eval: str = "") -> DatasetConfig:
    """The config with data locations replaced by run parameters (empty keeps the file's)."""
    data = dataclasses.replace(
        config.data,
        train=str(Path(train).resolve())
        if train and not train.startswith("s3://")
        else train or config.data.train,
        eval=str(Path(eval).resolve()) if eval and not eval.startswith("s3://") else eval or config.data.eval,
    )
    return dataclasses.replace(config, data=data)


def config_to_dict(config: DatasetConfig) -> dict[str, Any]:
    return dataclasses.asdict(config)
