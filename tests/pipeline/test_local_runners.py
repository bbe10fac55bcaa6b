"""What the local runners hand to the containers: only what a container can see."""

from __future__ import annotations

import pytest

from mlpipe.config.io import load_config
from mlpipe.errors import UserInputError
from mlpipe.run.containers import task_environment
from mlpipe.run.local import docker_config


def test_docker_runs_see_only_the_runs_root(tmp_path, write_config):
    runs = tmp_path / "runs"
    inside = runs / "inputs" / "train.csv"
    config = load_config(write_config(tmp_path / "cfg", {"data": {"train": str(inside)}}), check_data=False)
    seen = docker_config(config, runs)
    assert seen.registry.uri == str(runs / "registry")  # a local registry moves into the mount
    assert seen.data.train == str(inside)

    outside = load_config(
        write_config(tmp_path / "cfg2", {"data": {"train": "/elsewhere/t.csv"}}), check_data=False
    )
    with pytest.raises(UserInputError, match=r"data.train /elsewhere/t.csv must lie under it or be s3://"):
        docker_config(outside, runs)
    remote = load_config(
        write_config(tmp_path / "cfg3", {"data": {"train": "s3://d/t.csv"}, "registry.uri": "s3://models"}),
        check_data=False,
    )
    assert docker_config(remote, runs) == remote


def test_a_task_gets_its_ir_env_and_the_secret_under_the_names_the_platform_spec_gives():
    platform = {
        "secretAsEnv": [
            {
                "secretName": "creds",
                "keyToEnv": [
                    {"secretKey": "AWS_ACCESS_KEY_ID", "envVar": "MLPIPE_S3_ACCESS_KEY"},
                    {"secretKey": "AWS_SECRET_ACCESS_KEY", "envVar": "MLPIPE_S3_SECRET_KEY"},
                ],
            }
        ]
    }
    secrets = {"creds": {"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "s"}}
    env = task_environment(
        {"MLPIPE_S3_ENDPOINT": "minio.ns.svc.cluster.local:9000"},
        platform,
        secrets,
        {"MLPIPE_S3_ENDPOINT": "127.0.0.1:9000", "NOT_IN_THE_TASK": "x"},
    )
    assert env == {
        "MLPIPE_S3_ENDPOINT": "127.0.0.1:9000",
        "MLPIPE_S3_ACCESS_KEY": "a",
        "MLPIPE_S3_SECRET_KEY": "s",
    }
    assert task_environment({}, {}, {}, {"MLPIPE_S3_ENDPOINT": "x"}) == {}  # no store access, no credentials
    with pytest.raises(UserInputError, match="needs the Secret 'creds'"):
        task_environment({}, platform, {}, {})
    with pytest.raises(UserInputError, match="Secret 'creds' has no key 'AWS_SECRET_ACCESS_KEY'"):
        task_environment({}, platform, {"creds": {"AWS_ACCESS_KEY_ID": "a"}}, {})
