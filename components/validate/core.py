"""Validate: schema anomalies, drift and training/serving skew, with a report and a gate.

TFDV computes every number here. Drift uses Jensen-Shannon divergence on
numeric features (TFDV's L-infinity reads 0 on them) and L-infinity on
categorical ones. TFDV lists the distance of every compared feature in
`drift_skew_info`, also below the threshold, so the report shows them all:
users cannot tune thresholds they cannot see.

The divergence is taken on TFDV's QUANTILES histograms, not its default STANDARD
(equi-width) ones: an equi-width histogram spans the sample's own min..max, so on a
zero-inflated feature (Adult's capital_loss, counts that are mostly 0) the tail's rare
maximum moves every bucket edge from sample to sample, and TFDV's alignment, which
spreads each bucket's mass evenly over its width, smears the zero mass over the other
sample's buckets: random samples of one file read up to 0.23 (Adult, 2,000 rows) and
0.32 (synthetic counts). Quantile buckets collapse onto the zero mass as a point bucket,
which TFDV compares as a point mass: the same samples read 0.04 at most, and a real
shift reads as much or more (`tests/unit/test_drift_noise.py`).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
from collections.abc import Mapping
from pathlib import Path

from mlpipe.components.validate import domains
from mlpipe.components.validate.verdict import VERDICT_FILE
from mlpipe.config.dataset import DatasetConfig
from mlpipe.data.artifacts import SERVING, TRAINING
from mlpipe.storage.atomic import atomic_dir

log = logging.getLogger(__name__)

ANOMALIES_FILE = "SchemaDiff.pb"
SERVING_SPLIT = "serving"  # ingest's split of `data.serving`: checked for training/serving skew


@dataclasses.dataclass(frozen=True)
class Anomaly:
    feature: str
    kind: str
    description: str
    split: str
    blocking: bool = True


@dataclasses.dataclass(frozen=True)
class Distance:
    feature: str
    comparison: str  # drift | skew
    measure: str
    value: float
    threshold: float

    @property
    def exceeded(self) -> bool:
        return self.value > self.threshold


@dataclasses.dataclass
class ValidationResult:
    anomalies: list[Anomaly]
    distances: list[Distance]
    protos: dict[str, object]  # split -> tensorflow_metadata Anomalies
    drift_baseline: str = ""

    def verdict(self, config: DatasetConfig) -> dict:
        """What the gate step enforces: `passed`, the offending features and why."""
        blocking = self.blocking if config.validation.fail_on_anomalies else []
        return {
            "passed": not blocking,
            "features": sorted({a.feature for a in blocking}),
            "reasons": [f"{a.feature} [{a.split}] {a.kind}: {a.description}" for a in blocking],
            "warnings": [f"{a.feature} [{a.split}] {a.kind}" for a in self.anomalies if not a.blocking],
        }

    @property
    def blocking(self) -> list[Anomaly]:
        return [a for a in self.anomalies if a.blocking]

    def counts(self) -> dict[str, float]:
        drift = [d.value for d in self.distances if d.comparison == "drift"]
        return {
            "anomalies": len(self.anomalies),
            "blocking_anomalies": len(self.blocking),
            "schema_anomalies": sum(not a.kind.startswith("COMPARATOR_") for a in self.anomalies),
            "drift_anomalies": sum(
                a.kind.startswith("COMPARATOR_") and "drift" in a.split for a in self.anomalies
            ),
            "skew_anomalies": sum(
                a.kind.startswith("COMPARATOR_") and "skew" in a.split for a in self.anomalies
            ),
            "features_compared": len({d.feature for d in self.distances}),
            "max_drift": max(drift, default=0.0),
        }

    def summary(self) -> dict:
        return {
            "anomalies": [
                {"feature": a.feature, "kind": a.kind, "description": a.description, "split": a.split}
                for a in self.anomalies
            ],
            "validation": {**self.counts(), "drift_baseline": self.drift_baseline},
        }


def with_comparators(schema, config: DatasetConfig):
    """A copy of the schema with drift and skew comparators at the configured thresholds."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    schema = copy.deepcopy(schema)
    v = config.validation
    quantiles = schema_pb2.HistogramSelection.QUANTILES
    for feature in schema.feature:
        name = feature.name
        if name in config.features.numeric:
            drift = v.drift_thresholds.get(name, v.numeric_drift_threshold)
            for comparator, threshold in (
                (feature.drift_comparator, drift),
                (feature.skew_comparator, v.skew_thresholds.get(name, v.skew_threshold)),
            ):
                comparator.jensen_shannon_divergence.threshold = threshold
                comparator.jensen_shannon_divergence.source.type = quantiles
        elif name in config.features.categorical:
            drift = v.drift_thresholds.get(name, v.categorical_drift_threshold)
            feature.drift_comparator.infinity_norm.threshold = drift
            feature.skew_comparator.infinity_norm.threshold = v.skew_thresholds.get(name, v.skew_threshold)
    return schema


def _anomalies_of(proto, split: str, only_comparators: bool, blocking: bool) -> list[Anomaly]:
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    found = []
    for feature, info in sorted(proto.anomaly_info.items()):
        for reason in info.reason:
            kind = anomalies_pb2.AnomalyInfo.Type.Name(reason.type)
            if kind.startswith("COMPARATOR_") != only_comparators:
                continue
            found.append(Anomaly(feature, kind, reason.description or info.description, split, blocking))
    if proto.HasField("dataset_anomaly_info") and not only_comparators:
        for reason in proto.dataset_anomaly_info.reason:
            kind = anomalies_pb2.AnomalyInfo.Type.Name(reason.type)
            found.append(Anomaly("<dataset>", kind, reason.description, split, blocking))
    return found


def _distances(proto) -> list[Distance]:
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    out = []
    for info in proto.drift_skew_info:
        feature = ".".join(info.path.step)
        for comparison, measurements in (
            ("drift", info.drift_measurements),
            ("skew", info.skew_measurements),
        ):
            for m in measurements:
                measure = anomalies_pb2.DriftSkewInfo.Measurement.Type.Name(m.type)
                out.append(Distance(feature, comparison, measure, float(m.value), float(m.threshold)))
    return out


def validate_statistics(
    config: DatasetConfig,
    schema,
    current: dict[str, object],
    target: str,
    environment: str = TRAINING,
    drift_baseline=None,
    skew_training=None,
    skew_target: str | None = None,
    environments: Mapping[str, str] | None = None,
) -> ValidationResult:
    """Check every split in `current` against the schema, `target` for drift and `skew_target`
    (default: `target`) for skew; every anomaly of every split lands in one result.

    `environment` is `target`'s schema environment, `environments` any other split's
    (default TRAINING); `drift_baseline` is the statistics to compare `target` with for drift;
    `skew_training` the training statistics to compare the serving data `skew_target` with.
    A feature the data lacks is TFDV's SCHEMA_MISSING_COLUMN anomaly, reported with the rest.
    """
    import tensorflow_data_validation as tfdv

    splits = {split: TRAINING for split in current} | {target: environment} | dict(environments or {})
    unknown = set(splits.values()) - {TRAINING, SERVING}
    if unknown:
        raise ValueError(f"unknown environment {sorted(unknown)[0]}")
    anomalies: list[Anomaly] = []
    distances: list[Distance] = []
    protos = {}
    for split, stats in current.items():
        proto = tfdv.validate_statistics(stats, schema, environment=splits[split])
        protos[split] = proto
        anomalies += _with_unseen_values(
            config, _anomalies_of(proto, split, only_comparators=False, blocking=True), schema, stats, split
        )
    compared = with_comparators(schema, config)
    warn_drift = config.validation.drift_action == "warn"
    if drift_baseline is not None:
        proto = tfdv.validate_statistics(
            current[target], compared, environment=splits[target], previous_statistics=drift_baseline
        )
        protos[f"{target}-drift"] = proto
        anomalies += _anomalies_of(proto, f"{target} drift", only_comparators=True, blocking=not warn_drift)
        distances += [d for d in _distances(proto) if d.comparison == "drift"]
    if skew_training is not None:
        serving = skew_target or target
        proto = tfdv.validate_statistics(
            skew_training, compared, environment=TRAINING, serving_statistics=current[serving]
        )
        protos[f"{serving}-skew"] = proto
        anomalies += _anomalies_of(proto, f"{serving} skew", only_comparators=True, blocking=not warn_drift)
        distances += [d for d in _distances(proto) if d.comparison == "skew"]
    return ValidationResult(anomalies, distances, protos)


def _with_unseen_values(
    config: DatasetConfig, found: list[Anomaly], schema, stats, split: str
) -> list[Anomaly]:
    """TFDV's anomalies of a split, a blocking unseen-values one with a way out, plus a warning
    naming the unseen values a domain tolerates (`domains.py`)."""
    unseen = domains.unseen_values(schema, stats)
    out = []
    for a in found:
        if a.kind == domains.UNEXPECTED:
            a = dataclasses.replace(
                a, description=f"{a.description.strip()} {domains.way_out(config.validation.min_domain_mass)}"
            )
        out.append(a)
    blocked = {a.feature for a in found if a.kind == domains.UNEXPECTED}
    for feature, (share, allowed, values) in sorted(unseen.items()):
        if feature not in blocked:
            description = (
                f"{share:.2%} of the values are not in the domain (tolerated up to {allowed:.2%}: "
                f"validation.min_domain_mass): {domains.describe(values)}"
            )
            out.append(Anomaly(feature, domains.UNSEEN_TOLERATED, description, split, blocking=False))
    return out


def render_report(result: ValidationResult, title: str) -> str:
    lines = [f"# {title}", ""]
    blocking = result.blocking
    verdict = "FAIL" if blocking else ("PASS with warnings" if result.anomalies else "PASS")
    lines += [f"**Result: {verdict}** — {len(result.anomalies)} anomalies ({len(blocking)} blocking).", ""]
    if result.drift_baseline:
        lines += [f"Drift baseline: {result.drift_baseline}.", ""]
    lines += ["## Anomalies", ""]
    if result.anomalies:
        lines += ["| split | feature | kind | blocking | description |", "|---|---|---|---|---|"]
        for a in result.anomalies:
            description = a.description.replace("|", "\\|").replace("\n", " ")
            lines.append(
                f"| {a.split} | {a.feature} | {a.kind} | {'yes' if a.blocking else 'warn'} | {description} |"
            )
    else:
        lines.append("No anomalies.")
    for comparison in ("drift", "skew"):
        rows = sorted((d for d in result.distances if d.comparison == comparison), key=lambda d: -d.value)
        lines += ["", f"## {comparison.capitalize()} (every compared feature)", ""]
        if not rows:
            lines.append(f"No {comparison} comparison in this run.")
            continue
        lines += ["| feature | measure | distance | threshold | status |", "|---|---|---:|---:|---|"]
        for d in rows:
            status = "**over**" if d.exceeded else "ok"
            lines.append(f"| {d.feature} | {d.measure} | {d.value:.6f} | {d.threshold:.6f} | {status} |")
    return "\n".join(lines) + "\n"


def write_outputs(
    result: ValidationResult,
    anomalies_dir: str | Path,
    report_path: str | Path,
    title: str,
    verdict: dict | None = None,
) -> None:
    """The Anomalies protos per split, `summary.json` (with the gate's `verdict`) and the report."""
    from mlpipe.storage.atomic import atomic_write_text

    with atomic_dir(anomalies_dir) as out:
        for split, proto in result.protos.items():
            (out / f"Split-{split}").mkdir()
            (out / f"Split-{split}" / ANOMALIES_FILE).write_bytes(proto.SerializeToString())
        summary = {**result.summary(), **({"verdict": verdict} if verdict is not None else {})}
        (out / VERDICT_FILE).write_text(json.dumps(summary, indent=2))
    atomic_write_text(report_path, render_report(result, title))


def validate_run(config: DatasetConfig, stats_dir: str | Path, schema_dir: str | Path, environ=None):
    """The pipeline's check: every split against the schema (a `serving` split in the SERVING
    environment), the eval split for drift against the served model's training statistics
    (found through the registry when `environ` is given) or, without a served model, against
    this run's train split, and the serving split, when there is one, for skew against train."""
    from mlpipe.data.artifacts import load_schema, load_statistics
    from mlpipe.data.examples import splits_of

    current = {split: load_statistics(stats_dir, split) for split in splits_of(stats_dir)}
    baseline, origin = current["train"], "this run's train split"
    if environ is not None:
        from mlpipe.registry.access import open_registry, served_statistics

        served = served_statistics(open_registry(config.registry.uri, environ), config.model_name)
        if served is None:
            log.warning(
                "no served %s with statistics in %s: drift vs this run's train split",
                config.model_name,
                config.registry.uri,
            )
        else:
            version, folder = served
            baseline = load_statistics(folder, "train")
            origin = f"training statistics of served {config.model_name} version {version}"
    log.info("drift baseline: %s", origin)
    serving = SERVING_SPLIT in current
    if serving:
        log.info("skew: the %s split against this run's train split", SERVING_SPLIT)
    result = validate_statistics(
        config,
        load_schema(schema_dir),
        current,
        target="eval",
        drift_baseline=baseline,
        skew_training=current["train"] if serving else None,
        skew_target=SERVING_SPLIT,
        environments={SERVING_SPLIT: SERVING} if serving else None,
    )
    result.drift_baseline = origin
    return result
