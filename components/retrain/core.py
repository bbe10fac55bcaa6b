"""Retrain on a cluster: when the monitor decided so, a training run submitted through the KFP
API with the run's own identity, on the training data plus the labelled feedback; with
`monitoring.retrain: manual` the decision is only recorded.

The pod reaches the in-cluster KFP endpoint; `kfp.Client` authenticates with the token Kubeflow
projects into the pod (KF_PIPELINES_SA_TOKEN_PATH), the ServiceAccount the run executes as.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from mlpipe.config.dataset import DatasetConfig

log = logging.getLogger(__name__)

IN_CLUSTER_KFP = "http://ml-pipeline.kubeflow.svc.cluster.local:8888"


def upload_training_data(
    config: DatasetConfig, registry, environ: Mapping[str, str], key: str, workdir: Path
) -> str:
    """The retraining data, written once beside the history (`retrain/<key>.csv.gz`); its location."""
    import gzip

    from mlpipe.components.monitor.core import served_version
    from mlpipe.components.monitor.retrain import retraining_data
    from mlpipe.monitoring.history import History

    version, _ = served_version(registry, config)
    local = workdir / "retrain.csv"
    retraining_data(config, registry, environ, local)
    history = History(registry, config.model_name, version)
    name = f"retrain/{key}.csv.gz"
    history.create(name, gzip.compress(local.read_bytes(), mtime=0))
    if config.registry.uri.startswith("s3://"):
        return f"s3://{registry.bucket}/{history._key(name)}"
    return str(history._path(name))


def act(
    config: DatasetConfig,
    record: dict,
    environ: Mapping[str, str],
    host: str,
    workdir: Path,
    submit: Callable[..., str] | None = None,
    registry=None,
) -> dict:
    """`{action, reasons, run}`: `none` (no decision), `recorded` (manual), or `submitted` with
    the training run's URL. `submit(host, package, params)` defaults to mlpipe/cluster/submit.py's."""
    from mlpipe.registry.access import open_registry

    decision = record["decision"]
    if not decision["retrain"]:
        return {"action": "none", "reasons": [], "run": None}
    if config.monitoring.retrain == "manual":
        log.warning("retraining is due (retrain: manual, recorded only): %s", decision["reasons"])
        return {"action": "recorded", "reasons": decision["reasons"], "run": None}
    from mlpipe.cluster.submit import compile_pipeline
    from mlpipe.cluster.submit import submit as kfp_submit

    registry = registry or open_registry(config.registry.uri, environ)
    data = upload_training_data(config, registry, environ, record["key"], workdir)
    package = compile_pipeline(config, workdir / "training_pipeline.yaml")
    params = {"train_data": data}
    url = (submit or kfp_submit)(host, package, params, run_name=f"retrain-{record['key']}", environ=environ)
    log.info("submitted a retraining run on %s: %s", data, url)
    return {"action": "submitted", "reasons": decision["reasons"], "run": url, "train_data": data}


def default_host(environ: Mapping[str, str] = os.environ) -> str:
    return environ.get("MLPIPE_KFP_HOST", IN_CLUSTER_KFP)
