"""KFP wrapper of the tune stage."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Markdown, Output

from mlpipe.runtime.images import TF_IMAGE


@dsl.component(base_image=TF_IMAGE, install_kfp_package=False)
def tune(
    config: dict,
    examples: Input[Dataset],
    enable_tuning: bool,
    hyperparameters: Output[Artifact],
    trials: Output[Markdown],
):
    """Search hyperparameters with keras-tuner (RandomSearch, BayesianOptimization or Hyperband).

    Args:
        config: Dataset config mapping (the run parameter): `tuning` (algorithm, max_trials, epochs_per_trial,
            search_space) and `training.hyperparameters` (the defaults).
        examples: Ingested examples; trials train on `train` and score on `eval`.
        enable_tuning: Run switch; tuning runs only when this and `tuning.enabled` are true.
        hyperparameters: JSON: `tuned`, the best `hyperparameters`, `best_score` (eval AUC), trials.
        trials: Markdown table of the trials (hyperparameters, eval AUC).
    """
    from mlpipe.components.tune.core import tune as run_tune
    from mlpipe.components.tune.core import write_outputs
    from mlpipe.config.io import config_from_dict
    from mlpipe.runtime.logs import setup_logging

    setup_logging()
    result = run_tune(config_from_dict(config), examples.path, enabled=enable_tuning)
    write_outputs(result, hyperparameters.path, trials.path)
    hyperparameters.metadata["summary"] = {
        "tuning": {
            "tuned": result.tuned,
            "off_because": result.off_because,
            "best_score": result.best_score,
            "trials": len(result.trials),
        }
    }


# --- trials in parallel on a cluster (tuning.parallel_trials > 0): plan -> ParallelFor(trial) -> choose ---


@dsl.component(base_image=TF_IMAGE, install_kfp_package=False)
def tune_plan(config: dict, enable_tuning: bool) -> list:
    """The trials to run: distinct seeded draws from the search space (one no-op trial when off)."""
    from mlpipe.components.tune.trials import plan
    from mlpipe.config.io import config_from_dict

    return plan(config_from_dict(config), enabled=enable_tuning)


@dsl.component(base_image=TF_IMAGE, install_kfp_package=False)
def tune_trial(config: dict, examples: Input[Dataset], trial: dict) -> dict:
    """One trial in its own pod: fit, return the best eval AUC with the trial's values."""
    from mlpipe.components.tune.trials import run
    from mlpipe.config.io import config_from_dict
    from mlpipe.runtime.logs import setup_logging

    setup_logging()
    return run(config_from_dict(config), examples.path, trial)


@dsl.component(base_image=TF_IMAGE, install_kfp_package=False)
def tune_choose(
    config: dict,
    results: list,
    hyperparameters: Output[Artifact],
    trials: Output[Markdown],
):
    """The best of the collected trials, written as the sequential tune writes it."""
    from mlpipe.components.tune.core import write_outputs
    from mlpipe.components.tune.trials import choose
    from mlpipe.config.io import config_from_dict

    result = choose(config_from_dict(config), results)
    write_outputs(result, hyperparameters.path, trials.path)
    hyperparameters.metadata["summary"] = {
        "tuning": {
            "tuned": result.tuned,
            "off_because": result.off_because,
            "best_score": result.best_score,
            "trials": len(result.trials),
        }
    }
