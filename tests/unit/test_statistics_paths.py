"""The two statistics paths (in memory, Beam on the default multi-process DirectRunner) give the
same statistics on real Adult examples, and `auto` picks by size."""

from __future__ import annotations

import logging

from stats_compare import stats_differences

from mlpipe.components.statistics.core import split_statistics
from mlpipe.config.dataset import BeamConfig


def test_in_memory_and_beam_statistics_are_equal(adult_examples):
    train, test = (split_statistics(adult_examples.examples, s, "in_memory") for s in ("train", "eval"))
    assert stats_differences(train, test)  # the comparison sees a difference where there is one
    for split in ("train", "eval"):
        memory = split_statistics(adult_examples.examples, split, "in_memory")
        beam = split_statistics(adult_examples.examples, split, "beam")
        assert memory.datasets[0].num_examples == beam.datasets[0].num_examples > 0
        features = {f.path.step[0]: f for f in beam.datasets[0].features}
        assert features["age"].num_stats.histograms and features["age"].num_stats.mean > 0
        assert stats_differences(memory, beam) == []


def test_auto_chooses_by_size(adult_examples, caplog):
    with caplog.at_level(logging.INFO, logger="mlpipe.components.statistics.core"):
        split_statistics(adult_examples.examples, "eval", beam=BeamConfig())
        split_statistics(
            adult_examples.examples,
            "eval",
            beam=BeamConfig(in_memory_max_bytes=0, options={"direct_running_mode": "in_memory"}),
        )
    paths = [r.getMessage().rsplit(": ", 1)[1] for r in caplog.records if "path" in r.getMessage()]
    assert paths == ["in_memory path", "beam path"]
