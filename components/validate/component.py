"""KFP wrapper of the validate stage."""

from kfp import dsl
from kfp.dsl import Artifact, Input, Markdown, Metrics, Output

from components.images import TF_IMAGE


@dsl.component(base_image=TF_IMAGE, install_kfp_package=False)
def validate(
    config_path: str,
    statistics: Input[Artifact],
    schema: Input[Artifact],
    baseline_statistics: str,
    anomalies: Output[Artifact],
    report: Output[Markdown],
    metrics: Output[Metrics],
):
    """Check the data against the schema and for drift; fail the run on blocking anomalies.

    Args:
        config_path: Dataset config YAML (drift thresholds, drift action, gate switch).
        statistics: Statistics per split of this run.
        schema: The run's schema.
        baseline_statistics: A previous run's statistics directory to compare the eval split
            with for drift; empty compares eval with this run's train split.
        anomalies: `Split-<name>/SchemaDiff.pb` Anomalies protos and `summary.json`.
        report: Markdown: every anomaly, and every feature's drift distance with its threshold.
        metrics: Counts of anomalies by kind, features compared and the largest drift.
    """

    from components.artifacts import load_schema, load_statistics
    from components.config import load_config
    from components.examples import splits_of
    from components.runtime import setup_logging
    from components.validate.core import gate, validate_statistics, write_outputs

    setup_logging()
    config = load_config(config_path, check_data=False)
    current = {split: load_statistics(statistics.path, split) for split in splits_of(statistics.path)}
    baseline = load_statistics(baseline_statistics or statistics.path, "train")
    result = validate_statistics(
        config,
        load_schema(schema.path),
        current,
        target="eval",
        drift_baseline=baseline,
    )
    write_outputs(result, anomalies.path, report.path, title=f"Data validation: {config.name}")
    for key, value in result.counts().items():
        metrics.log_metric(key, value)
    anomalies.metadata["summary"] = {**result.summary(), "artifacts": {"validation_report": report.path}}
    gate(result, config)
