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
from mlpipe.evaluation.results import parse_slice_name, slice_keys, slice_name, sliced_metrics

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
