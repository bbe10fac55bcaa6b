"""Labelled feedback: labels files checked, joined to the batch rows they label by the id column
(labels may come late, for any earlier batch: the history keeps every batch's rows), and the
retraining data a retraining run trains on (the training file plus every labelled row).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from mlpipe.config.dataset import DatasetConfig
from mlpipe.data.csv_source import fetch, read_csv, scratch_dir
from mlpipe.errors import UserInputError
from mlpipe.monitoring.history import DATA, FEEDBACK, History

log = logging.getLogger(__name__)


def served_version(registry, config: DatasetConfig) -> tuple[int, dict]:
    """The version serving points at and its metadata (the model card's figures)."""
    version = registry.serving_version(config.model_name)
    if version is None:
        raise UserInputError(
            f"nothing serves {config.model_name} in the registry {config.registry.uri}: "
            "monitoring watches the served model; push one first (mlpipe run)"
        )
    return version, registry.metadata(config.model_name, version)


def history_frame(config: DatasetConfig, data: bytes, source: str, tmp: Path) -> pd.DataFrame:
    """A batch or labels file kept in the history (gzip CSV bytes) as ingest reads a CSV."""
    path = tmp / "history.csv.gz"
    path.write_bytes(data)
    return read_csv(path, config.csv, source)[0]


def check_feedback(config: DatasetConfig, frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """The id and label columns of a labels file, every label one the config knows."""
    id_column = config.monitoring.id_column
    if not id_column:
        raise UserInputError("labels need monitoring.id_column in the config: the column that joins them")
    for column in (id_column, config.label_key):
        if column not in frame.columns:
            raise UserInputError(f"{source}: column '{column}' is not in the labels file")
    known = {*config.label.positive, *config.label.negative}
    bad = frame[~frame[config.label_key].isin(known)]
    if len(bad):
        line, value = bad.index[0], bad[config.label_key].iloc[0]
        raise UserInputError(f"{source}: line {line}: label '{value}' is neither positive nor negative")
    return frame[[id_column, config.label_key]]


def labelled_rows(
    config: DatasetConfig, batches: list[pd.DataFrame], feedback: list[pd.DataFrame]
) -> pd.DataFrame:
    """The batch rows that have a label, with that label (a later label of an id wins)."""
    id_column = config.monitoring.id_column
    if not batches or not feedback or not id_column:
        return pd.DataFrame()
    rows = pd.concat([b for b in batches if id_column in b.columns], ignore_index=True)
    if rows.empty:
        return rows
    rows = rows.drop(columns=[config.label_key], errors="ignore").drop_duplicates(id_column, keep="last")
    labels = pd.concat(feedback, ignore_index=True).drop_duplicates(id_column, keep="last")
    return rows.merge(labels, on=id_column, how="inner")


def retraining_data(config: DatasetConfig, registry, environ: Mapping[str, str], output: Path) -> dict:
    """Write `output` (CSV): the training file's rows, then the labelled feedback rows, in the
    training file's columns (a feature a batch lacked is written missing). Returns row counts."""
    version, _ = served_version(registry, config)
    history = History(registry, config.model_name, version)
    with scratch_dir() as scratch:
        tmp = Path(scratch)
        train, _ = read_csv(fetch(config.data.train, environ, tmp), config.csv, config.data.train)
        batches = [history_frame(config, b, f"history {k}", tmp) for k, b in history.data(DATA)]
        feedback = [
            check_feedback(config, history_frame(config, b, k, tmp), k) for k, b in history.data(FEEDBACK)
        ]
    rows = labelled_rows(config, batches, feedback)
    combined = pd.concat([train, rows.reindex(columns=train.columns)], ignore_index=True)
    output.parent.mkdir(parents=True, exist_ok=True)
    combined.to_csv(output, index=False, na_rep=config.csv.missing_value)
    counts = {"train_rows": len(train), "feedback_rows": len(rows), "rows": len(combined)}
    log.info("retraining data %s: %s", output, counts)
    return counts
