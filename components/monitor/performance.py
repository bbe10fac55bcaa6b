"""Performance once labels arrive: the labelled rows (mlpipe/monitoring/feedback.py joins them)
through the same TFMA run the evaluate stage uses (slices, Fairness Indicators, fairness gaps),
compared with the figures of the served model's card (its overall AUC and fairness gaps).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from mlpipe.config.dataset import DatasetConfig
from mlpipe.config.io import check_columns
from mlpipe.data.artifacts import EVAL_SPLIT
from mlpipe.data.csv_source import read_csv
from mlpipe.data.typed import to_record_batch, typed_frame, write_split
from mlpipe.storage.atomic import atomic_dir

log = logging.getLogger(__name__)

WATCHED = ("auc", "false_positive_rate@0.5", "example_count")


def labelled_examples(config: DatasetConfig, rows: pd.DataFrame, workdir: Path) -> Path:
    """The labelled rows as tf.Examples (split `eval`), typed and checked as ingest does."""
    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / "labelled.csv"
    rows.drop(columns=[config.monitoring.id_column]).to_csv(
        data, index=False, na_rep=config.csv.missing_value
    )
    frame, _ = read_csv(data, config.csv, "the labelled rows")
    check_columns(config, list(frame.columns), "the labelled rows", True, allow_missing_features=True)
    typed = typed_frame(frame, config, "the labelled rows", with_label=True)
    with atomic_dir(workdir / "labelled") as out:
        write_split(out, EVAL_SPLIT, to_record_batch(typed))
    return workdir / "labelled"


def _card_gaps(card: dict) -> dict[str, float]:
    return {
        f"{c['feature']}/{c['metric']}": c["gap"]
        for c in card.get("fairness_checks") or []
        if c.get("gap") is not None
    }


def evaluate_labelled(
    config: DatasetConfig, rows: pd.DataFrame, saved_model: str, workdir: Path, card: dict
) -> dict:
    """TFMA on the labelled rows: watched metrics per slice, fairness gaps, and how far both are
    from the model card (`auc_drop`: card AUC minus this AUC; `gap_increase` per gate)."""
    from mlpipe.evaluation.gates import fairness_checks
    from mlpipe.evaluation.results import (
        OVERALL,
        class_counts,
        json_safe,
        one_class_slices,
        slice_keys,
        sliced_metrics,
        without_undefined,
    )
    from mlpipe.evaluation.tfma_run import run_tfma

    result = run_tfma(config, saved_model, labelled_examples(config, rows, workdir), workdir / "tfma", None)
    one_class = one_class_slices(class_counts(result))
    metrics = without_undefined(sliced_metrics(result), one_class)
    checks = [c.to_json() for c in fairness_checks(config, metrics, slice_keys(result), one_class)]
    card_gaps = _card_gaps(card)
    gaps = {}
    for check in checks:
        name = f"{check['feature']}/{check['metric']}"
        card_gap = card_gaps.get(name)
        gaps[name] = {
            "gap": check["gap"],
            "card_gap": card_gap,
            "increase": None if check["gap"] is None or card_gap is None else check["gap"] - card_gap,
        }
    auc = metrics.get(OVERALL, {}).get("auc")
    card_auc = card.get("overall_auc")
    return json_safe(
        {
            "rows": len(rows),
            "metrics": {name: {k: m.get(k) for k in WATCHED} for name, m in metrics.items()},
            "auc": auc,
            "card_auc": card_auc,
            "auc_drop": None if auc is None or card_auc is None else card_auc - auc,
            "fairness": gaps,
            "one_class_slices": one_class,  # their AUC (and rates over the missing class) are null
        }
    )
