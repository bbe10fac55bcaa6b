"""KFP wrapper of the evaluate stage."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, ClassificationMetrics, Dataset, Input, Markdown, Metrics, Model, Output

from components.images import TF_IMAGE


@dsl.component(base_image=TF_IMAGE, install_kfp_package=False)
def evaluate(
    config_path: str,
    model: Input[Model],
    examples: Input[Dataset],
    registry_uri: str,
    use_baseline: bool,
    evaluation: Output[Artifact],
    blessing: Output[Artifact],
    metrics: Output[Metrics],
    classification_metrics: Output[ClassificationMetrics],
    fairness_report: Output[HTML],
    model_card: Output[Markdown],
):
    """Sliced TFMA evaluation with Fairness Indicators; value, change and fairness gates -> blessing.

    Args:
        config_path: Dataset config YAML: slices, `evaluation` thresholds and fairness gates.
        model: The trained model (`saved_model/`, `model_metadata.json`).
        examples: Ingested examples; metrics are computed on `Split-eval`.
        registry_uri: Model registry (directory or s3://bucket/prefix); empty uses the config's.
            Its latest blessed version is the baseline for change thresholds.
        use_baseline: Compare with the registry's latest blessed model when one exists.
        evaluation: TFMA output directory, loadable with `tfma.load_eval_result`.
        blessing: `blessing.json`: `{blessed, reasons[], fairness_checks, baseline}`.
        metrics: Overall metrics (AUC, AUC-PR, accuracy, precision, recall, calibration, count).
        classification_metrics: ROC curve and confusion matrix at 0.5 for the KFP UI.
        fairness_report: Static HTML: per-slice tables and charts, gates and the decision.
        model_card: Markdown model card.
    """
    import json
    import os

    from components.atomic import atomic_write_text
    from components.config import load_config
    from components.evaluate.core import OVERALL, confusion_at, evaluate, roc_curve
    from components.evaluate.report import render_html, render_model_card
    from components.registry import fetch_to_temp, latest_blessed, open_registry
    from components.runtime import setup_logging

    setup_logging()
    config = load_config(config_path, check_data=False)
    baseline = baseline_dir = None
    if use_baseline:
        registry = open_registry(registry_uri or config.resolve(config.registry.uri), os.environ)
        baseline = latest_blessed(registry, config.model_name)
        if baseline:
            baseline_dir = fetch_to_temp(registry, config.model_name, baseline["version"])
    result = evaluate(config, model.path, examples.path, evaluation.path, baseline, baseline_dir)
    os.makedirs(blessing.path, exist_ok=True)
    atomic_write_text(os.path.join(blessing.path, "blessing.json"), json.dumps(result.verdict, indent=2))
    atomic_write_text(fairness_report.path, render_html(config, result.metrics, result.verdict))
    atomic_write_text(model_card.path, render_model_card(config, result.model_metadata, result.metrics, result.verdict))
    for key, value in result.metrics[OVERALL].items():
        if "@" not in key:
            metrics.log_metric(key, value)
    fpr, tpr, thresholds = roc_curve(result.confusion)
    classification_metrics.log_roc_curve(fpr, tpr, thresholds)
    classification_metrics.log_confusion_matrix(["negative", "positive"], confusion_at(result.confusion))
    blessing.metadata["blessed"] = result.verdict["blessed"]
    keep = ("example_count", "auc", "auc_pr", "binary_accuracy", "precision", "recall", "calibration",
            "false_positive_rate@0.5", "false_negative_rate@0.5")
    fairness = {}
    for check in result.verdict["fairness_checks"]:
        fairness.setdefault(check["feature"], {})[check["metric"]] = {
            k: check[k] for k in ("gap", "max_gap", "worst_slice", "best_slice", "passed")
        }
    blessing.metadata["summary"] = {
        "metrics": {name: {k: v for k, v in m.items() if k in keep} for name, m in result.metrics.items()},
        "fairness": fairness,
        "blessing": {k: result.verdict[k] for k in ("blessed", "reasons", "baseline")},
        "artifacts": {"fairness_report": fairness_report.path, "model_card": model_card.path,
                      "evaluation": evaluation.path},
    }
