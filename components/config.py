"""The dataset config: everything dataset-specific, so a new CSV needs no code change.

Declared as pydantic models (strict types, unknown keys forbidden): a typo in a
config must fail on load, naming the key, never fall back to a default.
Cross-field rules (gate features are sliced, gate metrics are computed, ...)
run at load too, so a bad config stops before a run starts, not in its middle.

A config travels to the stages as a run parameter (`run_input`): locations
resolved, the curated schema inlined, so a pod needs nothing of the machine
that submitted it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from mlpipe.components.errors import UserInputError


def normalize_name(name: str) -> str:
    """Column names as features: lower case, runs of other characters become `_`."""
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


Column = Annotated[str, AfterValidator(normalize_name)]

# Metrics the evaluate stage computes per slice (its TFMA EvalConfig); a gate may name these,
# or a Fairness Indicators rate at one of `fairness_thresholds`, as `false_positive_rate@0.5`.
SCALAR_METRICS = ("auc", "auc_pr", "binary_accuracy", "precision", "recall", "calibration")
FAIRNESS_RATES = (
    "false_positive_rate",
    "false_negative_rate",
    "true_positive_rate",
    "true_negative_rate",
    "positive_rate",
    "negative_rate",
    "false_discovery_rate",
    "false_omission_rate",
)
# Names the schema stage, model and serving use as path components or Kubernetes names.
_SAFE_NAME = r"^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?$"


class _Model(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class DataConfig(_Model):
    train: str
    eval: str | None = None
    # Serving data (requests as logged, no label needed): validated in the SERVING environment
    # and compared with the train split for training/serving skew.
    serving: str | None = None


class CsvConfig(_Model):
    delimiter: str = ","
    skip_initial_space: bool = True
    missing_value: str = "?"


class LabelConfig(_Model):
    column: Column
    positive: list[str]
    negative: list[str]


class FeaturesConfig(_Model):
    numeric: list[Column]
    categorical: list[Column]


class SlicingConfig(_Model):
    features: list[Column] = []
    crosses: list[list[Column]] = []


class SplitConfig(_Model):
    eval_fraction: float = Field(0.3, gt=0.0, lt=1.0)
    hash_key: list[Column] = []


class ValidationConfig(_Model):
    drift_action: Literal["fail", "warn"] = "fail"
    numeric_drift_threshold: float = 0.1
    categorical_drift_threshold: float = 0.1
    drift_thresholds: dict[Column, float] = {}
    skew_threshold: float = 0.1
    skew_thresholds: dict[Column, float] = {}
    fail_on_anomalies: bool = True


class HyperParameters(_Model):
    hidden_layers: int = Field(2, ge=1)
    units: int = Field(64, ge=1)
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    learning_rate: float = Field(0.003, gt=0.0)
    embedding_dim: int = Field(0, ge=0)


IntChoices = Annotated[list[int], Field(min_length=1)]
FloatChoices = Annotated[list[float], Field(min_length=1)]


class SearchSpace(_Model):
    """Candidate values per hyperparameter; an absent one keeps `training.hyperparameters`."""

    hidden_layers: IntChoices | None = None
    units: IntChoices | None = None
    dropout: FloatChoices | None = None
    learning_rate: FloatChoices | None = None
    embedding_dim: IntChoices | None = None

    def items(self) -> list[tuple[str, list]]:
        return [(k, v) for k, v in self.model_dump().items() if v]


class TrainingConfig(_Model):
    epochs: int = Field(8, ge=1)
    batch_size: int = Field(256, ge=1)
    seed: int = 42
    early_stopping_patience: int = Field(2, ge=0)
    hyperparameters: HyperParameters = HyperParameters()


class TuningConfig(_Model):
    enabled: bool = True
    algorithm: Literal["random", "bayesian", "hyperband"] = "random"
    max_trials: int = Field(3, ge=1)
    epochs_per_trial: int = Field(2, ge=1)
    search_space: SearchSpace = SearchSpace()


class FairnessGate(_Model):
    feature: Column
    metric: str
    max_gap: float = Field(ge=0.0)


class EvaluationConfig(_Model):
    min_auc: float = 0.85
    min_binary_accuracy: float = 0.0
    max_auc_drop: float = 0.01
    fairness_thresholds: list[float] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    fairness_gates: list[FairnessGate] = []
    min_slice_size: int = Field(30, ge=1)

    def gate_metrics(self) -> set[str]:
        """Every metric name a fairness gate may use."""
        rates = {f"{rate}@{round(t, 4)}" for rate in FAIRNESS_RATES for t in self.fairness_thresholds}
        return {*SCALAR_METRICS, *rates}


class RegistryConfig(_Model):
    uri: str = "registry"


class ServingConfig(_Model):
    target: Literal["none", "deployment", "kserve"] = "none"
    canary_traffic_percent: int = Field(0, ge=0, le=100)
    # kserve: how long push, promote and rollback wait for the InferenceService to report the new
    # revision ready (0: do not wait, report the patch only).
    rollout_timeout_seconds: float = Field(300, ge=0)


class DatasetConfig(_Model):
    name: Annotated[str, Field(pattern=_SAFE_NAME)]
    model_name: Annotated[str, Field(pattern=_SAFE_NAME)]
    data: DataConfig
    label: LabelConfig
    features: FeaturesConfig
    csv: CsvConfig = CsvConfig()
    exclude: list[Column] = []
    slicing: SlicingConfig = SlicingConfig()
    split: SplitConfig = SplitConfig()
    # A curated TFDV schema: a file (`schema_path`) or its text inline (`schema_pbtxt`, what a
    # run input carries); neither infers one from the train statistics.
    schema_path: str | None = None
    schema_pbtxt: str | None = None
    validation: ValidationConfig = ValidationConfig()
    training: TrainingConfig = TrainingConfig()
    tuning: TuningConfig = TuningConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    registry: RegistryConfig = RegistryConfig()
    serving: ServingConfig = ServingConfig()

    @property
    def label_key(self) -> str:
        return self.label.column

    @property
    def feature_keys(self) -> list[str]:
        return [*self.features.numeric, *self.features.categorical]

    @model_validator(mode="after")
    def _consistent(self) -> DatasetConfig:
        _check_consistency(self)
        return self

    def run_input(self) -> dict[str, Any]:
        """The config as a pipeline run parameter: plain JSON, the curated schema inlined."""
        raw = self.model_dump(mode="json", exclude_none=True)  # KFP's struct values cannot be null
        if self.schema_path and not self.schema_pbtxt:
            path = Path(self.schema_path)
            try:
                raw["schema_pbtxt"] = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise UserInputError(f"schema_path: cannot read {path}: {exc.strerror or exc}") from None
            del raw["schema_path"]
        return raw


class _Inconsistent(ValueError):
    """A cross-field rule, raised inside validation and reported with its key."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


def _check_consistency(config: DatasetConfig) -> None:
    features = config.feature_keys
    duplicated = sorted({f for f in features if features.count(f) > 1})
    if duplicated:
        raise _Inconsistent("features", f"feature '{duplicated[0]}' is listed more than once")
    if config.label_key in features:
        raise _Inconsistent("label.column", f"label column '{config.label_key}' is also listed as a feature")
    for name in config.exclude:
        if name in features:
            raise _Inconsistent("exclude", f"column '{name}' is both a feature and excluded")
    sliced = [*config.slicing.features, *(c for cross in config.slicing.crosses for c in cross)]
    for name in sliced:
        if name not in config.features.categorical:
            raise _Inconsistent("slicing", f"slice column '{name}' must be a categorical feature")
    overlap = set(config.label.positive) & set(config.label.negative)
    if overlap:
        raise _Inconsistent("label", f"label value '{sorted(overlap)[0]}' is both positive and negative")
    for key, thresholds in (
        ("validation.drift_thresholds", config.validation.drift_thresholds),
        ("validation.skew_thresholds", config.validation.skew_thresholds),
    ):
        for name in thresholds:
            if name not in features:
                raise _Inconsistent(f"{key}.{name}", f"'{name}' is not a feature")
    known = config.evaluation.gate_metrics()
    for index, gate in enumerate(config.evaluation.fairness_gates):
        key = f"evaluation.fairness_gates[{index}]"
        if gate.feature not in config.slicing.features:
            raise _Inconsistent(
                f"{key}.feature",
                f"fairness gate feature '{gate.feature}' must be a categorical feature listed in "
                f"slicing.features ({', '.join(config.slicing.features) or 'none'})",
            )
        if gate.metric not in known:
            examples = ", ".join([*SCALAR_METRICS, "false_positive_rate@0.5"])
            raise _Inconsistent(
                f"{key}.metric",
                f"fairness gate metric '{gate.metric}' is not computed by the evaluation "
                f"(e.g. {examples}; rates at the fairness_thresholds)",
            )
    if config.schema_path and config.schema_pbtxt:
        raise _Inconsistent("schema_pbtxt", "give schema_path or schema_pbtxt, not both")


def _key(loc: tuple) -> str:
    key = ""
    for part in loc:
        if isinstance(part, int):
            key += f"[{part}]"
        elif part:
            key = f"{key}.{part}" if key else str(part)
    return key


def _known_keys(loc: tuple) -> str:
    """The keys allowed where an unknown one was found, for the error message."""
    model: Any = DatasetConfig
    for part in loc[:-1]:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        annotation = getattr(field, "annotation", None)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        elif isinstance(part, int) and model is EvaluationConfig:
            model = FairnessGate
        elif field is not None and model is EvaluationConfig and part == "fairness_gates":
            model = EvaluationConfig
        else:
            return ""
    return ", ".join(sorted(model.model_fields))


def _message(error: dict, source: str) -> str:
    loc = tuple(p for p in error["loc"] if p != "__root__")
    key = _key(loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        known = _known_keys(loc)
        return f"{source}: unknown config key '{key}'" + (f" (known keys here: {known})" if known else "")
    if kind == "missing":
        return f"{source}: config key '{key}' is required"
    if kind == "value_error" and isinstance(error.get("ctx", {}).get("error"), _Inconsistent):
        inner = error["ctx"]["error"]
        return f"{source}: config key '{inner.key}': {inner}"
    if kind == "string_pattern_mismatch":
        return (
            f"{source}: config key '{key}' must be lower-case letters, digits, '-' or '_' "
            f"(a path and Kubernetes name), got {error['input']!r}"
        )
    message = error["msg"][0].lower() + error["msg"][1:]
    return f"{source}: config key '{key}': {message}, got {error['input']!r}"


def config_from_dict(raw: Any, source: str = "config") -> DatasetConfig:
    """Validate a mapping (a YAML file's content, or a run's config parameter)."""
    if not isinstance(raw, dict):
        raise UserInputError(f"{source} must hold a mapping of keys")
    try:
        return DatasetConfig.model_validate(_whole_numbers_as_int(raw))
    except ValidationError as exc:
        raise UserInputError(_message(exc.errors()[0], source)) from None


def _whole_numbers_as_int(value: Any) -> Any:
    """KFP passes a struct parameter's numbers as doubles (8 arrives as 8.0); every float field
    accepts an int, so whole floats become ints and int fields stay strict."""
    if isinstance(value, dict):
        return {k: _whole_numbers_as_int(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers_as_int(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _is_remote(location: str) -> bool:
    return location.startswith("s3://")


def _resolved(raw: dict, base_dir: Path) -> dict:
    """Relative local locations made absolute against the config file's folder."""

    def resolve(value: Any) -> Any:
        if isinstance(value, str) and value and not _is_remote(value):
            return str((base_dir / value).resolve())
        return value

    raw = dict(raw)
    if raw.get("base") is None and "registry" not in raw:
        raw["registry"] = {"uri": resolve(RegistryConfig().uri)}
    if isinstance(raw.get("data"), dict):
        raw["data"] = {k: resolve(v) for k, v in raw["data"].items()}
    if isinstance(raw.get("registry"), dict) and "uri" in raw["registry"]:
        raw["registry"] = {**raw["registry"], "uri": resolve(raw["registry"]["uri"])}
    if raw.get("schema_path"):
        raw["schema_path"] = resolve(raw["schema_path"])
    return raw


def _read_yaml(path: Path, chain: tuple[Path, ...] = ()) -> dict:
    """A config file's mapping, locations resolved; `base: other.yaml` is read first and this
    file's keys are merged over it (mappings key by key, anything else replaced)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        where = f" (base of {chain[-1]})" if chain else ""
        raise UserInputError(f"config file not found: {path}{where}") from None
    except OSError as exc:
        raise UserInputError(f"config file {path} cannot be read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise UserInputError(f"config file {path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise UserInputError(f"config file {path} must hold a mapping of keys")
    raw = _resolved(raw, path.resolve().parent)
    base = raw.pop("base", None)
    if base is None:
        return raw
    if not isinstance(base, str):
        raise UserInputError(f"{path}: config key 'base' must be a file name, got {base!r}")
    base_path = (path.resolve().parent / base).resolve()
    if base_path in (*chain, path.resolve()):
        raise UserInputError(f"{path}: config key 'base' makes a cycle through {base_path}")
    return _merged(_read_yaml(base_path, (*chain, path.resolve())), raw)


def _merged(base: dict, top: dict) -> dict:
    out = dict(base)
    for key, value in top.items():
        out[key] = (
            _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


def load_config(path: str | Path, check_data: bool = True) -> DatasetConfig:
    """Load a dataset config file; locations resolve against its folder. With `check_data`,
    the header of each local data file is checked against the configured columns."""
    path = Path(path)
    config = config_from_dict(_read_yaml(path), str(path))
    if check_data:
        from mlpipe.components.csv_source import read_header  # local import: config stays light

        for location in (config.data.train, config.data.eval):
            if location and not _is_remote(location) and Path(location).exists():
                check_columns(config, read_header(location, config.csv), location, require_label=True)
    return config


def check_columns(
    config: DatasetConfig,
    header: list[str],
    source: str,
    require_label: bool,
    allow_missing_features: bool = False,
) -> None:
    """Fail naming the first column the config expects but the data lacks. With
    `allow_missing_features` (a batch to validate, where a missing feature is an anomaly
    reported with the others) only the label, when required, and one feature must be there."""
    present = set(header)
    expected = [] if allow_missing_features else [*config.feature_keys, *config.exclude]
    if allow_missing_features and not present & set(config.feature_keys):
        raise UserInputError(
            f"{source}: none of the features named in the config is in the data (columns: {', '.join(header)})"
        )
    if require_label:
        expected.insert(0, config.label_key)
    for column in expected:
        if column not in present:
            kind = "label column" if column == config.label_key else "column"
            raise UserInputError(
                f"{source}: {kind} '{column}' named in the config is not in the data "
                f"(columns: {', '.join(header)})"
            )


def with_overrides(
    config: DatasetConfig, train: str = "", eval: str = "", registry: str = ""
) -> DatasetConfig:
    """The config with data and registry locations replaced (empty keeps the config's)."""

    def location(value: str) -> str:
        return value if _is_remote(value) else str(Path(value).resolve())

    data = config.data.model_copy(
        update={
            "train": location(train) if train else config.data.train,
            "eval": location(eval) if eval else config.data.eval,
        }
    )
    update: dict[str, Any] = {"data": data}
    if registry:
        update["registry"] = RegistryConfig(uri=location(registry))
    return config.model_copy(update=update)


def check_for_cluster(config: DatasetConfig) -> None:
    """A pod has nothing of this machine: every location must be an object-store URI."""
    for key, value in (
        ("data.train", config.data.train),
        ("data.eval", config.data.eval),
        ("data.serving", config.data.serving),
        ("registry.uri", config.registry.uri),
    ):
        if value is None:
            continue
        if not value:
            raise UserInputError(f"config key '{key}' is empty: a cluster run needs an s3:// location")
        if not _is_remote(value):
            raise UserInputError(
                f"config key '{key}' is the local path {value}, which a cluster pod cannot read: "
                "upload it (`mlpipe upload`) and use its s3:// URI"
            )
