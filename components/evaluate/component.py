"""KFP wrapper of the evaluate stage."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, ClassificationMetrics, Dataset, Input, Markdown, Metrics, Model, Output

from mlpipe.runtime.images import TF_IMAGE


@dsl.component(base_image=TF_IMAGE, install_kfp_package=False)
def evaluate(
    config: dict,
    model: Input[Model],
    examples: Input[Dataset],
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
        config: Dataset config mapping (the run parameter): slices, `evaluation` thresholds and fairness gates.
        model: The trained model (`saved_model/`, `model_metadata.json`).
        examples: Ingested examples; metrics are computed on `Split-eval`.
        use_baseline: Compare with the served (else latest blessed) model in the config's
            `registry.uri` (change thresholds) when one exists; its stored evaluation record is
            reused when its eval data and eval config fingerprints match, else TFMA re-evaluates it.
        evaluation: TFMA output directory, loadable with `tfma.load_eval_result`.
        blessing: `blessing.json`: `{blessed, reasons[], fairness_checks, baseline}`, and
            `evaluation_record.json` (per-slice metrics, eval data and config fingerprints), which
            push stores with the version so later runs need not re-evaluate it as their baseline.
        metrics: Overall metrics (AUC, AUC-PR, accuracy, precision, recall, calibration, count).
        classification_metrics: ROC curve and confusion matrix at 0.5 for the KFP UI.
        fairness_report: Static HTML: per-slice tables and charts, gates and the decision.
        model_card: Markdown model card.
    """
    import os

    from mlpipe.components.evaluate.baseline_record import (
        find_baseline_evaluation,
        fingerprints,
        write_record,
    )
    from mlpipe.components.evaluate.core import evaluate, write_reports
    from mlpipe.config.io import config_from_dict
    from mlpipe.evaluation.results import confusion_at, roc_curve
    from mlpipe.runtime.logs import setup_logging

    setup_logging()
    config = config_from_dict(config)
    prints = fingerprints(config, examples.path)
    baseline, baseline_dir, record = (
        find_baseline_evaluation(config, os.environ, prints) if use_baseline else (None, None, None)
    )
    result = evaluate(
        config, model.path, examples.path, evaluation.path, baseline, baseline_dir, record, prints
    )
    write_reports(
        config, result, os.path.join(blessing.path, "blessing.json"), fairness_report.path, model_card.path
    )
    write_record(result.record, blessing.path)  # push stores it with the version
    for key, value in result.overall_scalars().items():
        metrics.log_metric(key, value)
    fpr, tpr, thresholds = roc_curve(result.confusion)
    classification_metrics.log_roc_curve(fpr, tpr, thresholds)
    classification_metrics.log_confusion_matrix(["negative", "positive"], confusion_at(result.confusion))
    blessing.metadata["blessed"] = result.verdict["blessed"]
    blessing.metadata["summary"] = {
        **result.summary(),
        "artifacts": {
            "fairness_report": fairness_report.path,
            "model_card": model_card.path,
            "evaluation": evaluation.path,
        },
    }
