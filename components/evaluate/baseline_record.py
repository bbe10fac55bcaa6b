"""The evaluation record a pushed version carries, and reusing it instead of re-evaluating the baseline.

A pushed version carries its own evaluation (registry attachment `evaluation/`, file
`evaluation_record.json`): its per-slice metrics exactly as TFMA computed them, with the
fingerprints of the eval data and of the eval config they were computed under. When a later
run's baseline has a record whose two fingerprints equal the run's own, TFMA runs on the
candidate alone and the AUC change threshold is judged on the stored baseline metrics with
TFMA's semantics (GenericChangeThreshold, absolute, HIGHER_IS_BETTER: fail when
candidate - baseline < -max_auc_drop), giving the failure entries TFMA's validation gives;
otherwise both models go through TFMA as before, and one log line says why.

Eval data fingerprint: sha256 over the tf.Examples of the ingested `Split-eval` (what TFMA
reads), each in its deterministic serialization, independent of their order, of sharding and
of the gzip headers (which carry a time). Ingest's own fingerprint hashes every input file, the train file included, so
new training data alone would needlessly invalidate a baseline whose eval data is unchanged.

Eval config fingerprint: TFMA's EvalConfig for the candidate with every threshold removed
(label, signature, slicing specs, metric classes and their configs, Fairness Indicators'
thresholds) plus the TFMA and TensorFlow versions: what changes a metric's value, not the
gates (min_auc, max_auc_drop, fairness gaps) that judge it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from mlpipe.config.dataset import DatasetConfig
from mlpipe.data.artifacts import EVALUATION_ATTACHMENT as ATTACHMENT
from mlpipe.data.artifacts import EVALUATION_RECORD_FILE as RECORD_FILE
from mlpipe.data.tfrecord import read_records, split_files
from mlpipe.evaluation.results import CANDIDATE

log = logging.getLogger(__name__)

FORMAT = 1
DIFF = "_diff"  # TFMA's suffix of a candidate-minus-baseline metric


def eval_data_fingerprint(examples_dir: str | Path) -> str:
    """sha256 of the eval split's tf.Examples as a multiset: the sum of their digests mod 2**256,
    each over its deterministic serialization (features sorted by name: the encoder's byte order
    follows the columns' order in the batch, which varies between ingests of the same file)."""
    from tensorflow.core.example import example_pb2

    total, count = 0, 0
    example = example_pb2.Example()
    for path in split_files(examples_dir, "eval"):
        for record in read_records(path):
            example.ParseFromString(record)
            digest = hashlib.sha256(example.SerializeToString(deterministic=True)).digest()
            total = (total + int.from_bytes(digest, "big")) % 2**256
            count += 1
    return hashlib.sha256(f"{count}:{total:064x}".encode()).hexdigest()


def eval_config_fingerprint(config: DatasetConfig) -> str:
    """sha256 of the threshold-free candidate EvalConfig and the TFMA and TensorFlow versions."""
    import tensorflow as tf
    import tensorflow_model_analysis as tfma
    from google.protobuf import json_format

    from mlpipe.evaluation.tfma_run import eval_config

    cfg = eval_config(config, with_baseline=False)
    for spec in cfg.metrics_specs:
        for metric in spec.metrics:
            metric.ClearField("threshold")
        for field in ("thresholds", "per_slice_thresholds", "cross_slice_thresholds"):
            spec.ClearField(field)
    document = {
        "eval_config": json_format.MessageToDict(cfg),
        "tfma": tfma.__version__,
        "tensorflow": tf.__version__,
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def fingerprints(config: DatasetConfig, examples_dir: str | Path) -> dict[str, str]:
    return {
        "eval_data_fingerprint": eval_data_fingerprint(examples_dir),
        "eval_config_fingerprint": eval_config_fingerprint(config),
    }


def own_metrics(metrics: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """The model's own metrics: TFMA's `<m>_diff` entries (vs a baseline) left out."""
    return {
        name: {k: v for k, v in m.items() if not (k.endswith(DIFF) and k.removesuffix(DIFF) in m)}
        for name, m in metrics.items()
    }


def make_record(metrics: dict[str, dict[str, float]], prints: dict[str, str]) -> dict:
    """What a pushed version stores: its own per-slice metrics and the two fingerprints."""
    return {"format": FORMAT, **prints, "metrics": own_metrics(metrics)}


def write_record(record: dict, folder: str | Path) -> Path:
    from mlpipe.storage.atomic import atomic_write_text

    path = Path(folder) / RECORD_FILE
    atomic_write_text(path, json.dumps(record, indent=2))  # NaN stays NaN (Python's JSON reads it)
    return path


def read_record(folder: str | Path) -> tuple[dict | None, str]:
    """(record, "") or (None, why it cannot be used)."""
    path = Path(folder) / RECORD_FILE
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        return None, f"it has no {RECORD_FILE}"
    except (OSError, ValueError) as error:
        return None, f"its evaluation record {path} cannot be read ({error})"
    if not (
        isinstance(record, dict)
        and record.get("format") == FORMAT
        and isinstance(record.get("metrics"), dict)
    ):
        return None, f"its evaluation record {path} is not format {FORMAT}"
    return record, ""


def stored_record(registry, model: str, version: int) -> tuple[dict | None, str]:
    """The record published with `version`, or (None, why there is none to use)."""
    folder = registry.attachment(model, version, ATTACHMENT)
    if folder is None:
        return None, "it has no stored evaluation record"
    return read_record(folder)


def mismatch(record: dict, prints: dict[str, str]) -> str | None:
    """Why the record's metrics do not apply to this evaluation (None: they do)."""
    why = []
    if record.get("eval_data_fingerprint") != prints["eval_data_fingerprint"]:
        why.append("the eval data differs from the data its stored metrics were computed on")
    if record.get("eval_config_fingerprint") != prints["eval_config_fingerprint"]:
        why.append("the eval config (label, slices, metrics, TFMA or TensorFlow version) changed")
    return "; ".join(why) or None


def find_baseline_evaluation(
    config: DatasetConfig, environ, prints: dict[str, str]
) -> tuple[dict | None, Path | None, dict | None]:
    """(baseline metadata, local copy, record): the record when it applies (no copy is fetched),
    else a local copy for TFMA; (None, None, None) for a first model."""
    from mlpipe.components.evaluate.core import chosen_baseline
    from mlpipe.registry.access import open_registry

    registry = open_registry(config.registry.uri, environ)
    baseline = chosen_baseline(registry, config)
    if baseline is None:
        return None, None, None
    record, why = stored_record(registry, config.model_name, baseline["version"])
    if record is not None:
        why = mismatch(record, prints)
    if why is None:
        log.info(
            "reusing the stored metrics of baseline version %s: same eval data and eval config",
            baseline["version"],
        )
        return baseline, None, record
    log.info("re-evaluating baseline version %s with TFMA: %s", baseline["version"], why)
    return baseline, registry.local_copy(config.model_name, baseline["version"]), None


def with_diffs(
    candidate: dict[str, dict[str, float]], baseline: dict[str, dict[str, float]]
) -> dict[str, dict[str, float]]:
    """The candidate's metrics plus `<m>_diff` = candidate - baseline per slice, as TFMA adds them
    when it evaluates both models."""
    out = {}
    for name, metrics in candidate.items():
        base = baseline.get(name, {})
        # a metric undefined on either side (None: a slice of one class) has an undefined diff,
        # as TFMA's own diff reads once `results.without_undefined` has cleared it
        diffs = {
            f"{k}{DIFF}": v - base[k] if _number(v) and _number(base[k]) else None
            for k, v in metrics.items()
            if k in base and (_number(v) or v is None) and (_number(base[k]) or base[k] is None)
        }
        out[name] = {**metrics, **diffs}
    return out


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def change_failures(
    config: DatasetConfig, candidate: dict[str, dict[str, float]], baseline: dict[str, dict[str, float]]
) -> list[dict]:
    """TFMA's AUC change-threshold failures, judged on every slice from stored baseline metrics:
    the entries `results.tfma_validation` reads from TFMA's validation result."""
    import tensorflow_model_analysis as tfma

    from mlpipe.evaluation.results import bound_text
    from mlpipe.evaluation.tfma_run import auc_change_threshold

    threshold = auc_change_threshold(config)
    bound = bound_text(tfma.MetricThreshold(change_threshold=threshold))
    failures = []
    for name, metrics in candidate.items():
        entry = {"metric": "auc", "model": CANDIDATE, "change": True, "slice": name}
        value, base = metrics.get("auc"), baseline.get(name, {}).get("auc")
        if value is None or base is None:
            failures.append({**entry, "value": None, "bound": bound, "message": "Metric not found."})
            continue
        diff = value - base
        if not diff >= threshold.absolute.value:  # NaN fails, as in TFMA
            failures.append({**entry, "value": diff, "bound": bound, "message": ""})
    return failures
