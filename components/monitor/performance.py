"""Performance once labels arrive: labels joined to the batch rows they label, by the id column,
then the evaluate stage's own TFMA run (slices, Fairness Indicators, fairness gaps) on them,
compared with the figures of the served model's card (its overall AUC and fairness gaps).

Labels may come late, for any earlier batch: every batch's rows are kept in the monitoring
history, so a labels file joins whatever batches its ids belong to.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from mlpipe.config.dataset import DatasetConfig
from mlpipe.errors import UserInputError

log = logging.getLogger(__name__)

WATCHED = ("auc", "false_positive_rate@0.5", "example_count")


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
    from mlpipe.components.ingest.core import EVAL, ingest
    from mlpipe.evaluation.gates import fairness_checks
    from mlpipe.evaluation.results import OVERALL, json_safe, slice_keys, sliced_metrics
    from mlpipe.evaluation.tfma_run import run_tfma

    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / "labelled.csv"
    rows.drop(columns=[config.monitoring.id_column]).to_csv(
        data, index=False, na_rep=config.csv.missing_value
    )
    ingest(config, workdir / "labelled", {}, sources={EVAL: str(data)}, allow_missing_features=True)
    result = run_tfma(config, saved_model, workdir / "labelled", workdir / "tfma", None)
    metrics = sliced_metrics(result)
    checks = [c.to_json() for c in fairness_checks(config, metrics, slice_keys(result))]
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
        }
    )
