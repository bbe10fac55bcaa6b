"""The served model's scores on a batch, from its `serving_default` signature on the batch's
tf.Examples (data quality, the other figure besides drift, is mlpipe/monitoring/quality.py).
Prediction drift is the Jensen-Shannon divergence (base 2, as TFDV's) between score histograms on fixed buckets over
[0, 1], so two histograms always share their edges and no alignment is needed.
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

SCORE_BUCKETS = 20
CHUNK = 4096


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
