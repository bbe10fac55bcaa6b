"""KFP wrappers of the monitor stage's steps: the served model, scores, performance, the decision."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Metrics, Model, Output

from mlpipe.runtime.images import TF_IMAGE


@dsl.component(base_image=TF_IMAGE, install_kfp_package=False)
def served_model(config: dict, model: Output[Model], statistics: Output[Artifact], served: Output[Artifact]):
    """The version the registry's serving pointer names, as artifacts for the monitoring DAG.

    Args:
        config: Dataset config mapping (the run parameter): `registry.uri`, `model_name`.
        model: The served SavedModel.
        statistics: Its statistics (`Split-train/`, `Split-eval/`), as pushed with it.
        served: `served.json`: its version and model card figures.
    """
    import os

    from mlpipe.components.monitor.core import SERVED_FILE, fetch_served
    from mlpipe.config.io import config_from_dict
    from mlpipe.runtime.logs import setup_logging

    setup_logging()
    served_file = os.path.join(served.path, SERVED_FILE)
    version = fetch_served(config_from_dict(config), os.environ, model.path, statistics.path, served_file)
    served.metadata.update({"version": version, "figure": f"version {version}"})


@dsl.component(base_image=TF_IMAGE, install_kfp_package=False)
def predict(
    config: dict,
    served: Input[Artifact],
    model: Input[Model],
    examples: Input[Dataset],
    reference: Input[Dataset],
    predictions: Output[Artifact],
):
    """Score the batch with the served model; prediction drift against its scores on eval data.

    Args:
        config: Dataset config mapping (the run parameter).
        served: The served version (`served.json`).
        model: The served SavedModel.
        examples: The batch's examples (`Split-batch/`).
        reference: The config's data as ingest wrote it (its `Split-eval/` is the reference).
        predictions: `predictions.json`: mean, histogram, bad fraction, drift.
    """
    import json
    import os

    from mlpipe.components.monitor.core import SERVED_FILE, predict_batch
    from mlpipe.config.io import config_from_dict
    from mlpipe.runtime.logs import setup_logging
    from mlpipe.storage.atomic import atomic_write_text

    setup_logging()
    result = predict_batch(
        config_from_dict(config),
        os.environ,
        os.path.join(served.path, SERVED_FILE),
        model.path,
        examples.path,
        reference.path,
    )
    atomic_write_text(os.path.join(predictions.path, "predictions.json"), json.dumps(result, indent=2))
    predictions.metadata["figure"] = f"mean score {result['mean'] or 0:.3f}, drift {result['drift'] or 0:.3f}"


@dsl.component(base_image=TF_IMAGE, install_kfp_package=False)
def performance(
    config: dict,
    served: Input[Artifact],
    model: Input[Model],
    rows: Input[Dataset],
    labels: str,
    performance: Output[Artifact],
):
    """Sliced performance and fairness gaps on every labelled row so far, against the card.

    Args:
        config: Dataset config mapping (the run parameter): `monitoring.id_column`,
            `monitoring.min_labelled_rows`, the slices and fairness gates.
        served: The served version (`served.json`).
        model: The served SavedModel.
        rows: The batch file as ingested.
        labels: Labels for this or earlier batches (a CSV of the id column and the label), or
            empty: then this step records no figures.
        performance: `performance.json` (`performance`, `labelled_rows`) and the labels file
            (`feedback.csv.gz`) the history keeps.
    """
    import json
    import os

    from mlpipe.components.monitor.core import PERFORMANCE_FILE, SERVED_FILE, batch_performance
    from mlpipe.config.io import config_from_dict
    from mlpipe.runtime.logs import setup_logging
    from mlpipe.storage.atomic import atomic_write_text

    setup_logging()
    dataset = config_from_dict(config)
    result = batch_performance(
        dataset,
        os.environ,
        os.path.join(served.path, SERVED_FILE),
        model.path,
        rows.path,
        labels or None,
        performance.path,
    )
    atomic_write_text(os.path.join(performance.path, PERFORMANCE_FILE), json.dumps(result, indent=2))
    if not labels:
        figure = "no labels"
    elif result["performance"]:
        figure = f"{result['labelled_rows']:,} labelled rows, AUC {result['performance']['auc'] or 0:.4f}"
    else:
        figure = f"{result['labelled_rows']} labelled rows (< {dataset.monitoring.min_labelled_rows}): no figures yet"
    performance.metadata["figure"] = figure


@dsl.component(base_image=TF_IMAGE, install_kfp_package=False)
def monitor(
    config: dict,
    batch: str,
    served: Input[Artifact],
    rows: Input[Dataset],
    validation: Input[Artifact],
    predictions: Input[Artifact],
    performance: Input[Artifact],
    record: Output[Artifact],
    dashboard: Output[HTML],
    metrics: Output[Metrics],
):
    """Decide on the batch's figures and append them to the served version's history.

    Args:
        config: Dataset config mapping (the run parameter): `monitoring` bounds and rule.
        batch: The batch's location (recorded with it).
        served: The served version (`served.json`).
        rows: The batch file as ingested (the history keeps it).
        validation: The validate step's `validation.json` (drift, skew, anomalies, quality).
        predictions: The predict step's `predictions.json`.
        performance: The performance step's `performance.json` and labels file.
        record: `record.json`: the batch's signals, crossed bounds and `decision`.
        dashboard: The monitoring dashboard of every batch so far (static HTML, inline SVG).
        metrics: The largest drift, prediction drift, AUC when labelled, and the decision.
    """
    import json
    import os

    from mlpipe.components.monitor.core import (
        FEEDBACK_FILE,
        PERFORMANCE_FILE,
        SERVED_FILE,
        decide_and_record,
        history_records,
    )
    from mlpipe.components.monitor.dashboard import render_dashboard
    from mlpipe.config.io import config_from_dict
    from mlpipe.runtime.logs import setup_logging
    from mlpipe.storage.atomic import atomic_write_text

    def read(artifact, name):
        with open(os.path.join(artifact.path, name)) as handle:
            return json.load(handle)

    setup_logging()
    dataset = config_from_dict(config)
    result = decide_and_record(
        dataset,
        os.environ,
        os.path.join(served.path, SERVED_FILE),
        batch,
        rows.path,
        read(validation, "validation.json"),
        read(predictions, "predictions.json"),
        read(performance, PERFORMANCE_FILE),
        os.path.join(performance.path, FEEDBACK_FILE),
    )
    atomic_write_text(os.path.join(record.path, "record.json"), json.dumps(result, indent=2))
    atomic_write_text(dashboard.path, render_dashboard(dataset, history_records(dataset, os.environ)))
    drift = [d["value"] for d in result["drift"].values()]
    metrics.log_metric("max_drift", max(drift, default=0.0))
    metrics.log_metric("prediction_drift", result["predictions"]["drift"] or 0.0)
    if result["performance"]:
        metrics.log_metric("auc", result["performance"]["auc"] or 0.0)
    metrics.log_metric("retrain", int(result["decision"]["retrain"]))
    decision = result["decision"]
    record.metadata.update(
        {
            "verdict": decision["verdict"],
            "reasons": decision["reasons"],
            "figure": f"verdict {decision['verdict']}",
            "summary": {
                "monitoring": {
                    "record": os.path.join(record.path, "record.json"),
                    "dashboard": dashboard.path,
                }
            },
        }
    )
