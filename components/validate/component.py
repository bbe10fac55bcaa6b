"""KFP wrappers of the validate stage and of its gate.

Validate always succeeds, so KFP uploads its report even for a rejected batch
(the launcher uploads nothing of a failed step); the gate step after it stops
the run.
"""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Markdown, Metrics, Output

from mlpipe.runtime.images import PUSH_IMAGE, TF_IMAGE


@dsl.component(base_image=TF_IMAGE, install_kfp_package=False)
def validate(
    config: dict,
    statistics: Input[Artifact],
    schema: Input[Artifact],
    use_baseline: bool,
    anomalies: Output[Artifact],
    report: Output[Markdown],
    metrics: Output[Metrics],
):
    """Check the data against the schema and for drift; record the verdict for the gate.

    Args:
        config: Dataset config mapping (the run parameter): `validation` thresholds and action,
            `registry.uri` and `model_name` (to find the served model's training statistics).
        statistics: Statistics per split of this run.
        schema: The run's schema.
        use_baseline: Compare the eval split for drift with the training statistics of the
            model serving now (from the registry); without one, with this run's train split.
        anomalies: `Split-<name>/SchemaDiff.pb` Anomalies protos and `summary.json`
            (every anomaly, `blocking` features, the `verdict`).
        report: Markdown: every anomaly, and every feature's drift distance with its threshold.
        metrics: Counts of anomalies by kind, features compared and the largest drift.
    """
    import os

    from mlpipe.components.validate.core import validate_run, write_outputs
    from mlpipe.config.io import config_from_dict
    from mlpipe.runtime.logs import setup_logging

    setup_logging()
    dataset = config_from_dict(config)
    result = validate_run(dataset, statistics.path, schema.path, os.environ if use_baseline else None)
    verdict = result.verdict(dataset)
    write_outputs(result, anomalies.path, report.path, f"Data validation: {dataset.name}", verdict)
    for key, value in result.counts().items():
        metrics.log_metric(key, value)
    anomalies.metadata["passed"] = verdict["passed"]
    anomalies.metadata["summary"] = {**result.summary(), "artifacts": {"validation_report": report.path}}


@dsl.component(base_image=PUSH_IMAGE, install_kfp_package=False)
def validation_gate(anomalies: Input[Artifact]):
    """Stop the run when validate rejected the data, naming every offending feature.

    Args:
        anomalies: The validate stage's anomalies (its `summary.json` holds the verdict).
    """
    from mlpipe.components.validate.verdict import enforce
    from mlpipe.runtime.logs import setup_logging

    setup_logging()
    enforce(anomalies.path)


@dsl.component(base_image=TF_IMAGE, install_kfp_package=False)
def validate_batch(
    config: dict,
    statistics: Input[Artifact],
    schema: Input[Artifact],
    served_statistics: Input[Artifact],
    rows: Input[Dataset],
    batch: str,
    validation: Output[Artifact],
):
    """Check a monitored batch against the served model's schema and statistics.

    Args:
        config: Dataset config mapping (the run parameter): `validation` comparators.
        statistics: The batch's statistics (`Split-batch/`).
        schema: The served model's schema (the schema stage on its statistics).
        served_statistics: The served version's statistics from the registry (train, eval).
        rows: The batch file as ingested (data quality reads its values).
        batch: The batch's location, as errors name it.
        validation: `validation.json`: drift (vs the served eval statistics), skew (vs its
            training statistics), schema anomalies and data quality.
    """
    import json
    import os

    from mlpipe.components.validate.batch import validate_batch as run_validate_batch
    from mlpipe.config.io import config_from_dict
    from mlpipe.runtime.logs import setup_logging
    from mlpipe.storage.atomic import atomic_write_text

    setup_logging()
    result = run_validate_batch(
        config_from_dict(config), statistics.path, schema.path, served_statistics.path, rows.path, batch
    )
    os.makedirs(validation.path, exist_ok=True)
    atomic_write_text(os.path.join(validation.path, "validation.json"), json.dumps(result, indent=2))
    drift = max((d["value"] for d in result["drift"].values()), default=0)
    validation.metadata["figure"] = f"{len(result['anomalies'])} anomalies, max drift {drift:.3f}"
