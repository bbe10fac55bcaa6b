"""The TFMA run that evaluate and monitoring share: the EvalConfig built from the dataset config
(metrics, slices, value and change thresholds, Fairness Indicators) and one run over an eval split.
"""

from __future__ import annotations

from pathlib import Path

from mlpipe.config.dataset import DatasetConfig
from mlpipe.data.tfrecord import split_files
from mlpipe.evaluation.results import CANDIDATE
from mlpipe.runtime.beam import beam_options, is_small

BASELINE = "baseline"
FAIRNESS_MODULE = "fairness_indicators.fairness_indicators_metrics"


def auc_change_threshold(config: DatasetConfig):
    """The AUC change threshold vs the baseline: fail when candidate - baseline < -max_auc_drop."""
    import tensorflow_model_analysis as tfma

    return tfma.GenericChangeThreshold(
        direction=tfma.MetricDirection.HIGHER_IS_BETTER, absolute={"value": -config.evaluation.max_auc_drop}
    )


def eval_config(config: DatasetConfig, with_baseline: bool):
    """The TFMA EvalConfig: metrics, slices, value thresholds and change thresholds vs the baseline."""
    import tensorflow_model_analysis as tfma

    settings = config.evaluation
    model_specs = [
        tfma.ModelSpec(name=CANDIDATE, signature_name="serving_default", label_key=config.label_key)
    ]
    if with_baseline:
        model_specs.append(
            tfma.ModelSpec(
                name=BASELINE, signature_name="serving_default", label_key=config.label_key, is_baseline=True
            )
        )
    auc_threshold = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": settings.min_auc}),
        change_threshold=auc_change_threshold(config) if with_baseline else None,
    )
    accuracy_threshold = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": settings.min_binary_accuracy})
    )
    thresholds = [round(t, 4) for t in settings.fairness_thresholds]
    metrics = [
        tfma.MetricConfig(class_name="ExampleCount"),
        tfma.MetricConfig(class_name="AUC", threshold=auc_threshold),
        tfma.MetricConfig(class_name="AUCPrecisionRecall", config='{"name": "auc_pr"}'),
        tfma.MetricConfig(class_name="BinaryAccuracy", threshold=accuracy_threshold),
        tfma.MetricConfig(class_name="Precision"),
        tfma.MetricConfig(class_name="Recall"),
        # Each metric family costs a Python pass per example and slice in TFMA's evaluator
        # (the stage's main cost), so only what the report and gates use: Calibration, not
        # CalibrationPlot/MeanLabel/MeanPrediction.
        tfma.MetricConfig(class_name="Calibration"),
        tfma.MetricConfig(class_name="ConfusionMatrixPlot", config='{"num_thresholds": 100}'),
        tfma.MetricConfig(
            class_name="FairnessIndicators", module=FAIRNESS_MODULE, config=f'{{"thresholds": {thresholds}}}'
        ),
    ]
    slicing = [tfma.SlicingSpec()]
    slicing += [tfma.SlicingSpec(feature_keys=[f]) for f in config.slicing.features]
    slicing += [tfma.SlicingSpec(feature_keys=list(cross)) for cross in config.slicing.crosses]
    return tfma.EvalConfig(
        model_specs=model_specs, metrics_specs=[tfma.MetricsSpec(metrics=metrics)], slicing_specs=slicing
    )


def run_tfma(
    config: DatasetConfig,
    model_dir: str,
    examples_dir: str | Path,
    output_dir: str | Path,
    baseline_dir: str | None,
):
    """Run TFMA over the eval split; returns the EvalResult (also written to `output_dir`)."""
    import tensorflow_model_analysis as tfma

    cfg = eval_config(config, with_baseline=baseline_dir is not None)
    models = [
        tfma.default_eval_shared_model(eval_saved_model_path=model_dir, eval_config=cfg, model_name=CANDIDATE)
    ]
    if baseline_dir is not None:
        models.append(
            tfma.default_eval_shared_model(
                eval_saved_model_path=baseline_dir, eval_config=cfg, model_name=BASELINE
            )
        )
    data = str(Path(examples_dir) / "Split-eval" / "*.tfrecord.gz")
    small = is_small(split_files(examples_dir, "eval"), config.beam)
    tfma.run_model_analysis(
        eval_shared_model=models if len(models) > 1 else models[0],
        eval_config=cfg,
        data_location=data,
        file_format="tfrecords",
        output_path=str(output_dir),
        pipeline_options=beam_options(config, small=small),
    )
    # With a baseline TFMA returns results per model; the candidate's carry the diffs.
    return tfma.load_eval_result(str(output_dir), model_name=CANDIDATE if baseline_dir else None)
