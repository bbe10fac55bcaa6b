"""Statistics: TFDV statistics per split, as TFX lays them out (`Split-<name>/FeatureStats.pb`).

Two TFDV paths compute the same statistics: in memory over Arrow record
batches, and through Beam from TFRecords on the config's `beam` runner. A split
up to `beam.in_memory_max_bytes` (uncompressed) takes the in-memory path: there it is
several times faster (Beam's start-up dominates, `benchmarks/statistics_paths.py`);
a larger one goes through Beam, whose memory does not grow with the data.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from mlpipe.config.dataset import BeamConfig
from mlpipe.data.artifacts import STATS_FILE, load_statistics
from mlpipe.data.examples import load_examples, splits_of
from mlpipe.data.tfrecord import split_files
from mlpipe.runtime.beam import beam_options, is_small
from mlpipe.storage.atomic import atomic_dir, atomic_write_text

log = logging.getLogger(__name__)


def split_statistics(
    examples_dir: str | Path,
    split: str,
    method: Literal["auto", "in_memory", "beam"] = "auto",
    beam: BeamConfig | None = None,
):
    """A `DatasetFeatureStatisticsList` for one split, by the chosen TFDV path (`auto`: by size)."""
    import tensorflow_data_validation as tfdv

    beam = beam or BeamConfig()
    if method == "auto":
        method = "in_memory" if is_small(split_files(examples_dir, split), beam) else "beam"
        log.info("statistics of split %s: %s path", split, method)
    if method == "in_memory":
        from tensorflow_data_validation.statistics import stats_impl

        return stats_impl.generate_statistics_in_memory(
            load_examples(examples_dir, split), tfdv.StatsOptions()
        )
    if method == "beam":
        pattern = str(Path(examples_dir) / f"Split-{split}" / "*.tfrecord.gz")
        return tfdv.generate_statistics_from_tfrecord(
            data_location=pattern,
            stats_options=tfdv.StatsOptions(),
            pipeline_options=beam_options(beam),
        )
    raise ValueError(f"unknown statistics method {method!r}")


def compute_statistics(
    examples_dir: str | Path, output_dir: str | Path, method: str = "auto", beam: BeamConfig | None = None
) -> dict[str, int]:
    """Write every split's statistics; returns example counts per split."""
    counts = {}
    with atomic_dir(output_dir) as out:
        for split in splits_of(examples_dir):
            stats = split_statistics(examples_dir, split, method, beam)
            (out / f"Split-{split}").mkdir()
            (out / f"Split-{split}" / STATS_FILE).write_bytes(stats.SerializeToString())
            counts[split] = int(stats.datasets[0].num_examples)
            log.info(
                "statistics of split %s: %d examples, %d features",
                split,
                counts[split],
                len(stats.datasets[0].features),
            )
    return counts


def write_html(
    stats_dir: str | Path, html_path: str | Path, names: tuple[str, str] = ("train", "eval")
) -> None:
    """TFDV's own Facets view of two splits side by side, as a standalone HTML page."""
    from tensorflow_data_validation.utils.display_util import get_statistics_html

    splits = splits_of(stats_dir)
    lhs = names[0] if names[0] in splits else splits[0]
    rhs = names[1] if names[1] in splits and names[1] != lhs else None
    html = get_statistics_html(
        load_statistics(stats_dir, lhs),
        load_statistics(stats_dir, rhs) if rhs else None,
        lhs_name=lhs,
        rhs_name=rhs or "rhs_statistics",
    )
    atomic_write_text(html_path, html)
