"""Ingest: CSV files (local or s3://) -> GZIP TFRecord tf.Examples, one folder per split.

Runs without TensorFlow: tfx-bsl encodes the Arrow columns as tf.Examples and
`mlpipe.data.tfrecord` writes the framing, which keeps this stage at pandas speed.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from mlpipe.config.dataset import DatasetConfig
from mlpipe.config.io import check_columns
from mlpipe.data.artifacts import BATCH
from mlpipe.data.csv_source import fetch, read_csv, scratch_dir
from mlpipe.data.typed import to_record_batch, typed_frame, write_split
from mlpipe.errors import UserInputError
from mlpipe.runtime.beam import beam_options, is_small
from mlpipe.storage.atomic import atomic_dir, atomic_write_bytes

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


def hash_split(frame: pd.DataFrame, key_columns: list[str], eval_fraction: float) -> np.ndarray:
    """True for eval rows: a stable hash of the key columns (or the whole row)."""
    keys = frame[key_columns] if key_columns else frame
    hashes = pd.util.hash_pandas_object(keys, index=False).to_numpy()
    return (hashes % 10_000) < int(eval_fraction * 10_000)


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


def ingest_batch(
    config: DatasetConfig,
    location: str,
    environ: Mapping[str, str],
    examples_dir: str | Path,
    rows_file: str | Path,
) -> int:
    """A batch of serving data as split `batch` (its label optional, features may be missing:
    validation reports them), and the batch file itself, gzip, for the monitoring history.
    Returns its row count."""
    result = ingest(
        config, examples_dir, environ, {BATCH: location}, require_label=False, allow_missing_features=True
    )
    with scratch_dir() as tmp:
        raw = fetch(location, environ, Path(tmp)).read_bytes()
    atomic_write_bytes(rows_file, raw if raw[:2] == b"\x1f\x8b" else gzip.compress(raw, mtime=0))
    return result.rows[BATCH]


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
            rows[split] = write_split(out, split, to_record_batch(frame))
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
