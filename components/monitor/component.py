"""KFP wrapper of the monitor stage: one batch against the served model, the dashboard."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Metrics, Output

from mlpipe.runtime.images import TF_IMAGE


@dsl.component(base_image=TF_IMAGE, install_kfp_package=False)
def monitor(
    config: dict,
    batch: str,
    labels: str,
    record: Output[Artifact],
    dashboard: Output[HTML],
    metrics: Output[Metrics],
):
    """Monitor a batch of serving data; append its figures to the served version's history.

    Args:
        config: Dataset config mapping (the run parameter): `monitoring` bounds and rule,
            `registry.uri` and `model_name` (the served version, its statistics and history).
        batch: The batch: an s3:// CSV location, as ingest reads it.
        labels: Labels for this or earlier batches (s3:// CSV of the id column and the label),
            or empty.
        record: `record.json`: the batch's signals, crossed bounds and `decision`.
        dashboard: The monitoring dashboard of every batch so far (static HTML, inline SVG).
        metrics: The largest drift, prediction drift, AUC when labelled, and the decision.
    """
    import json
    import os

    from mlpipe.components.monitor.core import history_records, monitor_batch
    from mlpipe.components.monitor.dashboard import render_dashboard
    from mlpipe.config.io import config_from_dict
    from mlpipe.runtime.logs import setup_logging
    from mlpipe.storage.atomic import atomic_write_text

    setup_logging()
    dataset = config_from_dict(config)
    result = monitor_batch(dataset, batch, os.environ, labels=labels or None)
    os.makedirs(record.path, exist_ok=True)
    atomic_write_text(os.path.join(record.path, "record.json"), json.dumps(result, indent=2))
    atomic_write_text(dashboard.path, render_dashboard(dataset, history_records(dataset, os.environ)))
    drift = [d["value"] for d in result["drift"].values()]
    metrics.log_metric("max_drift", max(drift, default=0.0))
    metrics.log_metric("prediction_drift", result["predictions"]["drift"] or 0.0)
    if result["performance"]:
        metrics.log_metric("auc", result["performance"]["auc"] or 0.0)
    metrics.log_metric("retrain", int(result["decision"]["retrain"]))
    record.metadata.update(
        {"verdict": result["decision"]["verdict"], "reasons": result["decision"]["reasons"]}
    )
