"""Schema: the curated schema named in the config, or one inferred from the train statistics.

Inferred schemas get the same curation a person would start from: TRAINING and
SERVING environments (the label is absent in serving), lower bounds on
non-negative numeric features, no NaN or infinities, and the observed category domains.
"""

from __future__ import annotations

import logging
from pathlib import Path

from mlpipe.config.dataset import DatasetConfig
from mlpipe.data.artifacts import (
    SCHEMA_FILE,
    SERVING,
    TRAINING,
    check_schema_matches,
    load_schema,
    parse_schema,
)
from mlpipe.storage.atomic import atomic_dir, atomic_write_text

log = logging.getLogger(__name__)

# TFDV's infer_schema gives a category column a value domain up to this many distinct values
MAX_INFERRED_DOMAIN = 100


def infer_schema(train_stats, config: DatasetConfig):
    """Infer a schema from train statistics, with the curation a person would start from."""
    import tensorflow_data_validation as tfdv
    from tensorflow_metadata.proto.v0 import schema_pb2

    schema = tfdv.infer_schema(
        train_stats, infer_feature_shape=False, max_string_domain_size=MAX_INFERRED_DOMAIN
    )
    schema.default_environment[:] = [TRAINING, SERVING]
    stats = {f.path.step[0]: f for f in train_stats.datasets[0].features}
    for feature in schema.feature:
        name = feature.name
        if name == config.label_key:
            feature.not_in_environment.append(SERVING)
            feature.int_domain.min, feature.int_domain.max = 0, 1
            feature.presence.min_fraction = 1.0
        elif name in config.features.numeric:
            numeric = stats[name].num_stats
            if numeric.min >= 0:
                feature.float_domain.min = 0.0
            feature.float_domain.disallow_nan = True  # TFDV flags NaN and infinities
            feature.float_domain.disallow_inf = True
        if name in config.features.categorical:
            _tolerate_unseen(feature, stats[name], config)
        feature.value_count.min, feature.value_count.max = 1, 1
    for domain in schema.string_domain:
        domain.value[:] = sorted(domain.value)
    assert isinstance(schema, schema_pb2.Schema)
    return schema


def _tolerate_unseen(feature, stats, config: DatasetConfig) -> None:
    """A category domain accepts unseen values up to 1 - `validation.min_domain_mass` of the
    rows; a column TFDV found integer-coded keeps its int domain (any integer is a valid code)."""
    kind = feature.WhichOneof("domain_info")
    if kind in ("domain", "string_domain"):
        if config.validation.min_domain_mass < 1.0:
            feature.distribution_constraints.min_domain_mass = config.validation.min_domain_mass
    elif kind == "int_domain":
        log.info(
            "categorical feature %s holds integer codes: TFDV checks they are integers, not which; "
            "curate a string domain in a schema to check the codes",
            feature.name,
        )
    else:
        log.warning(
            "categorical feature %s has %d distinct values (TFDV infers a domain up to %d): unseen "
            "values are not checked; curate a domain in a schema (mlpipe schema --write) to check them",
            feature.name,
            stats.string_stats.unique,
            MAX_INFERRED_DOMAIN,
        )


def write_schema(schema, path: str | Path) -> None:
    from google.protobuf import text_format

    header = "# TFDV schema (text format). Started by `mlpipe schema --write`; curate by hand.\n"
    atomic_write_text(path, header + text_format.MessageToString(schema))


def resolve_schema(config: DatasetConfig, train_stats, output_dir: str | Path) -> str:
    """Write the run's `schema.pbtxt` into `output_dir`; returns its origin (`curated:<path>` or `inferred`)."""
    if config.schema_pbtxt:
        source = "the config's schema_pbtxt"
        schema = parse_schema(config.schema_pbtxt, source)
        origin = "curated"
    elif config.schema_path:
        source = config.schema_path
        schema = load_schema(source)
        origin = f"curated:{source}"
    else:
        schema = infer_schema(train_stats, config)
        source, origin = "inferred schema", "inferred"
    check_schema_matches(config, schema, source)
    with atomic_dir(output_dir) as out:
        write_schema(schema, out / SCHEMA_FILE)
    log.info("schema %s: %d features", origin, len(schema.feature))
    return origin
