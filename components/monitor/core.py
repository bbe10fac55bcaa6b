"""Monitor: the monitoring pipeline's own steps around the shared stages (ingest, statistics,
schema, validate), for one batch of serving data against the model serving now.

`fetch_served` hands the served version (its SavedModel, statistics and model card) to the DAG;
`predict_batch` scores the batch and compares the scores with the served model's on the eval
data (prediction drift); `batch_performance`, when labels come (for this batch or an earlier one),
runs TFMA on the labelled rows against the model card (`performance.py`); `decide_and_record`
only decides (`decision.py`) and appends the batch, its labels and its figures to the version's
monitoring history, which the dashboard draws.
"""

from __future__ import annotations

import datetime
import gzip
import json
import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from mlpipe.components.monitor.decision import crossed_signals, decide
from mlpipe.components.monitor.signals import jensen_shannon, score, score_summary
from mlpipe.config.dataset import DatasetConfig
from mlpipe.data.artifacts import BATCH, EVAL_SPLIT
from mlpipe.data.csv_source import fetch, read_csv, scratch_dir
from mlpipe.data.examples import read_split_records
from mlpipe.errors import UserInputError
from mlpipe.evaluation.results import json_safe
from mlpipe.monitoring.feedback import check_feedback, history_frame, labelled_rows, served_version
from mlpipe.monitoring.history import DATA, FEEDBACK, REFERENCE, History, new_key
from mlpipe.registry.access import open_registry
from mlpipe.storage.atomic import atomic_write_bytes, atomic_write_text

log = logging.getLogger(__name__)

SERVED_FILE = "served.json"  # {version, card}: the served version and its model card's figures
PERFORMANCE_FILE = "performance.json"
FEEDBACK_FILE = "feedback.csv.gz"  # the labels file of this batch, as the history keeps it


def _served(served_file: str | Path) -> tuple[int, dict]:
    served = json.loads(Path(served_file).read_text())
    return served["version"], served["card"]


def _history(config: DatasetConfig, environ: Mapping[str, str], version: int) -> History:
    return History(open_registry(config.registry.uri, environ), config.model_name, version)


def fetch_served(
    config: DatasetConfig,
    environ: Mapping[str, str],
    model_dir: str | Path,
    stats_dir: str | Path,
    served_file: str | Path,
) -> int:
    """Copy what the registry's serving pointer names (SavedModel, statistics, card); its version."""
    registry = open_registry(config.registry.uri, environ)
    version, card = served_version(registry, config)
    served_stats = registry.attachment(config.model_name, version, "statistics")
    if served_stats is None:
        raise UserInputError(f"{config.model_name} version {version} has no statistics in the registry")
    shutil.copytree(served_stats, stats_dir, dirs_exist_ok=True)
    shutil.copytree(registry.local_copy(config.model_name, version), model_dir, dirs_exist_ok=True)
    atomic_write_text(served_file, json.dumps({"version": version, "card": card}, indent=2))
    return version


def reference_scores(config: DatasetConfig, history: History, saved_model: str, reference: Path) -> dict:
    """The served model's score histogram on the eval data of the config (`reference`, as ingest
    wrote it): computed once per version and kept in its history (`reference.json`, created once)."""
    stored = history.read(REFERENCE)
    if stored is not None:
        return json.loads(stored)
    summary = {
        **score_summary(score(saved_model, read_split_records(reference, EVAL_SPLIT))),
        "source": config.data.eval or config.data.train,
    }
    history.create(REFERENCE, json.dumps(summary).encode())  # a racing monitor's equal figures win
    return summary


def predict_batch(
    config: DatasetConfig,
    environ: Mapping[str, str],
    served_file: str | Path,
    model_dir: str | Path,
    examples: str | Path,
    reference: str | Path,
) -> dict:
    """The served model's scores on the batch: mean, histogram, and drift from the reference."""
    version, _ = _served(served_file)
    predictions = score_summary(score(str(model_dir), read_split_records(examples, BATCH)))
    summary = reference_scores(config, _history(config, environ, version), str(model_dir), Path(reference))
    predictions["reference_mean"] = summary["mean"]
    predictions["reference_histogram"] = summary["histogram"]
    predictions["drift"] = jensen_shannon(predictions["histogram"], summary["histogram"])
    return predictions


def _gzip(raw: bytes) -> bytes:
    return raw if raw[:2] == b"\x1f\x8b" else gzip.compress(raw, mtime=0)


def batch_performance(
    config: DatasetConfig,
    environ: Mapping[str, str],
    served_file: str | Path,
    model_dir: str | Path,
    rows_file: str | Path,
    labels: str | None,
    output_dir: str | Path,
) -> dict:
    """`{performance, labelled_rows}` once labels come (TFMA on every labelled row of this and
    earlier batches, with `feedback.csv.gz` kept for the history); `{performance: None}` without."""
    from mlpipe.components.monitor.performance import evaluate_labelled

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    if not labels:
        return {"performance": None}
    version, card = _served(served_file)
    history = _history(config, environ, version)
    with scratch_dir() as scratch:
        tmp = Path(scratch)
        labels_path = fetch(labels, environ, tmp)
        new_feedback = check_feedback(config, read_csv(labels_path, config.csv, labels)[0], labels)
        frame = read_csv(Path(rows_file), config.csv, "the batch")[0]
        batches = [history_frame(config, b, f"history {k}", tmp) for k, b in history.data(DATA)] + [frame]
        feedback = [
            check_feedback(config, history_frame(config, b, f"history {k}", tmp), k)
            for k, b in history.data(FEEDBACK)
        ]
        rows = labelled_rows(config, batches, [*feedback, new_feedback])
        result: dict = {"labelled_rows": len(rows), "performance": None}
        if len(rows) >= config.monitoring.min_labelled_rows:
            result["performance"] = evaluate_labelled(config, rows, str(model_dir), tmp / "performance", card)
        atomic_write_bytes(output_dir / FEEDBACK_FILE, _gzip(labels_path.read_bytes()))
    return result


def decide_and_record(
    config: DatasetConfig,
    environ: Mapping[str, str],
    served_file: str | Path,
    batch: str,
    rows_file: str | Path,
    validation: dict,
    predictions: dict,
    performance: dict,
    feedback_file: str | Path | None,
) -> dict:
    """The batch's record (its figures, the bounds it crossed, the `decision`), appended with the
    batch and its labels to the served version's history."""
    version, _ = _served(served_file)
    history = _history(config, environ, version)
    earlier = history.records()
    key = new_key()
    raw = Path(rows_file).read_bytes()
    with scratch_dir() as scratch:
        rows = len(history_frame(config, raw, batch, Path(scratch)))
    record: dict = {"key": key, "index": len(earlier), "data": batch, "model_version": version}
    record["at"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    record["rows"] = rows
    record.update({k: validation[k] for k in ("drift", "skew", "anomalies", "quality")})
    record["predictions"] = predictions
    record.update(performance)
    record = json_safe(record)
    record["crossed"] = crossed_signals(config, record)
    record["decision"] = decide(config, earlier, record["crossed"])
    if feedback_file is not None and Path(feedback_file).is_file():
        history.append_feedback(key, Path(feedback_file).read_bytes())
    history.append_batch(key, record, _gzip(raw))
    log.info("batch %s: %s %s", key, record["decision"]["verdict"], record["decision"]["reasons"])
    return record


def history_records(
    config: DatasetConfig, environ: Mapping[str, str] = os.environ, registry=None
) -> list[dict]:
    """Every monitored batch of the served version, oldest first (what the dashboard draws)."""
    registry = registry or open_registry(config.registry.uri, environ)
    version, _ = served_version(registry, config)
    return History(registry, config.model_name, version).records()
