"""What stages hand to each other: file names inside artifacts and the readers of artifacts
that more than one stage reads. Stages never import one another; they share this module.
"""

from __future__ import annotations

import json
from pathlib import Path

from components.config import HyperParameters
from components.errors import UserInputError

STATS_FILE = "FeatureStats.pb"  # per split: `Split-<name>/FeatureStats.pb`, as TFX lays it out
SCHEMA_FILE = "schema.pbtxt"
# TFDV schema environments: the label is required in TRAINING and absent in SERVING.
TRAINING = "TRAINING"
SERVING = "SERVING"


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
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    path = Path(path)
    if path.is_dir():
        path = path / SCHEMA_FILE
    if not path.is_file():
        raise UserInputError(f"schema file not found: {path}")
    try:
        return text_format.Parse(path.read_text(encoding="utf-8"), schema_pb2.Schema())
    except text_format.ParseError as exc:  # carries line and column
        raise UserInputError(f"{path}: not a valid schema: {exc}") from None


def read_hyperparameters(path: str | Path, defaults: HyperParameters) -> HyperParameters:
    """The hyperparameters a tune artifact carries (the defaults when tuning was off)."""
    from components.model import hyperparameters_from

    payload = json.loads(Path(path).read_text())
    return hyperparameters_from(payload.get("hyperparameters"), defaults)
