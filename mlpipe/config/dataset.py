"""The dataset config: everything dataset-specific, so a new CSV needs no code change.

Declared as pydantic models (strict types, unknown keys forbidden): a typo in a
config must fail on load, naming the key, never fall back to a default.
Cross-field rules (gate features are sliced, gate metrics are computed, ...)
run at load too, so a bad config stops before a run starts, not in its middle.

A config travels to the stages as a run parameter (`run_input`): locations
resolved, the curated schema inlined, so a pod needs nothing of the machine
that submitted it. Reading configs (files, run parameters) and checking their
locations is `config_io`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from mlpipe.errors import UserInputError


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
    # An inferred schema's category domains accept values they never saw up to 1 - this share
    # of a split's rows (TFDV's distribution_constraints.min_domain_mass): a random split puts
    # some rare values only in eval. They are listed as a warning; a curated schema keeps its
    # own constraints. Monitoring's bound on unseen values is the same share.
    min_domain_mass: float = Field(0.99, gt=0.0, le=1.0)

    @property
    def max_unseen_fraction(self) -> float:
        return round(1.0 - self.min_domain_mass, 12)


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


class DistributedTraining(_Model):
    """On a cluster, train as a Kubeflow TFJob (training-operator v1) of `workers` pods under
    MultiWorkerMirroredStrategy; 1 trains in the step's own pod. Locally, one process trains."""

    workers: int = Field(1, ge=1)
    timeout_seconds: float = Field(3600, gt=0)  # the whole job: start, train, upload
    cpu: str = "1"  # per worker, request and limit
    memory: str = "4Gi"


class TrainingConfig(_Model):
    epochs: int = Field(8, ge=1)
    batch_size: int = Field(256, ge=1)
    seed: int = 42
    early_stopping_patience: int = Field(2, ge=0)
    hyperparameters: HyperParameters = HyperParameters()
    distributed: DistributedTraining = DistributedTraining()


class TuningConfig(_Model):
    enabled: bool = True
    algorithm: Literal["random", "bayesian", "hyperband"] = "random"
    max_trials: int = Field(3, ge=1)
    epochs_per_trial: int = Field(2, ge=1)
    search_space: SearchSpace = SearchSpace()
    # On a cluster, > 0 runs the trials as a ParallelFor fan-out, this many at once (random search
    # only: trials are planned up front); 0, and every local run, searches in one pod, trial by trial.
    parallel_trials: int = Field(0, ge=0)


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
    # Where the deployed serving overlay lives: its `serving-params` ConfigMap names the serving
    # objects, the model and the registry bucket; push and submit read it (serving_live).
    namespace: Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")] = "mlpipe-serving"
    # deployment: `rolling` updates the one Deployment; `blue-green` rolls the idle one of two
    # colours and switches the Service once it is ready (manifests/overlays/kind-blue-green).
    # kserve: `shadow` pins the new version into `<isvc>-shadow`, which gets a mirrored copy of
    # live traffic (Istio; manifests/overlays/kubeflow-shadow); `mlpipe promote` serves it.
    strategy: Literal["rolling", "blue-green", "shadow"] = "rolling"
    canary_traffic_percent: int = Field(0, ge=0, le=100)
    # kserve: how long push, promote and rollback wait for the InferenceService to report the new
    # revision ready (0: do not wait, report the patch only).
    rollout_timeout_seconds: float = Field(300, ge=0)

    @property
    def rollout_target(self) -> str:
        """What the rollout code drives: none, deployment, blue-green, kserve or shadow."""
        if self.target == "deployment" and self.strategy == "blue-green":
            return "blue-green"
        if self.target == "kserve" and self.strategy == "shadow":
            return "shadow"
        return self.target


MONITOR_CHARTS = ("drift", "missing", "prediction", "performance", "fairness")


class MonitoringConfig(_Model):
    """`mlpipe monitor`: the bounds of each signal, and when crossing them asks for retraining.
    Drift and skew bounds are `validation`'s thresholds; a signal is one kind on one feature."""

    id_column: Column | None = None  # joins labels that arrive later to the batch rows they label
    consecutive_batches: int = Field(2, ge=1)  # a signal over its bound this many batches in a row
    retrain: Literal["auto", "manual"] = "manual"  # manual: the decision is recorded, nothing run
    prediction_drift_threshold: float = Field(0.1, ge=0.0)  # Jensen-Shannon of the score histograms
    max_missing_increase: float = Field(0.05, ge=0.0, le=1.0)  # over the training data's fraction
    max_out_of_range_fraction: float = Field(0.01, ge=0.0, le=1.0)
    max_bad_predictions: float = Field(0.0, ge=0.0, le=1.0)  # empty or non-finite scores
    max_auc_drop: float = Field(0.05, ge=0.0)  # below the model card's overall AUC
    max_fairness_gap_increase: float = Field(0.05, ge=0.0)  # over the model card's gap
    min_labelled_rows: int = Field(200, ge=1)  # fewer joined labels: no performance figures yet
    charts: list[Literal[MONITOR_CHARTS]] = list(MONITOR_CHARTS)  # the dashboard's charts

    @model_validator(mode="before")
    @classmethod
    def _moved_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and "max_unseen_fraction" in data:
            raise ValueError(
                "max_unseen_fraction moved: unseen categories have one bound, 1 - "
                "validation.min_domain_mass (default 0.99), in validation and monitoring alike"
            )
        return data


# Options a runner cannot run without (Beam itself would fail later, deep in a stage).
_REQUIRED_BEAM_OPTIONS = {"DataflowRunner": ("project", "region", "temp_location")}


class BeamConfig(_Model):
    """The Beam runner of the data stages (ingest, statistics, evaluate) and its options, as
    Beam flags without the dashes (`flink_master: localhost:8081`, `parallelism: 8`).
    DirectRunner runs in multi-processing mode, one worker per core unless
    `direct_num_workers` says otherwise. Inputs up to `in_memory_max_bytes` (uncompressed) take
    the in-memory path instead (measured faster there: Beam's start-up dominates)."""

    runner: Literal["DirectRunner", "PrismRunner", "FlinkRunner", "SparkRunner", "DataflowRunner"] = (
        "DirectRunner"
    )
    options: dict[str, str | int | float | bool] = {}
    in_memory_max_bytes: int = Field(32 * 2**20, ge=0)


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
    monitoring: MonitoringConfig = MonitoringConfig()
    beam: BeamConfig = BeamConfig()

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
    if config.tuning.parallel_trials and config.tuning.algorithm != "random":
        raise _Inconsistent(
            "tuning.parallel_trials",
            f"parallel trials are planned up front, which only random search allows; algorithm "
            f"'{config.tuning.algorithm}' learns from earlier trials (set parallel_trials: 0)",
        )
    if config.serving.strategy == "blue-green" and config.serving.target != "deployment":
        raise _Inconsistent(
            "serving.strategy", f"blue-green needs serving.target: deployment, not {config.serving.target}"
        )
    if config.serving.strategy == "shadow" and config.serving.target != "kserve":
        raise _Inconsistent(
            "serving.strategy",
            f"shadow needs serving.target: kserve (an Istio mirror between two InferenceServices), "
            f"not {config.serving.target}",
        )
    if config.serving.strategy == "shadow" and config.serving.canary_traffic_percent:
        raise _Inconsistent(
            "serving.canary_traffic_percent",
            "a shadow gets a mirrored copy of the traffic, not a share of it: set it to 0",
        )
    id_column = config.monitoring.id_column
    if id_column and (id_column in features or id_column == config.label_key):
        raise _Inconsistent("monitoring.id_column", f"id column '{id_column}' is a feature or the label")
    for name in config.beam.options:
        if name.startswith("-") or name == "runner":
            raise _Inconsistent(
                f"beam.options.{name}", "name an option without dashes; the runner is beam.runner"
            )
    for name in _REQUIRED_BEAM_OPTIONS.get(config.beam.runner, ()):
        if name not in config.beam.options:
            raise _Inconsistent("beam.options", f"{config.beam.runner} needs option '{name}'")
    if config.schema_path and config.schema_pbtxt:
        raise _Inconsistent("schema_pbtxt", "give schema_path or schema_pbtxt, not both")
