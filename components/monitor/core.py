"""Monitor: one batch of serving data against the model serving now, appended to its history.

For the version the registry's serving pointer names: schema anomalies, drift (against its eval
statistics) and skew (against its train statistics) with the validate stage's comparators; data
quality; its scores on the batch against its scores on the eval data (prediction drift); when
labels come (for this batch or an earlier one), sliced performance and fairness gaps with the
evaluate stage's TFMA run, against its model card. Then the signals over their bounds and the
retraining decision (`decision.py`); the batch, its labels and its figures are appended to the
version's monitoring history (`history.py`), which the dashboard draws.
"""

from __future__ import annotations

import datetime
import gzip
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from mlpipe.components.monitor.decision import crossed_signals, decide
from mlpipe.components.monitor.signals import data_quality, jensen_shannon, missing_in, score, score_summary
from mlpipe.config.dataset import DatasetConfig
from mlpipe.data.artifacts import SERVING, TRAINING, load_schema, load_statistics, parse_schema
from mlpipe.data.csv_source import fetch, read_csv, scratch_dir
from mlpipe.errors import UserInputError
from mlpipe.monitoring.history import DATA, FEEDBACK, REFERENCE, History, new_key

log = logging.getLogger(__name__)

BATCH = "batch"


def served_version(registry, config: DatasetConfig) -> tuple[int, dict]:
    """The version serving points at and its metadata (the model card's figures)."""
    version = registry.serving_version(config.model_name)
    if version is None:
        raise UserInputError(
            f"nothing serves {config.model_name} in the registry {config.registry.uri}: "
            "monitoring watches the served model; push one first (mlpipe run)"
        )
    return version, registry.metadata(config.model_name, version)


def _schema(config: DatasetConfig, train_stats):
    if config.schema_pbtxt:
        return parse_schema(config.schema_pbtxt, f"{config.name}: schema_pbtxt")
    if config.schema_path:
        return load_schema(config.schema_path)
    from mlpipe.components.schema.core import infer_schema

    return infer_schema(train_stats, config)


def _gzip(path: Path) -> bytes:
    raw = path.read_bytes()
    return raw if raw[:2] == b"\x1f\x8b" else gzip.compress(raw, mtime=0)


def _frame(config: DatasetConfig, data: bytes, source: str, tmp: Path):
    path = tmp / "history.csv.gz"
    path.write_bytes(data)
    return read_csv(path, config.csv, source)[0]


def reference_scores(config, history: History, saved_model: str, environ, tmp: Path) -> dict:
    """The served model's score histogram on the eval data of the config: computed once per
    version and kept in its history (`reference.json`, created once)."""
    stored = history.read(REFERENCE)
    if stored is not None:
        return json.loads(stored)
    from mlpipe.components.ingest.core import EVAL, ingest
    from mlpipe.data.examples import read_split_records

    sources = {EVAL: config.data.eval} if config.data.eval else None
    ingest(config, tmp / "reference", environ, sources=sources)
    summary = {
        **score_summary(score(saved_model, read_split_records(tmp / "reference", EVAL))),
        "source": config.data.eval or config.data.train,
    }
    history.create(REFERENCE, json.dumps(summary).encode())  # a racing monitor's equal figures win
    return summary


def _validation(config, schema, batch_stats, served_stats) -> tuple[dict, dict, list]:
    from mlpipe.components.validate.core import validate_statistics

    has_label = any(f.path.step[0] == config.label_key for f in batch_stats.datasets[0].features)
    result = validate_statistics(
        config,
        schema,
        {BATCH: batch_stats},
        target=BATCH,
        environment=TRAINING if has_label else SERVING,
        drift_baseline=load_statistics(served_stats, "eval"),
        skew_training=load_statistics(served_stats, "train"),
    )
    by = {"drift": {}, "skew": {}}
    for d in result.distances:
        by[d.comparison][d.feature] = {
            "value": round(d.value, 6),
            "threshold": d.threshold,
            "measure": d.measure,
        }
    anomalies = [
        {"feature": a.feature, "kind": a.kind, "description": a.description}
        for a in result.anomalies
        if not a.kind.startswith("COMPARATOR_")
    ]
    return by["drift"], by["skew"], anomalies


def monitor_batch(
    config: DatasetConfig,
    data: str,
    environ: Mapping[str, str] = os.environ,
    labels: str | None = None,
    registry=None,
    step=None,
) -> dict:
    """Monitor one batch (a CSV as ingest reads it, local or s3://); returns the record appended
    to the served version's history, with `decision`. `labels`: a CSV of the id column and the
    label, for rows of this or any earlier batch. `step(name)` wraps each step (a context
    manager yielding a dict whose `figure` it may set), as `mlpipe validate` shows them."""
    import contextlib

    from mlpipe.components.ingest.core import ingest, typed_frame
    from mlpipe.components.monitor.performance import check_feedback, evaluate_labelled, labelled_rows
    from mlpipe.components.statistics.core import compute_statistics
    from mlpipe.data.examples import read_split_records
    from mlpipe.evaluation.results import json_safe
    from mlpipe.registry.access import open_registry

    step = step or (lambda name: contextlib.nullcontext({}))
    registry = registry or open_registry(config.registry.uri, environ)
    version, card = served_version(registry, config)
    served_stats = registry.attachment(config.model_name, version, "statistics")
    if served_stats is None:
        raise UserInputError(f"{config.model_name} version {version} has no statistics in the registry")
    history = History(registry, config.model_name, version)
    earlier = history.records()
    key = new_key()
    record: dict = {"key": key, "index": len(earlier), "data": data, "model_version": version}
    record["at"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    with scratch_dir() as scratch:
        tmp = Path(scratch)
        with step("ingest") as info:
            path = fetch(data, environ, tmp)
            frame, _ = read_csv(path, config.csv, data)
            ingest(
                config,
                tmp / "examples",
                environ,
                {BATCH: str(path)},
                require_label=False,
                allow_missing_features=True,
            )
            record["rows"] = len(frame)
            info["figure"] = f"{len(frame):,} rows"
        with step("validate") as info:
            compute_statistics(tmp / "examples", tmp / "statistics", beam=config.beam)
            batch_stats = load_statistics(tmp / "statistics", BATCH)
            schema = _schema(config, load_statistics(served_stats, "train"))
            record["drift"], record["skew"], record["anomalies"] = _validation(
                config, schema, batch_stats, served_stats
            )
            typed = typed_frame(frame, config, data, with_label=False)
            record["quality"] = data_quality(config, typed, schema)
            train_stats = load_statistics(served_stats, "train")
            record["quality"]["missing_in_training"] = missing_in(train_stats, config.feature_keys)
            info["figure"] = (
                f"{len(record['anomalies'])} anomalies, max drift {max((d['value'] for d in record['drift'].values()), default=0):.3f}"
            )
        with step("predict") as info:
            saved_model = str(registry.local_copy(config.model_name, version))
            predictions = score_summary(score(saved_model, read_split_records(tmp / "examples", BATCH)))
            reference = reference_scores(config, history, saved_model, environ, tmp)
            predictions["reference_mean"] = reference["mean"]
            predictions["reference_histogram"] = reference["histogram"]
            predictions["drift"] = jensen_shannon(predictions["histogram"], reference["histogram"])
            record["predictions"] = predictions
            info["figure"] = (
                f"mean score {predictions['mean'] or 0:.3f}, drift {predictions['drift'] or 0:.3f}"
            )
        record["performance"] = None
        feedback_bytes = None
        if labels:
            with step("performance") as info:
                labels_path = fetch(labels, environ, tmp)
                new_feedback = check_feedback(config, read_csv(labels_path, config.csv, labels)[0], labels)
                feedback_bytes = _gzip(labels_path)
                batches = [_frame(config, b, f"history {k}", tmp) for k, b in history.data(DATA)] + [frame]
                feedback = [
                    check_feedback(config, _frame(config, b, f"history {k}", tmp), k)
                    for k, b in history.data(FEEDBACK)
                ]
                rows = labelled_rows(config, batches, [*feedback, new_feedback])
                record["labelled_rows"] = len(rows)
                if len(rows) >= config.monitoring.min_labelled_rows:
                    record["performance"] = evaluate_labelled(
                        config, rows, saved_model, tmp / "performance", card
                    )
                    info["figure"] = (
                        f"{len(rows):,} labelled rows, AUC {record['performance']['auc'] or 0:.4f}"
                    )
                else:
                    info["figure"] = (
                        f"{len(rows)} labelled rows (< {config.monitoring.min_labelled_rows}): no figures yet"
                    )
        record = json_safe(record)
        record["crossed"] = crossed_signals(config, record)
        record["decision"] = decide(config, earlier, record["crossed"])
        if feedback_bytes is not None:
            history.append_feedback(key, feedback_bytes)
        history.append_batch(key, record, _gzip(path))
    log.debug("batch %s: %s %s", key, record["decision"]["verdict"], record["decision"]["reasons"])
    return record


def history_records(
    config: DatasetConfig, environ: Mapping[str, str] = os.environ, registry=None
) -> list[dict]:
    """Every monitored batch of the served version, oldest first (what the dashboard draws)."""
    from mlpipe.registry.access import open_registry

    registry = registry or open_registry(config.registry.uri, environ)
    version, _ = served_version(registry, config)
    return History(registry, config.model_name, version).records()
