"""Category values a split holds that the schema's domain does not: listed with their share as a
warning where the domain tolerates them (an inferred schema's `min_domain_mass`), and a way out
named where they block (TFDV's ENUM_TYPE_UNEXPECTED_STRING_VALUES)."""

from __future__ import annotations

UNSEEN_TOLERATED = "UNSEEN_VALUES_TOLERATED"  # ours: unseen values under the domain's tolerance
UNEXPECTED = "ENUM_TYPE_UNEXPECTED_STRING_VALUES"
SHOWN = 10  # values named per feature; the rest are counted


def _domains(schema) -> dict[str, tuple[set[str], float]]:
    """feature -> (its domain's values, min_domain_mass) for features with a string domain."""
    named = {d.name: set(d.value) for d in schema.string_domain}
    out = {}
    for feature in schema.feature:
        kind = feature.WhichOneof("domain_info")
        values = (
            set(feature.string_domain.value)
            if kind == "string_domain"
            else named.get(feature.domain)
            if kind == "domain"
            else None
        )
        if values is not None:
            mass = feature.distribution_constraints.min_domain_mass
            out[feature.name] = (values, mass if feature.HasField("distribution_constraints") else 1.0)
    return out


def unseen_values(schema, statistics) -> dict[str, tuple[float, float, list[tuple[str, float]]]]:
    """feature -> (share of unseen values, allowed share, [(value, share)] largest first) for every
    feature of `statistics` (one split) with values outside its domain."""
    domains = _domains(schema)
    found = {}
    for stats in statistics.datasets[0].features:
        name = ".".join(stats.path.step)
        if name not in domains or not stats.HasField("string_stats"):
            continue
        values, mass = domains[name]
        present = stats.string_stats.common_stats.num_non_missing or 1
        buckets = stats.string_stats.rank_histogram.buckets or stats.string_stats.top_values
        unseen = [
            (b.label, (b.sample_count if hasattr(b, "sample_count") else b.frequency) / present)
            for b in buckets
            if b.label not in values
        ]
        if unseen:
            unseen.sort(key=lambda item: (-item[1], item[0]))
            found[name] = (sum(share for _, share in unseen), round(1.0 - mass, 12), unseen)
    return found


def describe(unseen: list[tuple[str, float]]) -> str:
    shown = ", ".join(f"'{value}' ({share:.2%})" for value, share in unseen[:SHOWN])
    more = len(unseen) - SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def way_out(min_domain_mass: float) -> str:
    """What a user can do about unseen values that block."""
    return (
        "To accept them, list them in a curated schema (`mlpipe schema --config CONFIG --write` "
        "writes one to edit; the config's schema_path names it), or, with an inferred schema, "
        f"lower validation.min_domain_mass (now {min_domain_mass:g}: unseen values up to "
        f"{1 - min_domain_mass:.0%} of a split's rows pass with a warning)."
    )
