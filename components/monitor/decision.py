"""Signals over their bounds, and the retraining decision with its reasons.

A signal is one kind of figure on one feature (`drift:age`, `missing:race`, `prediction_drift`,
`auc_drop`, `fairness:sex/auc`). One batch over a bound is an alarm; the same signal over its
bound for `monitoring.consecutive_batches` batches in a row (this one included) is a decision to
retrain: one noisy batch must not retrain a model, a trend must.
"""

from __future__ import annotations

from mlpipe.config.dataset import DatasetConfig

OK, ALARM, RETRAIN = "ok", "alarm", "retrain"


def _over(crossed: list, signal: str, value, bound: float, what: str) -> None:
    if value is not None and value > bound:
        crossed.append({"signal": signal, "value": round(float(value), 6), "bound": bound, "what": what})


def crossed_signals(config: DatasetConfig, record: dict) -> list[dict]:
    """Every signal of one batch's record that is over its bound."""
    m = config.monitoring
    crossed: list[dict] = []
    for feature, d in sorted(record["drift"].items()):
        _over(crossed, f"drift:{feature}", d["value"], d["threshold"], f"drift of {feature} ({d['measure']})")
    for anomaly in record["anomalies"]:
        crossed.append(
            {"signal": f"schema:{anomaly['feature']}", "value": 1, "bound": 0, "what": anomaly["kind"]}
        )
    quality = record["quality"]
    baseline = quality.get("missing_in_training", {})
    for feature, value in sorted(quality["missing"].items()):
        increase = value - baseline.get(feature, 0.0)
        _over(
            crossed,
            f"missing:{feature}",
            increase,
            m.max_missing_increase,
            f"missing fraction of {feature} over training's",
        )
    for kind, bound in (("unseen", config.validation.max_unseen_fraction),):
        for feature, value in sorted(quality[kind].items()):
            _over(
                crossed, f"{kind}:{feature}", value, bound, f"{kind.replace('_', ' ')} fraction of {feature}"
            )
    predictions = record["predictions"]
    _over(
        crossed,
        "bad_predictions",
        predictions["bad_fraction"],
        m.max_bad_predictions,
        "empty or non-finite scores",
    )
    _over(
        crossed, "prediction_drift", predictions.get("drift"), m.prediction_drift_threshold,
        "score distribution vs the eval data",
    )  # fmt: skip
    performance = record.get("performance") or {}
    _over(crossed, "auc_drop", performance.get("auc_drop"), m.max_auc_drop, "AUC below the model card's")
    for name, gap in sorted((performance.get("fairness") or {}).items()):
        _over(
            crossed,
            f"fairness:{name}",
            gap["increase"],
            m.max_fairness_gap_increase,
            f"{name} gap over the card's",
        )
    return crossed


def decide(config: DatasetConfig, history: list[dict], crossed: list[dict]) -> dict:
    """`{verdict, retrain, reasons, streaks}` for the newest batch, whose `crossed` signals are
    given; `history` holds the earlier batches' records, oldest first."""
    needed = config.monitoring.consecutive_batches
    streaks, reasons, signals = {}, [], []
    for c in crossed:
        streak = 1
        for earlier in reversed(history):
            if not any(e["signal"] == c["signal"] for e in earlier.get("crossed", [])):
                break
            streak += 1
        streaks[c["signal"]] = streak
        if streak >= needed:
            signals.append(c["signal"])
            reasons.append(
                f"{c['signal']}: {c['what']} {c['value']:.4g} over {c['bound']:.4g} "
                f"for {streak} consecutive batches (rule: {needed})"
            )
    verdict = RETRAIN if reasons else (ALARM if crossed else OK)
    alarms = [f"{c['signal']}: {c['what']} {c['value']:.4g} over {c['bound']:.4g}" for c in crossed]
    return {
        "verdict": verdict,
        "retrain": bool(reasons),
        "reasons": reasons,
        "signals": signals,
        "alarms": alarms,
        "streaks": streaks,
    }


def features_of(decision: dict) -> list[str]:
    """The features the decision's reasons name (`drift:age` -> `age`)."""
    names = {s.split(":", 1)[1] for s in decision["signals"] if ":" in s}
    return sorted(n for n in names if "/" not in n)
