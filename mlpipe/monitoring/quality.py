"""Data quality of a batch against the schema: what fraction of its rows is missing, outside the
numeric domain, or a category the schema does not know; and each feature's missing fraction in
the served model's training statistics, to compare with.
"""

from __future__ import annotations

import math

import pandas as pd

from mlpipe.config.dataset import DatasetConfig


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
