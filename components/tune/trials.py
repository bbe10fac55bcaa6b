"""Tuning trials one pod each, for a cluster: plan the trials, run one, choose the best.

The compiled pipeline fans the planned trials out with `dsl.ParallelFor` (at most
`tuning.parallel_trials` at once) and collects their results (`dsl.Collected`) into `choose`, which
writes the same hyperparameters artifact as the sequential search (`core`). Trials are planned up
front, so the search is random (distinct draws from the space, seeded); Bayesian optimization and
Hyperband learn from earlier trials and stay in the sequential search.
"""

from __future__ import annotations

import itertools
import logging
import math
import random
from pathlib import Path

from mlpipe.components.tune.core import OBJECTIVE, TuneResult, trial_data
from mlpipe.config.dataset import DatasetConfig

log = logging.getLogger(__name__)


def plan(config: DatasetConfig, enabled: bool = True) -> list[dict]:
    """`tuning.max_trials` distinct points of the search space, in a seeded random order. Tuning
    off (or an empty space): one trial that trains nothing, so the fan-out is never empty."""
    space = dict(config.tuning.search_space.items())
    if not (enabled and config.tuning.enabled and space):
        return [{"trial": "0", "skip": True, "values": {}}]
    names = sorted(space)
    points = list(itertools.product(*(space[n] for n in names)))
    random.Random(config.training.seed).shuffle(points)
    chosen = points[: config.tuning.max_trials]
    return [
        {"trial": str(i), "skip": False, "values": dict(zip(names, p, strict=True))}
        for i, p in enumerate(chosen)
    ]


def run(config: DatasetConfig, examples_dir: str | Path, trial: dict) -> dict:
    """Fit one trial for `tuning.epochs_per_trial` epochs; its result is the best eval AUC."""
    if trial.get("skip"):
        return {"trial": trial["trial"], "skip": True, "score": None, "values": {}}
    from mlpipe.model.keras_model import build_model, hyperparameters_from

    preprocessing, train_ds, eval_ds = trial_data(config, examples_dir)
    hyperparameters = hyperparameters_from(trial["values"], config.training.hyperparameters)
    model = build_model(config, preprocessing, hyperparameters)
    history = model.fit(train_ds, validation_data=eval_ds, epochs=config.tuning.epochs_per_trial, verbose=2)
    score = max(float(v) for v in history.history[OBJECTIVE])
    log.info("trial %s: %s=%.4f %s", trial["trial"], OBJECTIVE, score, trial["values"])
    return {"trial": trial["trial"], "skip": False, "score": score, "values": trial["values"]}


def choose(config: DatasetConfig, results: list[dict]) -> TuneResult:
    """The best trial (highest score; ties go to the earlier planned trial), as a TuneResult."""
    from mlpipe.model.keras_model import hyperparameters_from

    defaults = config.training.hyperparameters
    scored = [r for r in results if not r.get("skip") and r.get("score") is not None]
    scored = [r for r in scored if not math.isnan(r["score"])]
    if not scored:
        return TuneResult(
            False, defaults, None, [], "no trial ran or scored (tuning off, or every trial failed)"
        )
    ranked = sorted(scored, key=lambda r: (-r["score"], int(r["trial"])))
    best = ranked[0]
    trials = [{"trial": r["trial"], "score": r["score"], **r["values"]} for r in ranked]
    return TuneResult(True, hyperparameters_from(best["values"], defaults), best["score"], trials)
