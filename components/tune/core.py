"""Tune: keras-tuner search over the config's search space, on the shared model.

Always writes a hyperparameters artifact: the best found when tuning runs, the
config defaults when it is off, so train has one input either way.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import tempfile
from pathlib import Path

from mlpipe.config.dataset import DatasetConfig, HyperParameters
from mlpipe.errors import UserInputError
from mlpipe.model.keras_model import (
    build_model,
    fit_preprocessing,
    hyperparameters_from,
    make_dataset,
    progress_callback,
)
from mlpipe.storage.atomic import atomic_write_text

log = logging.getLogger(__name__)

OBJECTIVE = "val_auc"


@dataclasses.dataclass(frozen=True)
class TuneResult:
    tuned: bool
    best: HyperParameters
    best_score: float | None
    trials: list[dict]
    off_because: str | None = None  # why there was no search

    def to_json(self) -> dict:
        return {
            "tuned": self.tuned,
            "off_because": self.off_because,
            "hyperparameters": self.best.model_dump(),
            "objective": OBJECTIVE,
            "best_score": self.best_score,
            "trials": self.trials,
        }


def trial_data(config: DatasetConfig, examples_dir: str | Path):
    """Seeded (preprocessing, train, eval) datasets every trial fits on: the one-pod search and
    each parallel trial see the same data in the same order."""
    import keras

    keras.utils.set_random_seed(config.training.seed)
    preprocessing = fit_preprocessing(examples_dir, config)
    batch = config.training.batch_size
    train_ds = make_dataset(
        examples_dir, "train", config, preprocessing, batch, shuffle_seed=config.training.seed
    )
    eval_ds = make_dataset(examples_dir, "eval", config, preprocessing, 1024)
    return preprocessing, train_ds, eval_ds


def _tuner(config: DatasetConfig, hypermodel, directory: str):
    import keras_tuner as kt

    settings = config.tuning
    objective = kt.Objective(OBJECTIVE, direction="max")
    common = {
        "objective": objective,
        "directory": directory,
        "project_name": "search",
        "overwrite": True,
        "seed": config.training.seed,
    }
    if settings.algorithm == "random":
        return kt.RandomSearch(hypermodel, max_trials=settings.max_trials, **common)
    if settings.algorithm == "bayesian":
        try:
            import sklearn  # noqa: F401  keras-tuner's BayesianOptimization needs scikit-learn
        except ImportError:
            raise UserInputError(
                "tuning.algorithm 'bayesian' needs scikit-learn (keras-tuner[bayesian]), which is not installed; "
                "use 'random' or 'hyperband'"
            ) from None
        return kt.BayesianOptimization(hypermodel, max_trials=settings.max_trials, **common)
    return kt.Hyperband(hypermodel, max_epochs=max(settings.epochs_per_trial, 2), factor=3, **common)


def tune(config: DatasetConfig, examples_dir: str | Path, enabled: bool = True) -> TuneResult:
    """Search when enabled (config and run switch); otherwise return the config defaults."""
    defaults = config.training.hyperparameters
    space = dict(config.tuning.search_space.items())
    off_because = (
            "tuning.enabled is false" if not config.tuning.enabled
            else "the run's enable_tuning is false" if not enabled
            else "tuning.search_space is empty" if not space
            else None
        )  # fmt: skip
    if off_because:
        log.info("tuning off (%s): using the config's hyperparameters", off_because)
        return TuneResult(False, defaults, None, [], off_because)
    preprocessing, train_ds, eval_ds = trial_data(config, examples_dir)

    def hypermodel(hp):
        values = {name: hp.Choice(name, values) for name, values in space.items()}
        return build_model(config, preprocessing, hyperparameters_from(values, defaults))

    with tempfile.TemporaryDirectory(prefix="mlpipe-tune-") as workdir:
        tuner = _tuner(config, hypermodel, workdir)
        log.info(
            "%s search: %d trials, %d epochs each",
            config.tuning.algorithm,
            config.tuning.max_trials,
            config.tuning.epochs_per_trial,
        )
        # Hyperband's trial count follows from its brackets, not from max_trials: unknown here.
        total = None if config.tuning.algorithm == "hyperband" else config.tuning.max_trials
        tuner.search(
            train_ds,
            validation_data=eval_ds,
            epochs=config.tuning.epochs_per_trial,
            verbose=0,
            callbacks=[progress_callback("trial", total, on_train_end=True, metric=OBJECTIVE)],
        )
        trials = []
        for trial in tuner.oracle.get_best_trials(num_trials=10_000):
            trials.append({"trial": trial.trial_id, "score": trial.score, **trial.hyperparameters.values})
            log.info(
                "trial %s: %s=%.4f %s",
                trial.trial_id,
                OBJECTIVE,
                trial.score or float("nan"),
                trial.hyperparameters.values,
            )
        best = tuner.get_best_hyperparameters(1)[0].values
    chosen = hyperparameters_from({k: v for k, v in best.items() if k in space}, defaults)
    return TuneResult(True, chosen, trials[0]["score"] if trials else None, trials)


def write_outputs(result: TuneResult, hyperparameters_path: str | Path, trials_path: str | Path) -> None:
    atomic_write_text(hyperparameters_path, json.dumps(result.to_json(), indent=2))
    lines = ["# Hyperparameter search", ""]
    if not result.tuned:
        lines.append(f"Tuning was off ({result.off_because}); train uses the config's hyperparameters:")
        lines += ["", *(f"- {k}: {v}" for k, v in result.best.model_dump().items())]
    else:
        names = sorted({k for t in result.trials for k in t} - {"trial", "score"})
        lines += [f"| trial | {OBJECTIVE} | " + " | ".join(names) + " |", "|---|---:|" + "---|" * len(names)]
        for t in result.trials:
            score = "n/a" if t["score"] is None else f"{t['score']:.4f}"
            lines.append(f"| {t['trial']} | {score} | " + " | ".join(str(t.get(n, "")) for n in names) + " |")
        lines += ["", f"Best: {result.best.model_dump()}"]
    atomic_write_text(trials_path, "\n".join(lines) + "\n")
