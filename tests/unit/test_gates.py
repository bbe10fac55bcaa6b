"""Fairness gates on per-slice metrics as TFMA reports them: fewer than two comparable slices and
undefined (NaN) values fail closed whatever the order of the slices, and a slice value with a
comma or a quote stays in its slice. The config is the real Adult one; the metrics are set per case."""

from __future__ import annotations

import itertools
import math
import types

import pytest

from mlpipe.components.evaluate.report import render_html
from mlpipe.config.io import load_config
from mlpipe.evaluation.gates import blessing, fairness_checks
from mlpipe.evaluation.results import (
    one_class_slices,
    parse_slice_name,
    slice_keys,
    slice_name,
    sliced_metrics,
    without_undefined,
)

NAN = float("nan")


@pytest.fixture(scope="module")
def config(tmp_path_factory, write_config):
    """Adult's config with one gate per case: sex/auc and race/false_positive_rate@0.5."""
    gates = [
        {"feature": "sex", "metric": "auc", "max_gap": 0.06},
        {"feature": "race", "metric": "false_positive_rate@0.5", "max_gap": 0.10},
    ]
    path = write_config(tmp_path_factory.mktemp("gates"), {"evaluation.fairness_gates": gates})
    return load_config(path, check_data=False)


def _tfma_result(slices: list[tuple[tuple, dict[str, float]]]):
    """An EvalResult's `slicing_metrics` shape: (slice key, {output: {sub key: {metric: value}}})."""
    return types.SimpleNamespace(
        slicing_metrics=[
            (key, {"": {"": {name: {"doubleValue": value} for name, value in values.items()}}})
            for key, values in slices
        ]
    )


def _metrics(count: int, auc: float, fpr: float = 0.1) -> dict[str, float]:
    return {"example_count": count, "auc": auc, "false_positive_rate@0.5": fpr}


def _check(checks, feature: str) -> dict:
    (check,) = [c.to_json() for c in checks if c.feature == feature]
    return check


def _orders(slices: list) -> list[list]:
    return [list(p) for p in itertools.permutations(slices)]


def test_a_gate_with_one_slice_large_enough_fails_closed_and_says_why(config):
    base = [((), _metrics(3000, 0.9))]
    for sizes in ([2900, 29], [2900], [29, 5], []):
        sex = [((("sex", b"Female"),), _metrics(sizes[0], 0.70))] if sizes else []
        if len(sizes) > 1:
            sex.append(((("sex", b"Male"),), _metrics(sizes[1], 0.95)))
        result = _tfma_result(base + sex)
        metrics = sliced_metrics(result)
        check = _check(fairness_checks(config, metrics, slice_keys(result)), "sex")
        assert check["passed"] is False and check["gap"] is None
        big = sum(size >= config.evaluation.min_slice_size for size in sizes)
        assert check["slices_checked"] == big
        assert f"only {big} slice(s)" in check["problem"] and "min_slice_size" in check["problem"]
        verdict = blessing(True, [], fairness_checks(config, metrics, slice_keys(result)), metrics, None)
        assert verdict["blessed"] is False
        assert any("'sex'" in r and "two slices to compare" in r for r in verdict["reasons"])


@pytest.mark.parametrize("bad", [NAN, None, math.inf])
def test_an_undefined_metric_on_a_gated_slice_fails_the_same_in_any_order(config, bad):
    undefined = _metrics(90, 0.9, bad)
    if bad is None:  # the metric is absent on that slice
        del undefined["false_positive_rate@0.5"]
    slices = [
        ((("race", b"White"),), _metrics(2500, 0.9, 0.10)),
        ((("race", b"Black"),), _metrics(300, 0.9, 0.12)),
        ((("race", b"Asian-Pac-Islander"),), undefined),
        ((("race", b"Other"),), _metrics(8, 0.9, NAN)),  # too small to gate: ignored
    ]
    seen = set()
    for order in _orders(slices):
        result = _tfma_result([((), _metrics(3000, 0.9)), *order])
        check = _check(fairness_checks(config, sliced_metrics(result), slice_keys(result)), "race")
        assert check["passed"] is False
        assert "race:Asian-Pac-Islander" in check["problem"] and "race:Other" not in check["problem"]
        seen.add(repr(check))
    assert len(seen) == 1  # the same check, whatever the order


def test_nan_on_a_slice_below_min_slice_size_is_not_gated(config):
    slices = [
        ((("race", b"White"),), _metrics(2500, 0.9, 0.10)),
        ((("race", b"Black"),), _metrics(300, 0.9, 0.15)),
        ((("race", b"Other"),), _metrics(8, 0.9, NAN)),
    ]
    checks = set()
    for order in _orders(slices):
        result = _tfma_result(order)
        check = _check(fairness_checks(config, sliced_metrics(result), slice_keys(result)), "race")
        assert check["passed"] is True and check["gap"] == pytest.approx(0.05)
        assert (check["min_slice"], check["max_slice"]) == ("race:White", "race:Black")
        checks.add(repr(check))
    assert len(checks) == 1


def test_equal_values_name_the_same_slices_in_any_order(config):
    slices = [((("sex", v),), _metrics(500, 0.9)) for v in (b"Male", b"Female", b"Unknown")]
    named = {
        (c["min_slice"], c["max_slice"])
        for order in _orders(slices)
        for c in [_check(fairness_checks(config, sliced_metrics(_tfma_result(order))), "sex")]
    }
    assert named == {("sex:Female", "sex:Unknown")}


@pytest.mark.parametrize(
    "values",
    [
        (b"Female", b"Male, with comma"),
        (b"Fe,male", b"Male"),
        (b"a,race:White", b"b"),  # looks like a cross slice
        (b'say "x"', b" Male "),
        (b"", b"Male"),
    ],
)
def test_slice_values_with_commas_or_quotes_stay_in_their_slice(config, values):
    low, high = values
    result = _tfma_result(
        [
            ((), _metrics(3000, 0.9)),
            ((("sex", low),), _metrics(1000, 0.80)),
            ((("sex", high),), _metrics(2000, 0.95)),
            ((("race", b"White"), ("sex", low)), _metrics(900, 0.5)),  # a cross: never a sex slice
        ]
    )
    metrics, keys = sliced_metrics(result), slice_keys(result)
    assert len(metrics) == 4  # every name is distinct
    for with_keys in (keys, None):  # TFMA's keys, or names only (read back)
        check = _check(fairness_checks(config, metrics, with_keys), "sex")
        assert check["slices_checked"] == 2 and check["gap"] == pytest.approx(0.15)
        assert check["min_slice"] == slice_name((("sex", low),))
        assert check["passed"] is False  # 0.15 > 0.06: the gate compared the two slices
    for name, key in keys.items():
        assert parse_slice_name(name, {"sex", "race"}) == key
    page = render_html(config, metrics, blessing(True, [], [], metrics, None), keys)
    sex_section = page.split('<section id="slice-sex">', 1)[1].split("</section>", 1)[0]
    assert sex_section.count("<tr><th>sex:") == 2


def test_plain_names_with_commas_are_read_up_to_the_next_sliced_column(config):
    metrics = {
        "overall": _metrics(3000, 0.9),
        "sex:Female, or not": _metrics(1000, 0.90),
        "sex:Male": _metrics(2000, 0.91),
        "race:White,sex:Male": _metrics(1500, 0.91),
    }
    check = _check(fairness_checks(config, metrics), "sex")
    assert check["slices_checked"] == 2 and check["passed"] is True


def test_a_slice_of_one_class_has_no_auc_and_never_blocks_as_a_zero(config):
    """TFMA reports AUC 0.0 on a slice whose rows are all negatives; AUC is undefined there."""
    slices = [
        ((), _metrics(3000, 0.9)),
        ((("sex", b"Female"),), _metrics(900, 0.88, 0.05)),
        ((("sex", b"Male"),), _metrics(2000, 0.91, 0.12)),
        ((("sex", b"Unknown"),), {**_metrics(100, 0.0, 0.02), "recall@0.5": 0.0}),
    ]
    one_class = one_class_slices(
        {"sex:Unknown": (0.0, 100.0), "sex:Male": (600.0, 1400.0), "Overall": (9, 9)}
    )
    assert one_class == {"sex:Unknown": "only negatives"}
    result = _tfma_result(slices)
    metrics = without_undefined(sliced_metrics(result), one_class)
    unknown = metrics["sex:Unknown"]
    assert unknown["auc"] is None and unknown["recall@0.5"] is None  # need both classes, positives
    assert unknown["false_positive_rate@0.5"] == 0.02 and unknown["example_count"] == 100  # defined
    assert metrics["sex:Male"]["auc"] == 0.91

    checks = [
        c for c in fairness_checks(config, metrics, slice_keys(result), one_class) if c.feature == "sex"
    ]
    sex = _check(checks, "sex")
    assert sex["passed"] is True and sex["gap"] == pytest.approx(0.03)  # Female vs Male only
    assert sex["excluded"] == ["sex:Unknown (undefined: only negatives)"]
    tfma_failure = {
        "metric": "auc",
        "slice": "sex:Unknown",
        "value": 0.0,
        "bound": ">= 0.85",
        "change": False,
    }
    verdict = blessing(False, [tfma_failure], checks, metrics, None, min_slice_size=30, one_class=one_class)
    assert verdict["blessed"] is True and verdict["reasons"] == []
    assert "auc on slice sex:Unknown: undefined (only negatives), not gated" in verdict["undefined"]
    assert any(
        n.startswith("fairness: auc across 'sex' slices leaves out sex:Unknown") for n in verdict["undefined"]
    )
    assert verdict["one_class_slices"] == one_class

    # a real failure next to it still blocks
    low = {"metric": "auc", "slice": "sex:Female", "value": 0.5, "bound": ">= 0.85", "change": False}
    blocked = blessing(False, [tfma_failure, low], checks, metrics, None, 30, one_class)
    assert blocked["blessed"] is False and blocked["reasons"] == [
        "value: auc on slice sex:Female is 0.5000, threshold >= 0.85"
    ]


def test_a_gate_left_with_one_slice_once_one_class_slices_are_out_is_not_judged(config):
    slices = [
        ((("sex", b"Female"),), _metrics(900, 0.88)),
        ((("sex", b"Unknown"),), _metrics(100, 0.0)),
    ]
    one_class = {"sex:Unknown": "only positives"}
    result = _tfma_result(slices)
    metrics = without_undefined(sliced_metrics(result), one_class)
    check = _check(fairness_checks(config, metrics, slice_keys(result), one_class), "sex")
    assert check["passed"] is True and check["gap"] is None
    assert check["not_judged"] == "fewer than two slices left (1): not judged"
    # what it was before: TFMA's 0.0 on the one-class slice read as a gap of 0.88
    blind = _check(fairness_checks(config, sliced_metrics(result), slice_keys(result)), "sex")
    assert blind["passed"] is False and blind["gap"] == pytest.approx(0.88)


def test_reports_show_counts_whole_undefined_metrics_as_such_and_why_a_section_is_empty(
    config, tmp_path, write_config
):
    from mlpipe.components.evaluate.report import render_model_card

    slices = [((), _metrics(3000, 0.9)), ((("sex", b"Female"),), _metrics(1, 0.0, 0.0))]
    one_class = {"sex:Female": "only negatives"}
    result = _tfma_result(slices)
    metrics = without_undefined(sliced_metrics(result), one_class)
    checks = [
        c for c in fairness_checks(config, metrics, slice_keys(result), one_class) if c.feature == "sex"
    ]
    verdict = blessing(True, [], checks, metrics, None, min_slice_size=30, one_class=one_class)
    card = render_model_card(config, {}, metrics, verdict)
    (row,) = [line for line in card.splitlines() if line.startswith("| sex:Female |")]
    assert row.startswith("| sex:Female | 1 | n/a (one class) |"), row  # a count of 1, not 1.0000
    assert "| overall | 3,000 | 0.9000 |" in card
    page = render_html(config, metrics, verdict, slice_keys(result))
    assert "<td>n/a (one class)" in page and "<td>1</td>" in page

    plain = load_config(
        write_config(
            tmp_path,
            {"slicing.features": [], "slicing.crosses": [], "evaluation.fairness_gates": []},
        ),
        check_data=False,
    )
    overall = {"overall": _metrics(3000, 0.9)}
    verdict = blessing(True, [], [], overall, None)
    card = render_model_card(plain, {}, overall, verdict)
    fairness = card.split("## Fairness gates", 1)[1].split("## Decision", 1)[0]
    assert "No sensitive feature configured (`slicing.features`)" in fairness and "|" not in fairness
    assert "No sensitive feature configured" in render_html(plain, overall, verdict)
