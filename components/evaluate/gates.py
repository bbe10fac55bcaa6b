"""The blessing: TFMA's value and change thresholds plus the fairness gates.

Fairness gates read TFMA's per-slice results, which are exact numbers: for each
sensitive feature, the gap of a metric is the largest minus the smallest value
over its slices with at least `min_slice_size` examples (smaller slices are
listed but not gated, their metrics are too noisy to block a model on).
"""

from __future__ import annotations

import dataclasses

from mlpipe.components.config import DatasetConfig
from mlpipe.components.evaluate.results import OVERALL


@dataclasses.dataclass(frozen=True)
class FairnessCheck:
    feature: str
    metric: str
    gap: float | None
    max_gap: float
    min_slice: str | None
    max_slice: str | None
    slices_checked: int

    @property
    def passed(self) -> bool:
        return self.gap is not None and self.gap <= self.max_gap

    def reason(self) -> str:
        if self.gap is None:
            return f"fairness: metric '{self.metric}' has no value on any slice of '{self.feature}' with enough examples"
        return (
            f"fairness: {self.metric} gap across '{self.feature}' slices is {self.gap:.4f} "
            f"({self.min_slice} vs {self.max_slice}), bound {self.max_gap:.4f}"
        )

    def to_json(self) -> dict:
        return {**dataclasses.asdict(self), "passed": self.passed}


def slices_of(feature: str, metrics: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """The single-feature slices of `feature` (`sex:Female`, `sex:Male`)."""
    prefix = f"{feature}:"
    return {k: v for k, v in metrics.items() if k.startswith(prefix) and "," not in k}


def fairness_checks(config: DatasetConfig, metrics: dict[str, dict[str, float]]) -> list[FairnessCheck]:
    min_size = config.evaluation.min_slice_size
    checks = []
    for gate in config.evaluation.fairness_gates:
        values = {
            name: m[gate.metric]
            for name, m in slices_of(gate.feature, metrics).items()
            if m.get("example_count", 0) >= min_size and gate.metric in m
        }
        if values:
            low, high = min(values, key=values.get), max(values, key=values.get)
            gap = values[high] - values[low]
        else:
            low = high = None
            gap = None
        checks.append(FairnessCheck(gate.feature, gate.metric, gap, gate.max_gap, low, high, len(values)))
    return checks


def _failure_reason(failure: dict) -> str:
    kind = "change vs baseline" if failure["change"] else "value"
    metric = f"{failure['metric']}_diff" if failure["change"] else failure["metric"]
    value = "n/a" if failure["value"] is None else f"{failure['value']:.4f}"
    return f"{kind}: {metric} on slice {failure['slice']} is {value}, threshold {failure['bound']}"


def blessing(
    tfma_ok: bool,
    tfma_failures: list[dict],
    checks: list[FairnessCheck],
    metrics: dict[str, dict[str, float]],
    baseline: dict | None,
    min_slice_size: int = 0,
) -> dict:
    """`{blessed, reasons[]}`; each reason names the metric, the slice, the value and the bound.

    TFMA applies the value and change thresholds to every slice; a failure on a slice
    with fewer than `min_slice_size` examples is listed under `not_gated`, not a reason
    (a 5-row cross slice without positives has AUC 0 and must not block the model).
    """

    def gated(failure: dict) -> bool:
        count = metrics.get(failure["slice"], {}).get("example_count")
        return count is None or count >= min_slice_size

    reasons = [_failure_reason(f) for f in tfma_failures if gated(f)]
    not_gated = [_failure_reason(f) for f in tfma_failures if not gated(f)]
    if not tfma_ok and not tfma_failures:
        reasons.append("TFMA validation failed without naming a threshold (see the validations file)")
    reasons += [c.reason() for c in checks if not c.passed]
    overall = metrics.get(OVERALL, {})
    return {
        "blessed": not reasons,
        "reasons": reasons,
        "overall_auc": overall.get("auc"),
        "baseline": baseline,
        "fairness_checks": [c.to_json() for c in checks],
        "not_gated": not_gated,
    }
