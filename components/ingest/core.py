"""Ingest: CSV files (local or s3://) -> GZIP TFRecord tf.Examples, one folder per split.

Runs without TensorFlow: tfx-bsl encodes the Arrow columns as tf.Examples and
`mlpipe.data.tfrecord` writes the framing, which keeps this stage at pandas speed.
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

from mlpipe.config.dataset import DatasetConfig
from mlpipe.config.io import check_columns
from mlpipe.data.csv_source import fetch, read_csv, scratch_dir
from mlpipe.data.tfrecord import write_records
from mlpipe.errors import RowError, UserInputError
from mlpipe.runtime.beam import beam_options, is_small
from mlpipe.storage.atomic import atomic_dir

log = logging.getLogger(__name__)

TRAIN = "train"
EVAL = "eval"
SERVING = "serving"  # serving data (no label), validated for training/serving skew


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
        serving = {"serving_rows": self.rows[SERVING]} if SERVING in self.rows else {}
        return {
            "train_rows": self.train_rows,
            "eval_rows": self.eval_rows,
            **serving,
            "fingerprint": self.fingerprint,
            "split_method": self.split_method,
        }


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


def _check_header(
    config: DatasetConfig, header: list[str], location: str, require_label: bool, lenient: bool
):
    check_columns(config, header, location, require_label, allow_missing_features=lenient)
    missing = [c for c in config.feature_keys if c not in header]
    if missing:
        log.warning("%s lacks features %s: validation reports them", location, ", ".join(missing))


def _read_split(
    config: DatasetConfig, split: str, location: str, path: Path, require_label: bool, lenient: bool
) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(raw string frame, typed frame, sha256) of one file, every value checked."""
    frame, sha = read_csv(path, config.csv, location)
    _check_header(config, list(frame.columns), location, require_label, lenient)
    with_label = config.label_key in frame.columns and split != SERVING
    log.info("read %s: %d rows, %d columns", location, len(frame), len(frame.columns))
    return frame, typed_frame(frame, config, location, with_label), sha


def ingest(
    config: DatasetConfig,
    output_dir: str | Path,
    environ: Mapping[str, str],
    sources: Mapping[str, str] | None = None,
    require_label: bool = True,
    allow_missing_features: bool = False,
) -> IngestResult:
    """Read, check and convert the data; `output_dir` appears only when every split is written.

    `sources` maps split names to locations; by default the config's train and
    eval files (or the train file split by hash when no eval file is given) and
    its serving file. A `serving` split needs no label and may lack features, as
    may every split with `allow_missing_features` (a batch to validate): validation
    reports a missing feature among the other anomalies.
    """
    split_by_hash = sources is None and not config.data.eval
    if sources is None:
        sources = {TRAIN: config.data.train}
        if config.data.eval:
            sources[EVAL] = config.data.eval
        if config.data.serving:
            sources[SERVING] = config.data.serving
    split_method = (
        f"hash({', '.join(config.split.hash_key) or 'row'}) eval_fraction={config.split.eval_fraction}"
        if split_by_hash
        else "files"
    )
    with scratch_dir() as tmp:
        paths = {split: fetch(location, environ, Path(tmp)) for split, location in sources.items()}
        lenient = {split: allow_missing_features or split == SERVING for split in sources}
        required = {split: require_label and split != SERVING for split in sources}
        if is_small(paths.values(), config.beam):
            rows, fingerprint = _in_memory(
                config, output_dir, sources, paths, required, lenient, split_by_hash
            )
        else:
            rows, fingerprint = _through_beam(
                config, output_dir, sources, paths, required, lenient, split_by_hash, Path(tmp)
            )
    return IngestResult(rows=rows, fingerprint=fingerprint, split_method=split_method)


def _check_hash_split(sizes: Mapping[str, int], location: str) -> None:
    for split in (TRAIN, EVAL):
        if not sizes.get(split):
            raise UserInputError(f"{location}: the hash split left the {split} split empty")


def _in_memory(config, output_dir, sources, paths, required, lenient, split_by_hash):
    """Small inputs: every split read into memory at once (faster than starting Beam)."""
    raw: dict[str, pd.DataFrame] = {}
    typed: dict[str, pd.DataFrame] = {}
    digest = hashlib.sha256()
    for split, location in sources.items():
        raw[split], typed[split], sha = _read_split(
            config, split, location, paths[split], require_label=required[split], lenient=lenient[split]
        )
        digest.update(f"{split}:{sha}\n".encode())
    if split_by_hash:
        is_eval = hash_split(raw[TRAIN], config.split.hash_key, config.split.eval_fraction)
        whole = typed.pop(TRAIN)
        typed = {TRAIN: whole[~is_eval], EVAL: whole[is_eval], **typed}
        _check_hash_split({k: len(v) for k, v in typed.items()}, sources[TRAIN])
    rows: dict[str, int] = {}
    with atomic_dir(output_dir) as out:
        for split, frame in typed.items():
            rows[split] = _write_split(out, split, to_record_batch(frame))
            log.info("wrote split %s: %d examples", split, rows[split])
    return rows, digest.hexdigest()


def _through_beam(config, output_dir, sources, paths, required, lenient, split_by_hash, scratch):
    """Large inputs: a Beam pipeline on the configured runner, memory bounded by chunks."""
    from mlpipe.components.ingest import beam_path

    digest = hashlib.sha256()
    prepared: list[beam_path.Source] = []
    work: list[tuple[int, int, int, int]] = []
    for index, (split, location) in enumerate(sources.items()):
        plain, sha = beam_path.prepare(location, paths[split], scratch)
        header = beam_path.header_of(plain, config, location)
        _check_header(config, header, location, required[split], lenient[split])
        with_label = config.label_key in header and split != SERVING
        prepared.append(beam_path.Source(split, location, str(plain), header, with_label))
        work += [(index, *chunk) for chunk in beam_path.chunks(plain, config)]
        digest.update(f"{split}:{sha}\n".encode())
    splits = [TRAIN, EVAL, *(s for s in sources if s != TRAIN)] if split_by_hash else list(sources)
    with atomic_dir(output_dir) as out:
        rows, per_file, errors = beam_path.run(
            config, prepared, work, splits, split_by_hash, out, scratch, beam_options(config)
        )
        for index, source in enumerate(prepared):  # as the in-memory path meets them: file by file
            if not per_file.get(index):
                errors.append([index, 99, 0, f"{source.location}: has a header but no data rows"])
        if errors:
            raise UserInputError(min(errors)[3])
        if split_by_hash:
            _check_hash_split(rows, sources[TRAIN])
        for split in splits:
            log.info("wrote split %s: %d examples", split, rows[split])
    return {split: rows[split] for split in splits}, digest.hexdigest()
