"""The figures production teams watch on a batch besides drift: data quality and the scores.

Data quality is read from the batch's values against the curated schema (what fraction is
missing, outside the numeric domain, or a category the schema does not know), scores from the
served model's `serving_default` signature on the batch's tf.Examples. Prediction drift is the
Jensen-Shannon divergence (base 2, as TFDV's) between score histograms on fixed buckets over
[0, 1], so two histograms always share their edges and no alignment is needed.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

from mlpipe.config.dataset import DatasetConfig

log = logging.getLogger(__name__)

SCORE_BUCKETS = 20
CHUNK = 4096


def _domains(schema) -> dict[str, tuple[str, object]]:
    """feature -> ("range", (min, max)) or ("values", set) from the schema's domains."""
    named = {d.name: set(d.value) for d in schema.string_domain}
    out: dict[str, tuple[str, object]] = {}
    for feature in schema.feature:
        if feature.HasField("float_domain"):
            d = feature.float_domain
            low = d.min if d.HasField("min") else -math.inf
            high = d.max if d.HasField("max") else math.inf
            out[feature.name] = ("range", (low, high))
        elif feature.HasField("string_domain"):
            out[feature.name] = ("values", set(feature.string_domain.value))
        elif feature.domain in named:
            out[feature.name] = ("values", named[feature.domain])
    return out


def data_quality(config: DatasetConfig, typed: pd.DataFrame, schema) -> dict[str, dict[str, float]]:
    """{missing, out_of_range, unseen}: feature -> fraction of the batch's rows. A feature the
    batch lacks is missing in every row; out_of_range and unseen count the present values."""
    domains = _domains(schema)
    rows = max(len(typed), 1)
    missing, out_of_range, unseen = {}, {}, {}
    for feature in config.feature_keys:
        if feature not in typed.columns:
            missing[feature] = 1.0
            continue
        values = typed[feature]
        present = values.dropna()
        missing[feature] = round(1 - len(present) / rows, 6)
        kind, domain = domains.get(feature, (None, None))
        if kind == "range" and len(present):
            low, high = domain
            number = present.astype(float)
            out_of_range[feature] = round(float(((number < low) | (number > high)).mean()), 6)
        elif kind == "values" and len(present):
            text = present.map(lambda v: v.decode("utf-8") if isinstance(v, bytes) else str(v))
            unseen[feature] = round(float((~text.isin(domain)).mean()), 6)
    return {"missing": missing, "out_of_range": out_of_range, "unseen": unseen}


def missing_in(statistics, features: list[str]) -> dict[str, float]:
    """Each feature's missing fraction in TFDV statistics (the served model's training data)."""
    dataset = statistics.datasets[0]
    out = {}
    for feature in dataset.features:
        name = ".".join(feature.path.step)
        if name in features:
            common = (
                feature.num_stats.common_stats
                if feature.HasField("num_stats")
                else feature.string_stats.common_stats
            )
            out[name] = round(common.num_missing / max(dataset.num_examples, 1), 6)
    return out


def score(saved_model: str, records: list[bytes]) -> np.ndarray:
    """The model's score per record; NaN for every record when the model cannot score the batch
    (a feature it needs is missing): those count as empty predictions."""
    import tensorflow as tf

    model = tf.saved_model.load(saved_model)
    signature = model.signatures["serving_default"]
    scores = []
    try:
        for start in range(0, len(records), CHUNK):
            outputs = signature(examples=tf.constant(records[start : start + CHUNK]))
            (values,) = outputs.values()
            scores.append(values.numpy().reshape(-1).astype(float))
    except (tf.errors.InvalidArgumentError, ValueError) as exc:
        log.warning("the model cannot score this batch: %s", str(exc).splitlines()[0])
        return np.full(len(records), np.nan)
    return np.concatenate(scores) if scores else np.array([])


def score_summary(scores: np.ndarray) -> dict:
    """Mean, histogram on fixed buckets over [0, 1], and the share of empty or non-finite scores."""
    finite = scores[np.isfinite(scores)]
    counts, _ = np.histogram(np.clip(finite, 0.0, 1.0), bins=SCORE_BUCKETS, range=(0.0, 1.0))
    return {
        "rows": int(len(scores)),
        "mean": float(finite.mean()) if len(finite) else None,
        "histogram": counts.astype(int).tolist(),
        "bad_fraction": round(1 - len(finite) / len(scores), 6) if len(scores) else 1.0,
    }


def jensen_shannon(counts_a: list[int], counts_b: list[int]) -> float | None:
    """Jensen-Shannon divergence (base 2, in [0, 1]) of two histograms on the same buckets."""
    a, b = np.asarray(counts_a, dtype=float), np.asarray(counts_b, dtype=float)
    if a.sum() == 0 or b.sum() == 0:
        return None
    p, q = a / a.sum(), b / b.sum()
    m = (p + q) / 2

    def kl(x):
        nz = x > 0
        return float(np.sum(x[nz] * np.log2(x[nz] / m[nz])))

    return round(min((kl(p) + kl(q)) / 2, 1.0), 6)
