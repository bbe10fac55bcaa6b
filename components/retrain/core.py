"""Retrain on a cluster: when the monitor decided so, a training run submitted through the KFP
API with the run's own identity, on the training data plus the labelled feedback; with
`monitoring.retrain: manual` (or no KFP host: `mlpipe monitor` retrains on this machine itself)
the decision is only recorded. The training pipeline comes compiled (the monitoring pipeline
carries its IR), so this stage submits through the client `mlpipe submit` uses and imports no
pipeline definition.

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

    from mlpipe.monitoring.feedback import retraining_data, served_version
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
    training_package: str | Path,
    submit: Callable[..., str] | None = None,
    registry=None,
) -> dict:
    """`{action, reasons, run}`: `none` (no decision), `recorded` (manual, or no `host`), or
    `submitted` with the URL of a run of `training_package` (compiled training IR).
    `submit(host, package, params)` defaults to mlpipe/cluster/submit.py's."""
    from mlpipe.registry.access import open_registry

    decision = record["decision"]
    if not decision["retrain"]:
        return {"action": "none", "reasons": [], "run": None}
    if config.monitoring.retrain == "manual" or not host:
        why = "retrain: manual" if host else "no KFP host"
        log.warning("retraining is due (%s, recorded only): %s", why, decision["reasons"])
        return {"action": "recorded", "reasons": decision["reasons"], "run": None}
    from mlpipe.cluster.submit import cluster_arguments
    from mlpipe.cluster.submit import submit as kfp_submit

    registry = registry or open_registry(config.registry.uri, environ)
    data = upload_training_data(config, registry, environ, record["key"], workdir)
    params = cluster_arguments(config, {"train_data": data})
    name = f"retrain-{record['key']}"
    url = (submit or kfp_submit)(host, training_package, params, run_name=name, environ=environ)
    log.info("submitted a retraining run on %s: %s", data, url)
    return {"action": "submitted", "reasons": decision["reasons"], "run": url, "train_data": data}


def default_host(environ: Mapping[str, str] = os.environ) -> str:
    return environ.get("MLPIPE_KFP_HOST", IN_CLUSTER_KFP)
