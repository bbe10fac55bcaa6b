"""Compile the training pipeline to KFP IR and submit it to a Kubeflow Pipelines endpoint."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

TOKEN_ENV = "MLPIPE_KFP_TOKEN"  # bearer token (e.g. a ServiceAccount token or an OIDC id token)
COOKIE_ENV = "MLPIPE_KFP_COOKIE"  # session cookie of an authenticated Kubeflow (e.g. authservice_session=...)


def compile_pipeline(output: str | Path) -> Path:
    from kfp import compiler

    from pipelines.training import training_pipeline

    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(training_pipeline, str(output))
    return output


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """`key=value` pairs; `true`/`false` become booleans (the pipeline's switches)."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--param expects key=value, got {pair!r}")
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
) -> str:
    """Start a run (or a recurring run) from a compiled package; returns the URL to open."""
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
