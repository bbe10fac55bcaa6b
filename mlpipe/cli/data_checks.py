"""Data checks outside a pipeline run: a curated schema from the data, and the guard
in front of serving that validates a new batch against the training baseline.

Both reuse the stages' core functions in one process, so the checks are the
very ones the pipeline runs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from mlpipe.components.ingest.core import EVAL, TRAIN, ingest
from mlpipe.components.schema.core import infer_schema, write_schema
from mlpipe.components.statistics.core import compute_statistics
from mlpipe.components.validate.core import ValidationResult, validate_statistics, write_outputs
from mlpipe.config.dataset import DatasetConfig
from mlpipe.config.io import load_config
from mlpipe.data.artifacts import SERVING, TRAINING, load_schema, load_statistics, parse_schema
from mlpipe.errors import UserInputError

log = logging.getLogger(__name__)

BATCH = "batch"

Step = Callable[[str], AbstractContextManager[dict]]


def no_step(name: str) -> AbstractContextManager[dict]:
    """The default `step` of `validate_batch`: nothing shown (a `Steps` of mlpipe/run/terminal.py
    shows each step as a line and sends its output to a log file)."""
    return contextlib.nullcontext({"figure": ""})


def generate_schema(config_path: str, output: str | None = None) -> Path:
    """Infer and curate a schema from the rows the pipeline infers from (the train file, or its
    train split by the same hash when the config names no eval file); writes `schema_path`
    (or `output`)."""
    config = load_config(config_path)
    target = (
        Path(output)
        if output
        else Path(config.schema_path or Path(config_path).resolve().parent / "schema.pbtxt")
    )
    with tempfile.TemporaryDirectory(prefix="mlpipe-schema-") as tmp:
        ingest(config, Path(tmp) / "examples", os.environ)  # the pipeline's splits, hash split included
        compute_statistics(Path(tmp) / "examples", Path(tmp) / "statistics", beam=config.beam)
        schema = infer_schema(load_statistics(Path(tmp) / "statistics", TRAIN), config)
    write_schema(schema, target)
    return target


def baseline_statistics_dir(runs_root: str | Path, run_dir: str | Path | None) -> Path:
    """The statistics of the given run, or of the newest run that passed validation."""
    if run_dir:
        candidates = [Path(run_dir)]
    else:
        candidates = sorted((p for p in Path(runs_root).glob("*/summary.json")), reverse=True)
        candidates = [p.parent for p in candidates if not p.parent.is_symlink()]
    for candidate in candidates:
        summary_path = candidate / "summary.json"
        if not summary_path.is_file():
            raise UserInputError(f"baseline run {candidate} has no summary.json")
        summary = json.loads(summary_path.read_text())
        stats = summary.get("artifacts", {}).get("statistics")
        validated = any(
            s["name"] == "validate" and s["status"] == "succeeded" for s in summary.get("stages", [])
        )
        if stats and validated and Path(stats).is_dir():
            return Path(stats)
        if run_dir:
            raise UserInputError(f"baseline run {candidate} has no validated statistics")
    raise UserInputError(
        f"no baseline: no run under {runs_root} passed validation; run `mlpipe run` first or pass --baseline"
    )


def _schema_for(config: DatasetConfig, baseline_stats: Path):
    if config.schema_pbtxt:
        return parse_schema(config.schema_pbtxt, f"{config.name}: schema_pbtxt")
    if config.schema_path:
        return load_schema(config.schema_path)
    return infer_schema(load_statistics(baseline_stats, TRAIN), config)


def validate_batch(
    config_path: str,
    data: str,
    output_dir: str | Path,
    runs_root: str | Path = "runs",
    baseline: str | None = None,
    step: Step = no_step,
) -> ValidationResult:
    """Validate a new batch: schema (SERVING unless it has labels; a missing feature is an
    anomaly), drift vs the baseline's eval split, skew vs its train split, all in one result.
    Writes the report and anomalies to `output_dir`. `step(name)` wraps each step (ingest,
    statistics, validate); it may set `figure`."""
    config = load_config(config_path)
    baseline_stats = baseline_statistics_dir(runs_root, baseline)
    output_dir = Path(output_dir)
    with tempfile.TemporaryDirectory(prefix="mlpipe-batch-") as tmp:
        examples = Path(tmp) / "examples"
        with step("ingest") as info:
            # A missing feature is an anomaly reported with every other one, not a stop at ingest.
            rows = ingest(
                config,
                examples,
                os.environ,
                sources={BATCH: data},
                require_label=False,
                allow_missing_features=True,
            ).rows
            info["figure"] = f"{rows.get(BATCH, 0):,} rows"
        with step("statistics") as info:
            counts = compute_statistics(examples, Path(tmp) / "statistics", beam=config.beam)
            batch_stats = load_statistics(Path(tmp) / "statistics", BATCH)
            info["figure"] = (
                f"{counts.get(BATCH, 0):,} examples, {len(batch_stats.datasets[0].features)} features"
            )
    with step("validate") as info:
        has_label = any(f.path.step[0] == config.label_key for f in batch_stats.datasets[0].features)
        result = validate_statistics(
            config,
            _schema_for(config, baseline_stats),
            {BATCH: batch_stats},
            target=BATCH,
            environment=TRAINING if has_label else SERVING,
            drift_baseline=load_statistics(baseline_stats, EVAL),
            skew_training=load_statistics(baseline_stats, TRAIN),
        )
        write_outputs(
            result, output_dir / "anomalies", output_dir / "report.md", title=f"Batch validation: {data}"
        )
        counts = result.counts()
        info["figure"] = (
            f"{counts['anomalies']} anomalies ({counts['blocking_anomalies']} blocking), "
            f"max drift {counts['max_drift']:.3f}"
        )
    return result
