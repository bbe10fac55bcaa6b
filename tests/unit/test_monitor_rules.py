"""The retraining rule and the monitoring config, without a model: quick to run."""

from __future__ import annotations

import pytest

from mlpipe.config.io import load_config
from mlpipe.errors import UserInputError


def _crossed(*signals: str) -> dict:
    return {"crossed": [{"signal": s, "value": 0.2, "bound": 0.1, "what": s} for s in signals]}


def test_the_rule_needs_the_same_signal_over_its_bound_in_consecutive_batches(tmp_path, write_config):
    from mlpipe.components.monitor.decision import decide, features_of

    config = load_config(write_config(tmp_path, {"monitoring.consecutive_batches": 3}))
    history = [
        _crossed("drift:age"),
        _crossed(),
        _crossed("drift:age"),
        _crossed("drift:age", "missing:race"),
    ]
    now = _crossed("drift:age", "missing:race")["crossed"]
    decision = decide(config, history, now)
    assert decision["verdict"] == "retrain" and decision["signals"] == ["drift:age"]
    assert decision["streaks"] == {"drift:age": 3, "missing:race": 2}  # the gap at batch 1 ends a streak
    assert decision["reasons"] == ["drift:age: drift:age 0.2 over 0.1 for 3 consecutive batches (rule: 3)"]
    assert features_of(decision) == ["age"]
    assert decide(config, history[:2], now)["verdict"] == "alarm"
    assert decide(config, history, [])["verdict"] == "ok"


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"monitoring.id_column": "age"}, "monitoring.id_column"),
        ({"monitoring.retrain": "sometimes"}, "monitoring.retrain"),
        ({"monitoring.charts": ["drift", "pie"]}, "monitoring.charts"),
        ({"monitoring.consecutive_batches": 0}, "monitoring.consecutive_batches"),
        ({"monitoring.max_missing_fraction": 0.1}, "monitoring.max_missing_fraction"),
    ],
)
def test_a_bad_monitoring_section_fails_on_load_naming_the_key(tmp_path, write_config, changes, key):
    with pytest.raises(UserInputError, match=rf"'{key}"):
        load_config(write_config(tmp_path, changes))
