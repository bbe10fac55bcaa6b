"""The train step on a cluster with `training.distributed.workers` > 1: stage, run a TFJob, collect.

The workers' pods share no disk with the step's pod, so the step puts its inputs under a staging
prefix of the registry's object store (`s3://<bucket>/.train-jobs/<job>/`), creates the TFJob
(`tfjob`), waits for it, downloads the chief's model and TensorBoard logs into its own output
artifacts, and deletes the staging prefix. The TFJob stays for its logs until the operator's TTL.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path

from mlpipe.components.train import tfjob
from mlpipe.components.train.core import METADATA_FILE, TrainResult
from mlpipe.components.train.staging import download_tree, remove_tree, upload_tree
from mlpipe.config.dataset import DatasetConfig
from mlpipe.data.artifacts import SCHEMA_FILE
from mlpipe.errors import UserInputError
from mlpipe.serving.names import ServingNames
from mlpipe.storage.atomic import atomic_dir
from mlpipe.storage.s3 import ENDPOINT, upload_files

log = logging.getLogger(__name__)

POD_NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def in_cluster(environ: Mapping[str, str] = os.environ) -> bool:
    """In a pod: the distributed settings apply; elsewhere one process trains."""
    return bool(environ.get("KUBERNETES_SERVICE_HOST"))


def job_name(config: DatasetConfig) -> str:
    """A DNS-1035 label (the operator names Services after it), unique per launch."""
    return f"train-{config.name.replace('_', '-')[:40].rstrip('-')}-{uuid.uuid4().hex[:8]}"


def pod_namespace(names: ServingNames) -> str:
    try:
        return POD_NAMESPACE_FILE.read_text().strip()
    except OSError:
        return names.pipeline_namespace


def _stage(path: Path, destination: str, environ: Mapping[str, str], as_name: str | None = None) -> None:
    """A folder as it is; a file under `as_name` (what the worker looks for), else its own name."""
    if path.is_dir():
        upload_tree(path, destination, environ)
        return
    with tempfile.TemporaryDirectory(prefix="mlpipe-stage-") as tmp:
        staged = Path(tmp) / (as_name or path.name)
        shutil.copyfile(path, staged)
        upload_files([str(staged)], destination.rstrip("/") + "/", environ)


def job_args(config: DatasetConfig, staging: str, fingerprint: str) -> list[str]:
    return [
        "--config-json", json.dumps(config.run_input()),
        "--examples", f"{staging}/examples",
        "--schema", f"{staging}/schema",
        "--hyperparameters", f"{staging}/hyperparameters",
        "--model", f"{staging}/model",
        "--tensorboard", f"{staging}/tensorboard",
        "--fingerprint", fingerprint,
    ]  # fmt: skip


def train_as_tfjob(
    config: DatasetConfig,
    examples_dir: str | Path,
    schema_path: str | Path,
    hyperparameters_path: str | Path,
    model_dir: str | Path,
    tensorboard_dir: str | Path,
    names: ServingNames,
    image: str,
    fingerprint: str = "",
    api=None,
    environ: Mapping[str, str] = os.environ,
) -> TrainResult:
    """Train with `training.distributed.workers` TFJob workers; the model lands in `model_dir`."""
    from mlpipe.serving.rollout import api_client

    settings = config.training.distributed
    if not environ.get(ENDPOINT):
        raise UserInputError(
            f"training.distributed.workers={settings.workers} needs the object store in the train step "
            f"({ENDPOINT} is not set): compile the pipeline with that setting in its config"
        )
    api = api or api_client()
    name = job_name(config)
    namespace = pod_namespace(names)
    staging = f"s3://{names.registry_bucket}/.train-jobs/{name}"
    try:
        _stage(Path(examples_dir), f"{staging}/examples", environ)
        _stage(Path(schema_path), f"{staging}/schema", environ, as_name=SCHEMA_FILE)
        _stage(Path(hyperparameters_path), f"{staging}/hyperparameters", environ)
        body = tfjob.render_tfjob(
            name, namespace, image, job_args(config, staging, fingerprint), settings, names
        )
        tfjob.create(body, api)
        what = f"TFJob {namespace}/{name} ({settings.workers} workers)"
        log.info("created %s; waiting up to %g s", what, settings.timeout_seconds)
        try:
            tfjob.wait(lambda: tfjob.get(name, namespace, api), settings.timeout_seconds, what)
        except tfjob.TrainingJobFailed as exc:
            logs = f"kubectl logs -n {namespace} -l training.kubeflow.org/job-name={name} --prefix"
            raise tfjob.TrainingJobFailed(f"{exc} (workers' logs: {logs})") from None
        with tempfile.TemporaryDirectory(prefix="mlpipe-tfjob-") as tmp:
            download_tree(f"{staging}/tensorboard", Path(tmp) / "tensorboard", environ)
            with atomic_dir(tensorboard_dir) as out:
                for item in (Path(tmp) / "tensorboard").iterdir():
                    item.rename(out / item.name)
        with atomic_dir(model_dir) as out:
            download_tree(f"{staging}/model", out, environ)
    finally:
        try:
            remove_tree(staging, environ)
        except Exception as exc:  # noqa: BLE001  the outcome stands; a leftover prefix is only logged
            log.warning("could not remove the staging prefix %s: %s", staging, exc)
    metadata = json.loads((Path(model_dir) / METADATA_FILE).read_text())
    return TrainResult.from_metadata(metadata)
