"""Settings push checks before it uploads anything (no cluster needed; the access checks run
against a real API server in tests/cluster/test_push_preflight.py)."""

from __future__ import annotations

import re

import pytest

from mlpipe.components.push.preflight import check_settings, preflight
from mlpipe.errors import UserInputError
from mlpipe.registry.local import LocalRegistry
from mlpipe.registry.s3 import S3Registry
from mlpipe.serving.names import load_serving_names

NAMES = load_serving_names()
MODEL = NAMES.model_name


@pytest.mark.parametrize(
    "target, model, uri, canary, message",
    [
        ("argo", MODEL, "s3://models", 0, "unknown serving target 'argo'"),
        ("kserve", MODEL, "s3://models", 101, "must be 0-100, got 101"),
        (
            "deployment",
            MODEL,
            "s3://models",
            10,
            "canary_traffic_percent is for the kserve target, not deployment",
        ),
        ("shadow", MODEL, "s3://models", 5, "canary_traffic_percent is for the kserve target, not shadow"),
        ("kserve", "other_model", "s3://models", 0, "model_name 'other_model' is not the served model"),
        (
            "kserve",
            MODEL,
            "s3://elsewhere",
            0,
            "registry s3://elsewhere is not where serving reads (s3://models",
        ),
        (
            "deployment",
            MODEL,
            "s3://models/team-a",
            0,
            "registry s3://models/team-a is not where serving reads",
        ),
    ],
)
def test_settings_that_make_the_rollout_impossible_are_refused_before_the_cluster(
    target, model, uri, canary, message, no_server
):
    registry = S3Registry(uri, client=None)  # never contacted
    with pytest.raises(UserInputError, match=re.escape(message)) as err:
        preflight(target, NAMES, model, registry, canary, api=no_server)
    assert str(err.value).endswith(": nothing was published")


def test_good_settings_pass(tmp_path):
    check_settings("kserve", NAMES, MODEL, S3Registry("s3://models", client=None), 10)
    check_settings("deployment", NAMES, MODEL, LocalRegistry(tmp_path), 0)
    check_settings("shadow", NAMES, MODEL, S3Registry("s3://models", client=None), 0)
    check_settings("none", NAMES, "anything", S3Registry("s3://elsewhere/x", client=None), 0)
