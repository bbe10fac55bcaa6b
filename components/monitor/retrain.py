"""What a retraining trains on: the config's training data plus every labelled row the monitoring
history holds (batch rows joined with their labels), as one CSV that ingest reads like any other.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from mlpipe.components.config import DatasetConfig
from mlpipe.components.csv_source import fetch, read_csv, scratch_dir

log = logging.getLogger(__name__)


def retraining_data(config: DatasetConfig, registry, environ: Mapping[str, str], output: Path) -> dict:
    """Write `output` (CSV): the training file's rows, then the labelled feedback rows, in the
    training file's columns (a feature a batch lacked is written missing). Returns row counts."""
    from mlpipe.components.monitor.core import _frame, served_version
    from mlpipe.components.monitor.history import DATA, FEEDBACK, History
    from mlpipe.components.monitor.performance import check_feedback, labelled_rows

    version, _ = served_version(registry, config)
    history = History(registry, config.model_name, version)
    with scratch_dir() as scratch:
        tmp = Path(scratch)
        train, _ = read_csv(fetch(config.data.train, environ, tmp), config.csv, config.data.train)
        batches = [_frame(config, b, f"history {k}", tmp) for k, b in history.data(DATA)]
        feedback = [check_feedback(config, _frame(config, b, k, tmp), k) for k, b in history.data(FEEDBACK)]
    rows = labelled_rows(config, batches, feedback)
    combined = pd.concat([train, rows.reindex(columns=train.columns)], ignore_index=True)
    output.parent.mkdir(parents=True, exist_ok=True)
    combined.to_csv(output, index=False, na_rep=config.csv.missing_value)
    counts = {"train_rows": len(train), "feedback_rows": len(rows), "rows": len(combined)}
    log.info("retraining data %s: %s", output, counts)
    return counts
