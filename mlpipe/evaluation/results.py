"""Reading TFMA's results into plain values: per-slice metrics, confusion points, verdicts.

Kept apart from running TFMA so the gates, the report and the KFP artifacts share one
reading of TFMA's nested result structures.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

OVERALL = "overall"
CANDIDATE = "candidate"

# A slice as (column, value) pairs: () is overall. Gates and the report select slices by these
# pairs, never by taking a slice's name apart, so any value (`Married, spouse`) stays in its slice.
SliceKey = tuple[tuple[str, str], ...]


def slice_key(tfma_key) -> SliceKey:
    """TFMA's slice key (values may be bytes, ints or floats) as (column, text) pairs."""
    return tuple(
        (str(column), value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value))
        for column, value in tfma_key or ()
    )


def _shown(value: str) -> str:
    """A value as written in a slice name: JSON-quoted when plain text would be ambiguous."""
    plain = value and value == value.strip() and not any(c in value for c in ',"\\')
    return value if plain else json.dumps(value, ensure_ascii=False)


def slice_name(tfma_key) -> str:
    """TFMA slice key -> `overall`, `sex:Female` or `race:Black,sex:Female`; a value with a
    comma or a quote is quoted (`marital_status:"Married, spouse"`), so names are unique."""
    key = slice_key(tfma_key)
    return ",".join(f"{column}:{_shown(value)}" for column, value in key) if key else OVERALL


def parse_slice_name(name: str, columns: set[str]) -> SliceKey | None:
    """The key of a slice name (the inverse of `slice_name`, for metrics that arrive by name
    only). A plain value runs to the next `,<column>:` of a sliced column, so an unquoted value
    with a comma still parses; None when `name` is not a slice of `columns`."""
    if name == OVERALL:
        return ()
    key, rest = [], name
    while rest:
        column, sep, rest = rest.partition(":")
        if not sep or column not in columns:
            return None
        if rest.startswith('"'):
            try:
                value, end = json.JSONDecoder().raw_decode(rest)
            except ValueError:
                return None
            rest = rest[end:]
        else:
            cuts = [rest.find(f",{c}:") for c in columns]
            end = min((c for c in cuts if c >= 0), default=len(rest))
            value, rest = rest[:end], rest[end:]
        key.append((column, str(value)))
        if rest and not rest.startswith(","):
            return None
        rest = rest[1:]
    return tuple(key)


def _value(entry):
    if isinstance(entry, dict):
        if "doubleValue" in entry:
            return float(entry["doubleValue"])
        if "boundedValue" in entry:
            return float(entry["boundedValue"]["value"])
    return None


def slice_keys(eval_result) -> dict[str, SliceKey]:
    """Each slice name of `sliced_metrics` with its (column, value) pairs."""
    return {slice_name(key): slice_key(key) for key, _ in eval_result.slicing_metrics}


def sliced_metrics(eval_result, model_name: str = CANDIDATE) -> dict[str, dict[str, float]]:
    """Scalar metrics per slice: {'overall': {'auc': ..}, 'sex:Female': {...}}."""
    out = {}
    for slice_key, by_output in eval_result.slicing_metrics:
        flat = {}
        for by_model_or_subkey in by_output.values():
            for sub in by_model_or_subkey.values():
                for metric, entry in sub.items():
                    value = _value(entry)
                    if value is not None:
                        flat[metric.removeprefix("fairness_indicators_metrics/")] = value
        out[slice_name(slice_key)] = flat
    return out


def confusion_points(eval_result) -> list[dict[str, float]]:
    """The overall ConfusionMatrixPlot: one dict per threshold with tp, fp, tn, fn."""
    for slice_key, plots in eval_result.plots:
        if slice_key:
            continue
        for by_subkey in plots.values():
            for sub in by_subkey.values():
                matrices = sub.get("confusionMatrixAtThresholds", {}).get("matrices")
                if matrices:
                    return [
                        {
                            "threshold": float(m.get("threshold", 0.0)),
                            "tp": float(m.get("truePositives", 0.0)),
                            "fp": float(m.get("falsePositives", 0.0)),
                            "tn": float(m.get("trueNegatives", 0.0)),
                            "fn": float(m.get("falseNegatives", 0.0)),
                        }
                        for m in matrices
                    ]
    return []


def class_counts(eval_result) -> dict[str, tuple[float, float]]:
    """(positives, negatives) of each slice, from its ConfusionMatrixPlot (tp + fn, fp + tn)."""
    counts = {}
    for key, plots in eval_result.plots:
        for by_subkey in plots.values():
            for sub in by_subkey.values():
                matrices = sub.get("confusionMatrixAtThresholds", {}).get("matrices")
                if matrices:
                    m = matrices[0]
                    positives = float(m.get("truePositives", 0.0)) + float(m.get("falseNegatives", 0.0))
                    negatives = float(m.get("falsePositives", 0.0)) + float(m.get("trueNegatives", 0.0))
                    counts[slice_name(key)] = (positives, negatives)
    return counts


# Metrics a slice of one class cannot have: AUC needs both classes, a rate over the positives
# needs positives, a rate over the negatives needs negatives. TFMA reports them as numbers
# (AUC 0.0), which would block a model on a slice where nothing can be judged.
_NEED_BOTH = ("auc", "auc_pr")
_NEED_POSITIVES = ("recall", "true_positive_rate", "false_negative_rate")
_NEED_NEGATIVES = ("false_positive_rate", "true_negative_rate")
ONLY_NEGATIVES, ONLY_POSITIVES = "only negatives", "only positives"


def one_class_slices(counts: dict[str, tuple[float, float]]) -> dict[str, str]:
    """Slices whose labels are all one class: name -> `only negatives` or `only positives`."""
    return {
        name: ONLY_NEGATIVES if positives == 0 else ONLY_POSITIVES
        for name, (positives, negatives) in counts.items()
        if (positives == 0) != (negatives == 0)
    }


def undefined_on(metric: str, only: str) -> bool:
    """Whether `metric` (`auc`, `auc_diff`, `false_positive_rate@0.5`) is undefined on a slice of one class."""
    base = metric.removesuffix("_diff").split("@")[0]
    return base in _NEED_BOTH or base in (_NEED_POSITIVES if only == ONLY_NEGATIVES else _NEED_NEGATIVES)


def without_undefined(metrics: dict[str, dict], one_class: dict[str, str]) -> dict[str, dict]:
    """The metrics with those a one-class slice cannot have set to None (null in JSON)."""
    return {
        name: {k: None if name in one_class and undefined_on(k, one_class[name]) else v for k, v in m.items()}
        for name, m in metrics.items()
    }


def roc_curve(points: list[dict[str, float]]) -> tuple[list[float], list[float], list[float]]:
    """(fpr, tpr, thresholds) from confusion matrices at thresholds, for KFP's ROC view."""
    fpr, tpr, thresholds = [], [], []
    for p in points:
        positives, negatives = p["tp"] + p["fn"], p["fp"] + p["tn"]
        fpr.append(p["fp"] / negatives if negatives else 0.0)
        tpr.append(p["tp"] / positives if positives else 0.0)
        thresholds.append(min(max(p["threshold"], 0.0), 1.0))
    return fpr, tpr, thresholds


def confusion_at(points: list[dict[str, float]], threshold: float = 0.5) -> list[list[int]]:
    """[[tn, fp], [fn, tp]] at the plotted threshold nearest to `threshold`."""
    if not points:
        return [[0, 0], [0, 0]]
    p = min(points, key=lambda q: abs(q["threshold"] - threshold))
    return [[int(p["tn"]), int(p["fp"])], [int(p["fn"]), int(p["tp"])]]


def tfma_validation(output_dir: str | Path) -> tuple[bool, list[dict]]:
    """TFMA's own threshold verdict and its failures (metric, slice, value, bound)."""
    import tensorflow_model_analysis as tfma

    result = tfma.load_validation_result(str(output_dir))
    failures = []
    for per_slice in result.metric_validations_per_slice:
        where = (
            slice_name(tfma.slicer.deserialize_slice_key(per_slice.slice_key))
            if per_slice.HasField("slice_key")
            else OVERALL
        )
        for failure in per_slice.failures:
            failures.append(
                {
                    "metric": failure.metric_key.name,
                    "model": failure.metric_key.model_name,
                    "change": failure.metric_key.is_diff,
                    "slice": where,
                    "value": _value_of_proto(failure.metric_value),
                    "bound": bound_text(failure.metric_threshold),
                    "message": failure.message,
                }
            )
    return bool(result.validation_ok), sorted(failures, key=failure_order)


def failure_order(failure: dict) -> tuple:
    """One order for threshold failures (TFMA's follows its Beam pipeline): overall first, then by
    slice; per slice the value failures before the change ones, then by metric."""
    return (failure["slice"] != OVERALL, failure["slice"], failure["change"], failure["metric"])


def _value_of_proto(metric_value) -> float | None:
    if metric_value.HasField("double_value"):
        return float(metric_value.double_value.value)
    if metric_value.HasField("bounded_value"):
        return float(metric_value.bounded_value.value.value)
    return None


def bound_text(threshold) -> str:
    parts = []
    if threshold.HasField("value_threshold"):
        bound = threshold.value_threshold
        if bound.HasField("lower_bound"):
            parts.append(f">= {bound.lower_bound.value:g}")
        if bound.HasField("upper_bound"):
            parts.append(f"<= {bound.upper_bound.value:g}")
    if threshold.HasField("change_threshold") and threshold.change_threshold.HasField("absolute"):
        parts.append(f"change >= {threshold.change_threshold.absolute.value:g} vs baseline")
    return " and ".join(parts) or "unknown bound"


def json_safe(value):
    """NaN and infinities as None (precision on a slice with no predicted positive is 0/0):
    KFP metadata is JSON, and kfp.local fails the whole run on a NaN in an artifact's metadata."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value
