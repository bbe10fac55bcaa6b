"""CSV strings to typed columns and tf.Examples, as the ingest stage writes them: every value
checked (a bad one names file, line, column and value), numeric as float32, categorical as UTF-8
bytes, the label as 0/1. Shared by ingest and by the monitor's labelled rows and data quality.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from mlpipe.config.dataset import DatasetConfig
from mlpipe.data.tfrecord import write_records
from mlpipe.errors import RowError

_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _label_to_int(frame: pd.DataFrame, config: DatasetConfig, source: str) -> pd.Series:
    column = frame[config.label_key]
    mapping = {v: 1 for v in config.label.positive} | {v: 0 for v in config.label.negative}
    labels = column.map(mapping)
    unknown = labels.isna()
    if unknown.any():
        line = unknown.idxmax()  # the index is the physical line number
        value = column.loc[line]
        shown = "a missing value" if value is None else f"value '{value}'"
        raise RowError(
            f"{source}: line {line}: label column '{config.label_key}' has {shown}, which is neither "
            f"positive {config.label.positive} nor negative {config.label.negative}",
            int(line),
            config.label_key,
        )
    return labels.astype(np.int64)


def _as_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _numeric(frame: pd.DataFrame, column: str, source: str) -> pd.Series:
    """A numeric column as float32; a value that is no number, not finite (`inf`, `nan`, `1e999`)
    or beyond float32's range fails naming line, column and value (normalization would turn it
    into a mean of inf and every prediction into NaN)."""
    text = frame[column]
    values = pd.to_numeric(text, errors="coerce")
    present = text.notna()
    bad = present & ~(np.isfinite(values) & (values.abs() <= _FLOAT32_MAX))
    if bad.any():
        line = bad.idxmax()  # the index is the physical line number
        raw = text.loc[line]
        parsed = _as_float(raw)
        if parsed is None:
            why = ""
        elif not np.isfinite(parsed):
            why = ", which is not a finite number"
        else:
            why = f", which overflows float32 (largest magnitude {_FLOAT32_MAX:.4g})"
        raise RowError(
            f"{source}: line {line}: column '{column}' is numeric but has value '{raw}'{why}",
            int(line),
            column,
        )
    return values.astype(np.float32)


def typed_frame(frame: pd.DataFrame, config: DatasetConfig, source: str, with_label: bool) -> pd.DataFrame:
    """Every value checked and typed: numeric as float32, categorical as UTF-8 bytes, the label
    as 0/1; features the data lacks are left out (a validated batch may lack some)."""
    typed = {}
    for column in config.features.numeric:
        if column in frame.columns:
            typed[column] = _numeric(frame, column, source)
    for column in config.features.categorical:
        if column in frame.columns:
            typed[column] = frame[column].map(lambda v: None if v is None else v.encode("utf-8"))
    if with_label:
        typed[config.label_key] = _label_to_int(frame, config, source)
    return pd.DataFrame(typed, index=frame.index)


def _list_array(values: pd.Series, value_type: pa.DataType) -> pa.Array:
    """One-value lists per row, with null where the value is missing."""
    mask = values.isna().to_numpy()
    flat = pa.array(values.where(~values.isna(), None).tolist(), type=value_type)
    offsets = np.arange(len(values) + 1, dtype=np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), flat, mask=pa.array(mask))


_ARROW_TYPES = {np.dtype(np.float32): pa.float32(), np.dtype(np.int64): pa.int64()}


def to_record_batch(typed: pd.DataFrame) -> pa.RecordBatch:
    """One-value list columns of a `typed_frame`: float32, int64 or bytes."""
    arrays = [_list_array(typed[c], _ARROW_TYPES.get(typed[c].dtype, pa.binary())) for c in typed.columns]
    return pa.RecordBatch.from_arrays(arrays, list(typed.columns))


def write_split(out_dir: Path, split: str, batch: pa.RecordBatch) -> int:
    from tfx_bsl.coders.example_coder import RecordBatchToExamplesEncoder

    split_dir = out_dir / f"Split-{split}"
    split_dir.mkdir(parents=True)
    records = RecordBatchToExamplesEncoder().encode(batch)
    return write_records(split_dir / "data.tfrecord.gz", records)
