"""Platform settings of the compiled pipeline: resources, caching, retries, secrets, scheduling.

Compile-time knobs come from the environment (like the image names in
`mlpipe.runtime.images`), so one checkout compiles for a laptop kind cluster or a
GPU node pool. kfp.local ignores all of this; the cluster applies it.
Credentials are referenced by Secret name only: no value enters the IR.
"""

from __future__ import annotations

import os

from kfp import kubernetes
from kfp.dsl import PipelineTask

from mlpipe.serving.names import (
    ACCESS_KEY_ID_KEY,
    PUSHER_TOKEN_DIR,
    SECRET_ACCESS_KEY_KEY,
    load_serving_names,
)
from mlpipe.storage.s3 import ACCESS_KEY, ENDPOINT, SECRET_KEY, SECURE

# cpu request, cpu limit, memory request, memory limit
RESOURCES = {
    "small": ("250m", "1", "512Mi", "2Gi"),
    "data": ("500m", "2", "1Gi", "4Gi"),
    "train": ("1", "4", "2Gi", "8Gi"),
}


def resources(task: PipelineTask, size: str) -> PipelineTask:
    cpu_request, cpu_limit, memory_request, memory_limit = RESOURCES[size]
    return (
        task.set_cpu_request(cpu_request)
        .set_cpu_limit(cpu_limit)
        .set_memory_request(memory_request)
        .set_memory_limit(memory_limit)
    )


def object_store_access(task: PipelineTask) -> PipelineTask:
    """MLPIPE_S3_* from the pipeline's credentials Secret (by name: read/write on the registry bucket
    alone) and the registry endpoint from params.env."""
    names = load_serving_names()
    kubernetes.use_secret_as_env(
        task,
        secret_name=names.pipeline_credentials_secret,
        secret_key_to_env={ACCESS_KEY_ID_KEY: ACCESS_KEY, SECRET_ACCESS_KEY_KEY: SECRET_KEY},
    )
    task.set_env_variable(ENDPOINT, names.registry_endpoint)
    task.set_env_variable(SECURE, str(names.registry_secure).lower())
    return task


def pusher_identity(task: PipelineTask) -> PipelineTask:
    """The pusher ServiceAccount's token, mounted into this task alone: the run executes with an
    account that has no serving rights, so no other step can patch the serving object."""
    kubernetes.use_secret_as_volume(
        task, secret_name=load_serving_names().pusher_token_secret, mount_path=PUSHER_TOKEN_DIR
    )
    return task


def training_placement(task: PipelineTask) -> PipelineTask:
    """Optional GPU, node selector and toleration for train (MLPIPE_TRAIN_* at compile time)."""
    gpus = os.environ.get("MLPIPE_TRAIN_GPUS", "")
    if gpus and gpus != "0":
        task.set_accelerator_type(os.environ.get("MLPIPE_TRAIN_ACCELERATOR", "nvidia.com/gpu"))
        task.set_accelerator_limit(int(gpus))
    selector = os.environ.get("MLPIPE_TRAIN_NODE_SELECTOR", "")
    if selector:
        key, _, value = selector.partition("=")
        kubernetes.add_node_selector(task, label_key=key, label_value=value)
    toleration = os.environ.get("MLPIPE_TRAIN_TOLERATION", "")
    if toleration:
        key_value, _, effect = toleration.partition(":")
        key, _, value = key_value.partition("=")
        kubernetes.add_toleration(
            task,
            key=key,
            operator="Equal" if value else "Exists",
            value=value or None,
            effect=effect or "NoSchedule",
        )
    return task
