"""Ingest: CSV files (local or s3://) -> GZIP TFRecord tf.Examples, one folder per split.

Runs without TensorFlow: tfx-bsl encodes the Arrow columns as tf.Examples and
`mlpipe.components.tfrecord` writes the framing, which keeps this stage at pandas speed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from mlpipe.components.atomic import atomic_dir
from mlpipe.components.config import DatasetConfig, check_columns
from mlpipe.components.csv_source import fetch, read_csv, scratch_dir
from mlpipe.components.errors import UserInputError
from mlpipe.components.tfrecord import write_records

log = logging.getLogger(__name__)

TRAIN = "train"
EVAL = "eval"


@dataclasses.dataclass(frozen=True)
class IngestResult:
    rows: dict[str, int]
    fingerprint: str
    split_method: str

    @property
    def train_rows(self) -> int:
        return self.rows.get(TRAIN, 0)

    @property
    def eval_rows(self) -> int:
        return self.rows.get(EVAL, 0)

    def summary(self) -> dict:
        return {
            "train_rows": self.train_rows,
            "eval_rows": self.eval_rows,
            "fingerprint": self.fingerprint,
            "split_method": self.split_method,
        }


def _label_to_int(frame: pd.DataFrame, config: DatasetConfig, source: str) -> pd.Series:
    column = frame[config.label_key]
    mapping = {v: 1 for v in config.label.positive} | {v: 0 for v in config.label.negative}
    labels = column.map(mapping)
    unknown = labels.isna()
    if unknown.any():
        row = int(unknown.idxmax())
        value = column.iloc[row]
        shown = "a missing value" if value is None else f"value '{value}'"
        raise UserInputError(
            f"{source}: line {row + 2}: label column '{config.label_key}' has {shown}, which is neither "
            f"positive {config.label.positive} nor negative {config.label.negative}"
        )
    return labels.astype(np.int64)


def _numeric(frame: pd.DataFrame, column: str, source: str) -> pd.Series:
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna() & frame[column].notna()
    if bad.any():
        row = int(bad.idxmax())
        raise UserInputError(
            f"{source}: line {row + 2}: column '{column}' is numeric but has value '{frame[column].iloc[row]}'"
        )
    return values.astype(np.float32)


def _list_array(values: pd.Series, value_type: pa.DataType) -> pa.Array:
    """One-value lists per row, with null where the value is missing."""
    mask = values.isna().to_numpy()
    flat = pa.array(values.where(~values.isna(), None).tolist(), type=value_type)
    offsets = np.arange(len(values) + 1, dtype=np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), flat, mask=pa.array(mask))


def to_record_batch(
    frame: pd.DataFrame, config: DatasetConfig, source: str, with_label: bool
) -> pa.RecordBatch:
    """Typed Arrow columns: numeric as float32, categorical as bytes, label as int64 0/1."""
    arrays, names = [], []
    for column in config.features.numeric:
        arrays.append(_list_array(_numeric(frame, column, source), pa.float32()))
        names.append(column)
    for column in config.features.categorical:
        encoded = frame[column].map(lambda v: None if v is None else v.encode("utf-8"))
        arrays.append(_list_array(encoded, pa.binary()))
        names.append(column)
    if with_label:
        arrays.append(_list_array(_label_to_int(frame, config, source), pa.int64()))
        names.append(config.label_key)
    return pa.RecordBatch.from_arrays(arrays, names)


def hash_split(frame: pd.DataFrame, key_columns: list[str], eval_fraction: float) -> np.ndarray:
    """True for eval rows: a stable hash of the key columns (or the whole row)."""
    keys = frame[key_columns] if key_columns else frame
    hashes = pd.util.hash_pandas_object(keys, index=False).to_numpy()
    return (hashes % 10_000) < int(eval_fraction * 10_000)


def _write_split(out_dir: Path, split: str, batch: pa.RecordBatch) -> int:
    from tfx_bsl.coders.example_coder import RecordBatchToExamplesEncoder

    split_dir = out_dir / f"Split-{split}"
    split_dir.mkdir(parents=True)
    records = RecordBatchToExamplesEncoder().encode(batch)
    return write_records(split_dir / "data.tfrecord.gz", records)


def ingest(
    config: DatasetConfig,
    output_dir: str | Path,
    environ: Mapping[str, str],
    sources: Mapping[str, str] | None = None,
    require_label: bool = True,
) -> IngestResult:
    """Read, check and convert the data; `output_dir` appears only when every split is written.

    `sources` maps split names to locations; by default the config's train and
    eval files, or the train file split by hash when no eval file is given.
    """
    split_by_hash = sources is None and not config.data.eval
    if sources is None:
        sources = {TRAIN: config.data.train}
        if config.data.eval:
            sources[EVAL] = config.data.eval
    frames: dict[str, pd.DataFrame] = {}
    digest = hashlib.sha256()
    with scratch_dir() as tmp:
        for split, location in sources.items():
            path = fetch(location, environ, Path(tmp))
            frame, sha = read_csv(path, config.csv, location)
            has_label = config.label_key in frame.columns
            check_columns(config, list(frame.columns), location, require_label=require_label)
            log.info("read %s: %d rows, %d columns", location, len(frame), len(frame.columns))
            frames[split] = frame.assign(_has_label=has_label)
            digest.update(f"{split}:{sha}\n".encode())
    split_method = "files"
    if split_by_hash:
        is_eval = hash_split(
            frames[TRAIN].drop(columns="_has_label"), config.split.hash_key, config.split.eval_fraction
        )
        whole = frames.pop(TRAIN)
        frames[TRAIN] = whole[~is_eval].reset_index(drop=True)
        frames[EVAL] = whole[is_eval].reset_index(drop=True)
        split_method = (
            f"hash({', '.join(config.split.hash_key) or 'row'}) eval_fraction={config.split.eval_fraction}"
        )
        for split in (TRAIN, EVAL):
            if frames[split].empty:
                raise UserInputError(f"{sources[TRAIN]}: the hash split left the {split} split empty")
    rows: dict[str, int] = {}
    with atomic_dir(output_dir) as out:
        for split, frame in frames.items():
            with_label = bool(frame["_has_label"].iloc[0])
            source = sources[split] if split in sources else sources[TRAIN]  # hash split: both from train
            batch = to_record_batch(frame, config, source, with_label)
            rows[split] = _write_split(out, split, batch)
            log.info("wrote split %s: %d examples", split, rows[split])
    return IngestResult(rows=rows, fingerprint=digest.hexdigest(), split_method=split_method)
