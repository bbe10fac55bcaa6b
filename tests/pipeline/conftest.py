"""Shared by the compile and submit tests: the pipeline compiled once, as a user's shell would.

Compile runs in a subprocess, because image names and placement settings are read from the
environment when `mlpipe.runtime.images` and `mlpipe.pipelines.training` are imported.
"""

from __future__ import annotations

import os
import subprocess
import sys
import types

import pytest
import yaml

SECRET = "some-unique-secret-6b1f0e"
ACCESS = "some-unique-access-93ad"
IMAGE_ENV = {"MLPIPE_IMAGE_REGISTRY": "registry.example.com/ml", "MLPIPE_IMAGE_TAG": "1.2.3-test"}
PLACEMENT_ENV = {
    "MLPIPE_TRAIN_GPUS": "2",
    "MLPIPE_TRAIN_NODE_SELECTOR": "pool=gpu-a100",
    "MLPIPE_TRAIN_TOLERATION": "nvidia.com/gpu=present:NoSchedule",
}

COMPILE = (
    "import sys; from mlpipe.config.io import load_config; "
    "from mlpipe.pipelines.compile import compile_pipeline; "
    "compile_pipeline(load_config('configs/adult-cluster.yaml', check_data=False), sys.argv[1])"
)


@pytest.fixture(scope="session")
def compiled(tmp_path_factory, repo_root) -> types.SimpleNamespace:
    """The IR compiled in fresh processes with custom images and S3 credentials in their environment:
    `plain` without, `placed` with the MLPIPE_TRAIN_* placement settings. (A fresh process each: the
    `@dsl.pipeline` decorator builds the graph, and so reads the settings, when mlpipe.pipelines.training is imported.)"""
    out = tmp_path_factory.mktemp("compiled")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLPIPE_TRAIN_", "MLPIPE_IMAGE_"))}
    env.update(
        IMAGE_ENV,
        MLPIPE_S3_SECRET_KEY=SECRET,
        MLPIPE_S3_ACCESS_KEY=ACCESS,
        MLPIPE_S3_ENDPOINT="minio:9000",
        PYTHONPATH=str(repo_root),
    )
    docs = {}
    for name, extra in (("plain", {}), ("placed", PLACEMENT_ENV)):
        path = out / f"{name}.yaml"
        done = subprocess.run(
            [sys.executable, "-c", COMPILE, str(path)],
            cwd=repo_root,
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        text = path.read_text()
        spec, platform = yaml.safe_load_all(text)
        docs[name] = types.SimpleNamespace(
            path=path,
            text=text,
            spec=spec,
            platform=platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"],
            output=done.stdout + done.stderr,
        )
    return types.SimpleNamespace(**docs, secret=SECRET, access=ACCESS, image_env=IMAGE_ENV)
