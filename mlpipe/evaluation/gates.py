"""The blessing: TFMA's value and change thresholds plus the fairness gates.

Fairness gates read TFMA's per-slice results, which are exact numbers: for each
sensitive feature, the gap of a metric is the largest minus the smallest value
over its slices with at least `min_slice_size` examples (smaller slices are
listed but not gated, their metrics are too noisy to block a model on). A gate
that cannot compare two finite values (fewer than two such slices, or a NaN or
missing metric on one of them) fails closed and says why, whatever the order
of the slices. A slice whose labels are all one class has no AUC (and no rate over
the class it lacks): it is left out of the gates that need the metric, and the
blessing says so (`undefined`), instead of blocking the model as a 0.
"""

from __future__ import annotations

import dataclasses
import math

from mlpipe.config.dataset import DatasetConfig
from mlpipe.evaluation.results import OVERALL, SliceKey, parse_slice_name, undefined_on


@dataclasses.dataclass(frozen=True)
class FairnessCheck:
    feature: str
    metric: str
    gap: float | None
    max_gap: float
    min_slice: str | None
    max_slice: str | None
    slices_checked: int
    problem: str | None = None  # why no gap could be judged: the check then fails closed
    excluded: tuple[str, ...] = ()  # slices of one class, where the metric is undefined
    not_judged: str | None = None  # too few slices left once those are out: nothing to judge

    @property
    def passed(self) -> bool:
        if self.not_judged is not None:
            return True
        return self.problem is None and self.gap is not None and self.gap <= self.max_gap

    def note(self) -> str | None:
        """What the blessing and model card say about slices left out, if any."""
        if not self.excluded:
            return None
        left_out = ", ".join(self.excluded)
        tail = f"; {self.not_judged}" if self.not_judged else ""
        return f"fairness: {self.metric} across '{self.feature}' slices leaves out {left_out}{tail}"

    def reason(self) -> str:
        if self.problem is not None or self.gap is None:
            return f"fairness: {self.metric} across '{self.feature}' slices: {self.problem or 'no value'}"
        return (
            f"fairness: {self.metric} gap across '{self.feature}' slices is {self.gap:.4f} "
            f"({self.min_slice} vs {self.max_slice}), bound {self.max_gap:.4f}"
        )

    def to_json(self) -> dict:
        return {**dataclasses.asdict(self), "excluded": list(self.excluded), "passed": self.passed}


def slice_keys_of(
    metrics: dict[str, dict[str, float]], config: DatasetConfig, keys: dict[str, SliceKey] | None = None
) -> dict[str, SliceKey]:
    """Each slice's (column, value) pairs: TFMA's own when given, else read back from the names
    (quoted values, and plain ones up to the next `,<sliced column>:`)."""
    if keys is not None:
        return {name: keys[name] for name in metrics if name in keys}
    columns = {*config.slicing.features, *(c for cross in config.slicing.crosses for c in cross)}
    parsed = {name: parse_slice_name(name, columns) for name in metrics}
    return {name: key for name, key in parsed.items() if key is not None}


def slices_of(
    columns: list[str], metrics: dict[str, dict[str, float]], keys: dict[str, SliceKey]
) -> dict[str, dict[str, float]]:
    """The slices over exactly `columns` (`[sex]`: `sex:Female`, `sex:Male`; a cross in any order)."""
    wanted = sorted(columns)
    return {
        name: metrics[name]
        for name, key in keys.items()
        if name in metrics and sorted(column for column, _ in key) == wanted
    }


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check(
    gate, slices: dict[str, dict[str, float]], min_size: int, one_class: dict[str, str]
) -> FairnessCheck:
    """One gate over one feature's slices; fails closed when it cannot compare two values."""
    gated = {name: m for name, m in sorted(slices.items()) if m.get("example_count", 0) >= min_size}
    excluded = tuple(
        f"{name} (undefined: {one_class[name]})"
        for name in gated
        if name in one_class and undefined_on(gate.metric, one_class[name])
    )
    values = {
        name: m.get(gate.metric)
        for name, m in gated.items()
        if not (name in one_class and undefined_on(gate.metric, one_class[name]))
    }
    undefined = [name for name, value in values.items() if not _is_number(value)]
    problem = None
    if undefined:
        problem = (
            f"{gate.metric} is undefined (NaN or missing) on slice(s) {', '.join(undefined)} "
            f"with at least {min_size} examples, so the gap cannot be judged"
        )
    elif len(values) < 2 and excluded:
        note = f"fewer than two slices left ({len(values)}): not judged"
        return FairnessCheck(
            gate.feature, gate.metric, None, gate.max_gap, None, None, len(values), None, excluded, note
        )
    elif len(values) < 2:
        found = f" ({', '.join(values)})" if values else ""
        problem = (
            f"only {len(values)} slice(s){found} have at least {min_size} examples (min_slice_size); "
            "a gap needs two slices to compare"
        )
    if problem is not None:
        return FairnessCheck(
            gate.feature, gate.metric, None, gate.max_gap, None, None, len(values), problem, excluded
        )
    low = min(values, key=lambda name: (values[name], name))
    high = max(values, key=lambda name: (values[name], name))
    gap = values[high] - values[low]
    return FairnessCheck(gate.feature, gate.metric, gap, gate.max_gap, low, high, len(values), None, excluded)


def fairness_checks(
    config: DatasetConfig,
    metrics: dict[str, dict[str, float]],
    keys: dict[str, SliceKey] | None = None,
    one_class: dict[str, str] | None = None,
) -> list[FairnessCheck]:
    """Every fairness gate over its feature's slices with at least `min_slice_size` examples.
    `keys` are the slices' (column, value) pairs (`results.slice_keys`); without them the
    names are read back, quoted values included. `one_class`: slices of one class
    (`results.one_class_slices`), left out where the gate's metric needs both."""
    min_size = config.evaluation.min_slice_size
    known = slice_keys_of(metrics, config, keys)
    return [
        _check(gate, slices_of([gate.feature], metrics, known), min_size, one_class or {})
        for gate in config.evaluation.fairness_gates
    ]


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
    one_class: dict[str, str] | None = None,
) -> dict:
    """`{blessed, reasons[]}`; each reason names the metric, the slice, the value and the bound.

    TFMA applies the value and change thresholds to every slice; a failure on a slice
    with fewer than `min_slice_size` examples is listed under `not_gated`, not a reason
    (a 5-row cross slice without positives has AUC 0 and must not block the model).
    """

    one_class = one_class or {}

    def gated(failure: dict) -> bool:
        count = metrics.get(failure["slice"], {}).get("example_count")
        return count is None or count >= min_slice_size

    def defined(failure: dict) -> bool:
        only = one_class.get(failure["slice"])
        return only is None or not undefined_on(failure["metric"], only)

    reasons = [_failure_reason(f) for f in tfma_failures if gated(f) and defined(f)]
    not_gated = [_failure_reason(f) for f in tfma_failures if not gated(f) and defined(f)]
    undefined = [
        f"{f['metric']}{'_diff' if f['change'] else ''} on slice {f['slice']}: undefined "
        f"({one_class[f['slice']]}), not gated"
        for f in tfma_failures
        if not defined(f)
    ]
    undefined += [note for c in checks if (note := c.note())]
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
        "undefined": undefined,
        "one_class_slices": dict(sorted(one_class.items())),
    }
