"""Push: publish a blessed model to the registry, then roll it out to serving.

Nothing is published unless both the evaluation and the infra validation
blessed the model; an unblessed model is skipped with its reasons, not failed,
as TFX's Pusher does (kfp.local has no dsl.If). No TensorFlow import here:
this stage runs in the slim push image.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from pathlib import Path

from mlpipe.components.push.preflight import preflight
from mlpipe.config.dataset import DatasetConfig
from mlpipe.data.artifacts import EVALUATION_ATTACHMENT as ATTACHMENT
from mlpipe.data.artifacts import EVALUATION_RECORD_FILE as RECORD_FILE
from mlpipe.registry.layout import now
from mlpipe.serving.names import ServingNames
from mlpipe.serving.rollout import roll_out

log = logging.getLogger(__name__)


def push_decision(blessing: dict, infra: dict) -> list[str]:
    """Why not to push (empty: push)."""
    reasons = []
    if not blessing.get("blessed"):
        reasons += [f"model not blessed: {r}" for r in blessing.get("reasons", [])] or ["model not blessed"]
    if not infra.get("blessed"):
        reasons += [f"infra validation failed: {r}" for r in infra.get("reasons", [])] or [
            "infra validation failed"
        ]
    return reasons


def published_version(registry, model: str, identity: str | None, run_id: str) -> int | None:
    """The version already published for this model (same training fingerprint) or by this run
    (a retried push), so a retry or a rerun never publishes a second copy."""
    for version in reversed(registry.versions(model)):
        meta = registry.metadata(model, version)
        if (identity and meta.get("training_fingerprint") == identity) or (
            run_id and meta.get("run_id") == run_id
        ):
            return version
    return None


def push(
    config: DatasetConfig,
    model_dir: str | Path,
    blessing: dict,
    infra: dict,
    registry,
    target: str,
    names: ServingNames,
    run_id: str = "",
    api=None,
    statistics_dir: str | Path | None = None,
    evaluation_record: str | Path | None = None,
) -> dict:
    """`{pushed, version, uri, reasons, serving, seconds}`.

    `statistics_dir` (the run's statistics) is published with the version, so later runs
    and batches measure drift against the data the served model was trained on;
    `evaluation_record` (evaluate's `evaluation_record.json`) too, so a later run whose
    eval data and eval config are the same reuses its metrics instead of re-evaluating it.
    """
    reasons = push_decision(blessing, infra)
    if reasons:
        log.warning("not pushing: %s", "; ".join(reasons))
        return {"pushed": False, "version": None, "uri": None, "reasons": reasons}
    # before anything is uploaded: serving can read what we publish, and we may patch it
    preflight(target, names, config.model_name, registry, config.serving.canary_traffic_percent, api=api)
    model_dir = Path(model_dir)
    model_metadata = json.loads((model_dir / "model_metadata.json").read_text())
    identity = model_metadata.get("training_fingerprint")
    existing = published_version(registry, config.model_name, identity, run_id)
    metadata = {
        "model_name": config.model_name,
        "training_fingerprint": identity,
        "blessed": True,
        "pushed_at": now(),
        "run_id": run_id,
        "data_fingerprint": model_metadata.get("data_fingerprint"),
        "hyperparameters": model_metadata.get("hyperparameters"),
        "training_metrics": model_metadata.get("metrics"),
        "overall_auc": blessing.get("overall_auc"),
        "fairness_checks": blessing.get("fairness_checks"),
        "baseline_version": (blessing.get("baseline") or {}).get("version"),
        "infra_latency": infra.get("latency"),
    }
    start = time.perf_counter()
    if existing is not None:
        version = existing
        log.info("%s is already published as version %d: rolling that out", config.model_name, version)
    else:
        with tempfile.TemporaryDirectory() as scratch:
            attachments = {"statistics": Path(statistics_dir)} if statistics_dir else {}
            if evaluation_record is not None:
                attachments[ATTACHMENT] = Path(scratch) / ATTACHMENT
                attachments[ATTACHMENT].mkdir()
                shutil.copyfile(evaluation_record, attachments[ATTACHMENT] / RECORD_FILE)
            version = registry.publish(config.model_name, model_dir / "saved_model", metadata, attachments)
    uri = registry.uri(config.model_name, version)
    upload_seconds = time.perf_counter() - start
    if existing is None:
        log.info("published %s version %d at %s in %.2f s", config.model_name, version, uri, upload_seconds)
    serving = roll_out(
        target,
        names,
        version,
        uri,
        config.serving.canary_traffic_percent,
        api=api,
        wait=config.serving.rollout_timeout_seconds,
    )
    # only once serving took it (a failed rollout raises; its retry reuses this version); a shadow
    # serves nobody: the pointer moves at `mlpipe promote`
    if target != "shadow":
        registry.set_serving(config.model_name, version)
    return {
        "pushed": True,
        "version": version,
        "uri": uri,
        "reasons": [],
        "reused": existing is not None,
        "serving": serving,
        "upload_seconds": round(upload_seconds, 3),
    }
