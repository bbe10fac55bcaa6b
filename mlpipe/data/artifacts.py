"""What stages hand to each other: file names inside artifacts and the readers of artifacts
that more than one stage reads. Stages never import one another; they share this module.
"""

from __future__ import annotations

import json
from pathlib import Path

from mlpipe.config.dataset import DatasetConfig, HyperParameters
from mlpipe.errors import UserInputError

STATS_FILE = "FeatureStats.pb"  # per split: `Split-<name>/FeatureStats.pb`, as TFX lays it out
SCHEMA_FILE = "schema.pbtxt"
# TFDV schema environments: the label is required in TRAINING and absent in SERVING.
# evaluate writes its record beside the blessing; push stores it as the version's attachment
EVALUATION_RECORD_FILE = "evaluation_record.json"
EVALUATION_ATTACHMENT = "evaluation"
TRAINING = "TRAINING"
SERVING = "SERVING"
BATCH = "batch"  # the split a monitored batch of serving data is ingested as
EVAL_SPLIT = "eval"  # the split evaluate (and the monitor's reference scores) read


def load_statistics(stats_dir: str | Path, split: str):
    """One split's `DatasetFeatureStatisticsList` from a statistics artifact."""
    from tensorflow_metadata.proto.v0 import statistics_pb2

    path = Path(stats_dir) / f"Split-{split}" / STATS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no statistics for split {split!r} at {path}")
    return statistics_pb2.DatasetFeatureStatisticsList.FromString(path.read_bytes())


def load_schema(path: str | Path):
    """A text-format schema file, or the schema artifact directory holding one.

    Protobuf alone, so reading a curated schema costs no TFDV import.
    """
    path = Path(path)
    if path.is_dir():
        path = path / SCHEMA_FILE
    if not path.is_file():
        raise UserInputError(f"schema file not found: {path}")
    return parse_schema(path.read_text(encoding="utf-8"), str(path))


def parse_schema(text: str, source: str):
    """A text-format schema; `source` names it in the error (a file, or the config's schema_pbtxt)."""
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    try:
        return text_format.Parse(text, schema_pb2.Schema())
    except text_format.ParseError as exc:  # carries line and column
        raise UserInputError(f"{source}: not a valid schema: {exc}") from None


def read_hyperparameters(path: str | Path, defaults: HyperParameters) -> HyperParameters:
    """The hyperparameters a tune artifact carries (the defaults when tuning was off)."""
    from mlpipe.model.keras_model import hyperparameters_from

    payload = json.loads(Path(path).read_text())
    return hyperparameters_from(payload.get("hyperparameters"), defaults)


def check_schema_matches(config: DatasetConfig, schema, source: str = "schema") -> None:
    """The schema must describe exactly the config's features and label, with matching types:
    the schema stage checks it on import, train again before building the model from the config."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    types = {f.name: f.type for f in schema.feature}
    for name in [*config.feature_keys, config.label_key]:
        if name not in types:
            raise UserInputError(f"{source}: config feature '{name}' is not in the schema")
    for name in types:
        if name not in config.feature_keys and name != config.label_key:
            raise UserInputError(
                f"{source}: schema feature '{name}' is not a feature or the label in the config"
            )
    expected = [(n, (schema_pb2.FLOAT, schema_pb2.INT), "numeric") for n in config.features.numeric]
    expected += [(n, (schema_pb2.BYTES,), "categorical") for n in config.features.categorical]
    for name, allowed, kind in expected:
        if types[name] not in allowed:
            raise UserInputError(
                f"{source}: config lists '{name}' as {kind} but the schema types it as "
                f"{schema_pb2.FeatureType.Name(types[name])}"
            )
