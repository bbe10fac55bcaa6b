"""Validate a monitored batch: schema anomalies, drift against the served model's eval statistics
and skew against its training statistics (the comparators of `core.py`), and data quality
against the schema. The monitoring pipeline's record takes these figures as they are.
"""

from __future__ import annotations

from pathlib import Path

from mlpipe.components.validate.core import validate_statistics
from mlpipe.components.validate.domains import UNSEEN_TOLERATED
from mlpipe.config.dataset import DatasetConfig
from mlpipe.data.artifacts import BATCH, SERVING, TRAINING, load_schema, load_statistics
from mlpipe.data.csv_source import read_csv
from mlpipe.data.typed import typed_frame
from mlpipe.monitoring.quality import data_quality, missing_in


def _figures(config: DatasetConfig, schema, batch_stats, served_stats: Path) -> tuple[dict, dict, list]:
    """(drift, skew, anomalies): drift and skew per feature with threshold and measure."""
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
        if not a.kind.startswith("COMPARATOR_") and a.kind != UNSEEN_TOLERATED
    ]
    return by["drift"], by["skew"], anomalies


def validate_batch(
    config: DatasetConfig,
    stats_dir: str | Path,
    schema_dir: str | Path,
    served_stats: str | Path,
    rows_file: str | Path,
    source: str,
) -> dict:
    """`{drift, skew, anomalies, quality}` of the batch (`rows_file`, the batch CSV as ingested;
    `source` names it in errors)."""
    schema = load_schema(schema_dir)
    served_stats = Path(served_stats)
    drift, skew, anomalies = _figures(config, schema, load_statistics(stats_dir, BATCH), served_stats)
    frame, _ = read_csv(Path(rows_file), config.csv, source)
    quality = data_quality(config, typed_frame(frame, config, source, with_label=False), schema)
    quality["missing_in_training"] = missing_in(load_statistics(served_stats, "train"), config.feature_keys)
    return {"drift": drift, "skew": skew, "anomalies": anomalies, "quality": quality}
