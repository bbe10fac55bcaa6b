"""Submit a compiled pipeline to a Kubeflow Pipelines endpoint (runs and recurring runs).

What is sent must run in a pod that has nothing of this machine:
the config travels as the `config` run parameter, and every location in it
must be an object-store URI (`check_for_cluster`), checked here before
anything is written or sent.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import yaml

from mlpipe.config.dataset import DatasetConfig
from mlpipe.config.io import check_for_cluster, config_from_dict, with_overrides
from mlpipe.errors import UserInputError

log = logging.getLogger(__name__)

TOKEN_ENV = "MLPIPE_KFP_TOKEN"  # bearer token (e.g. a ServiceAccount token or an OIDC id token)
COOKIE_ENV = "MLPIPE_KFP_COOKIE"  # session cookie of an authenticated Kubeflow (e.g. authservice_session=...)


def package_config(package: str | Path) -> dict:
    """The default of a compiled package's `config` parameter."""
    try:
        spec = next(yaml.safe_load_all(Path(package).read_text()))
        return spec["root"]["inputDefinitions"]["parameters"]["config"]["defaultValue"]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise UserInputError(f"{package}: not a compiled mlpipe pipeline ({exc})") from None


def cluster_arguments(config: DatasetConfig, params: dict[str, Any]) -> dict[str, Any]:
    """Run arguments for a cluster: the config (with the data overrides applied) checked, then sent."""
    effective = with_overrides(config, train=params.get("train_data", ""), eval=params.get("eval_data", ""))
    check_for_cluster(effective)
    for key in ("batch", "labels"):  # the monitoring pipeline's data
        value = params.get(key)
        if value and not str(value).startswith("s3://"):
            raise UserInputError(f"--param {key}={value}: a pod cannot read a local path; upload it (s3://)")
    return {**params, "config": config.run_input()}


def check_serving(config: DatasetConfig, api=None) -> None:
    """Before a run is sent: the config publishes where the deployed serving reads (the
    `serving-params` ConfigMap in `serving.namespace`, read with this machine's kubeconfig).
    Where the cluster's API cannot be reached from here, it says so; the push step checks the
    same before it publishes anything."""
    if config.serving.rollout_target == "none":
        return
    from kubernetes.config import ConfigException
    from urllib3.exceptions import HTTPError

    from mlpipe.serving.live import NamesUnreadable, check_names, read_serving_names

    try:
        names = read_serving_names(config.serving.namespace, api)
    except (ConfigException, HTTPError, OSError, NamesUnreadable) as exc:
        log.warning(
            "could not read the serving names in namespace %s from here (%s); the push step checks "
            "them before it publishes",
            config.serving.namespace,
            str(exc).splitlines()[0][:200],
        )
        return
    check_names(config.model_name, config.registry.uri, names)


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """`key=value` pairs; `true`/`false` become booleans (the pipeline's switches)."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UserInputError(f"--param expects key=value, got {pair!r}")
        if key == "config":
            raise UserInputError(f"--param {key}: pass the config file with --config instead")
        params[key] = {"true": True, "false": False}.get(value.lower(), value)
    return params


def client(host: str, namespace: str | None, environ=os.environ):
    import kfp

    return kfp.Client(
        host=host,
        namespace=namespace or "kubeflow",
        existing_token=environ.get(TOKEN_ENV) or None,
        cookies=environ.get(COOKIE_ENV) or None,
    )


def submit(
    host: str,
    package: str | Path,
    params: dict[str, Any],
    experiment: str = "mlpipe",
    run_name: str | None = None,
    namespace: str | None = None,
    recurring_cron: str | None = None,
    service_account: str | None = None,
    environ=os.environ,
    kube_api=None,
) -> str:
    """Start a run (or a recurring run) from a compiled package; returns the URL to open."""
    if "config" not in params:
        params = cluster_arguments(config_from_dict(package_config(package), f"{package}"), params)
    check_serving(config_from_dict(params["config"], "the run's config"), kube_api)
    kfp_client = client(host, namespace, environ)
    base = host.rstrip("/")
    if recurring_cron:
        experiment_id = kfp_client.create_experiment(name=experiment, namespace=namespace).experiment_id
        job = kfp_client.create_recurring_run(
            experiment_id=experiment_id,
            job_name=run_name or "mlpipe-training-recurring",
            cron_expression=recurring_cron,
            pipeline_package_path=str(package),
            params=params,
            service_account=service_account,
        )
        return f"{base}/#/recurringrun/details/{job.recurring_run_id}"
    result = kfp_client.create_run_from_pipeline_package(
        str(package),
        arguments=params,
        run_name=run_name,
        experiment_name=experiment,
        namespace=namespace,
        service_account=service_account,
    )
    return f"{base}/#/runs/details/{result.run_id}"
