"""Evaluate: TFMA sliced metrics and Fairness Indicators, thresholds, and the blessing.

TFMA computes every metric, slice and threshold check; this module builds the
EvalConfig from the dataset config, runs TFMA, and reads its results into plain
dictionaries that the gates, the KFP metrics and the report use.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

from mlpipe.config.dataset import DatasetConfig
from mlpipe.evaluation.results import (
    OVERALL,
    SliceKey,
    class_counts,
    confusion_points,
    failure_order,
    json_safe,
    one_class_slices,
    slice_keys,
    sliced_metrics,
    tfma_validation,
    without_undefined,
)
from mlpipe.evaluation.tfma_run import run_tfma

log = logging.getLogger(__name__)

SUMMARY_METRICS = (
    "example_count",
    "auc",
    "auc_pr",
    "binary_accuracy",
    "precision",
    "recall",
    "calibration",
    "false_positive_rate@0.5",
    "false_negative_rate@0.5",
)


@dataclasses.dataclass
class Evaluation:
    metrics: dict[str, dict[str, float]]
    verdict: dict
    confusion: list[dict[str, float]]
    model_metadata: dict
    slices: dict[str, SliceKey] | None = None  # each slice name's (column, value) pairs
    record: dict | None = None  # what push stores with the version (`baseline_record.make_record`)

    def overall_scalars(self) -> dict[str, float]:
        """Threshold-free overall metrics, for the KFP Metrics artifact."""
        return {k: v for k, v in json_safe(self.metrics[OVERALL]).items() if "@" not in k and v is not None}

    def summary(self) -> dict:
        """What summary.json gains: per-slice metrics, fairness gaps per feature, the blessing."""
        fairness: dict[str, dict] = {}
        for check in self.verdict["fairness_checks"]:
            fairness.setdefault(check["feature"], {})[check["metric"]] = {
                k: check.get(k)
                for k in (
                    "gap",
                    "max_gap",
                    "min_slice",
                    "max_slice",
                    "passed",
                    "problem",
                    "excluded",
                    "not_judged",
                )
            }
        return json_safe(
            {
                "metrics": {
                    name: {k: v for k, v in m.items() if k in SUMMARY_METRICS}
                    for name, m in self.metrics.items()
                },
                "fairness": fairness,
                "blessing": {k: self.verdict.get(k) for k in ("blessed", "reasons", "undefined", "baseline")},
            }
        )


def baseline_metadata(registry, model: str) -> dict | None:
    """The version serving points at (`baseline_source: served`), else, when nothing serves, the
    newest blessed version (`latest blessed`); None for a first model."""
    from mlpipe.registry.access import latest_blessed

    served = registry.serving_version(model)
    if served is not None and served in registry.versions(model):
        return {**registry.metadata(model, served), "baseline_source": "served"}
    if served is not None:
        log.warning("the serving pointer names %s version %s, which is not published", model, served)
    blessed = latest_blessed(registry, model)
    return {**blessed, "baseline_source": "latest blessed"} if blessed else None


def chosen_baseline(registry, config: DatasetConfig) -> dict | None:
    """`baseline_metadata` of the config's model, saying which (or that there is none)."""
    baseline = baseline_metadata(registry, config.model_name)
    if baseline is None:
        log.warning(
            "no served or blessed %s in the registry %s: judging on absolute thresholds only",
            config.model_name,
            config.registry.uri,
        )
        return None
    log.info(
        "baseline: %s version %s (%s)", config.model_name, baseline["version"], baseline["baseline_source"]
    )
    return baseline


def find_baseline(config: DatasetConfig, environ) -> tuple[dict | None, Path | None]:
    """The baseline version (`baseline_metadata`) and a local copy, or (None, None) for a first model."""
    from mlpipe.registry.access import open_registry

    registry = open_registry(config.registry.uri, environ)
    baseline = chosen_baseline(registry, config)
    if baseline is None:
        return None, None
    return baseline, registry.local_copy(config.model_name, baseline["version"])


def write_reports(
    config: DatasetConfig,
    result: Evaluation,
    blessing_file: str | Path,
    html_path: str | Path,
    card_path: str | Path,
) -> None:
    from mlpipe.components.evaluate.report import render_html, render_model_card
    from mlpipe.storage.atomic import atomic_write_text

    atomic_write_text(blessing_file, json.dumps(result.verdict, indent=2))
    atomic_write_text(html_path, render_html(config, result.metrics, result.verdict, result.slices))
    atomic_write_text(
        card_path, render_model_card(config, result.model_metadata, result.metrics, result.verdict)
    )


def evaluate(
    config: DatasetConfig,
    model_dir: str | Path,
    examples_dir: str | Path,
    output_dir: str | Path,
    baseline: dict | None = None,
    baseline_dir: str | Path | None = None,
    baseline_record: dict | None = None,
    prints: dict[str, str] | None = None,
) -> Evaluation:
    """TFMA over the eval split (vs the baseline when given), then the gates; writes `output_dir` atomically.

    With `baseline_record` (the baseline's stored evaluation, whose fingerprints match `prints`:
    `baseline_record.find_baseline_evaluation`) TFMA evaluates the candidate alone and the change
    threshold is judged on the stored metrics; else with `baseline_dir` TFMA evaluates both models.
    `prints` (the eval data and config fingerprints) are computed when not given.
    """
    from mlpipe.components.evaluate import baseline_record as records
    from mlpipe.evaluation.gates import blessing, fairness_checks
    from mlpipe.runtime.logs import progress
    from mlpipe.storage.atomic import atomic_dir

    reuse = baseline is not None and baseline_record is not None
    model_dir = Path(model_dir)
    progress("phase", 0, 2, "TFMA: sliced metrics and fairness indicators")
    metadata_path = model_dir / "model_metadata.json"
    model_metadata = json.loads(metadata_path.read_text()) if metadata_path.is_file() else {}
    with atomic_dir(output_dir) as out:
        result = run_tfma(
            config,
            str(model_dir / "saved_model"),
            examples_dir,
            out,
            str(baseline_dir) if baseline_dir and not reuse else None,
        )
        ok, failures = tfma_validation(out)
    progress("phase", 1, 2, "gates")
    one_class = one_class_slices(class_counts(result))
    metrics, keys = without_undefined(sliced_metrics(result), one_class), slice_keys(result)
    if one_class:
        log.info("slices of one class (AUC and some rates undefined there): %s", one_class)
    if reuse:
        stored = baseline_record["metrics"]
        changes = records.change_failures(config, metrics, stored)
        ok, failures = ok and not changes, sorted(failures + changes, key=failure_order)
        metrics = records.with_diffs(metrics, stored)
    verdict = blessing(
        ok,
        failures,
        fairness_checks(config, metrics, keys, one_class),
        metrics,
        {
            **{k: baseline.get(k) for k in ("version", "uri", "baseline_source")},
            "metrics": "stored" if reuse else "evaluated",
        }
        if baseline
        else None,
        min_slice_size=config.evaluation.min_slice_size,
        one_class=one_class,
    )
    log.info("blessed=%s reasons=%s", verdict["blessed"], verdict["reasons"])
    record = records.make_record(metrics, prints or records.fingerprints(config, examples_dir))
    progress("phase", 2, 2, "done")
    return Evaluation(metrics, verdict, confusion_points(result), model_metadata, keys, record)
