"""Tune on the real Adult subsample: a 2-trial random search whose best hyperparameters reach train,
tuning switched off, search-space errors, and the choice of keras-tuner algorithm."""

from __future__ import annotations

import json
import sys

import pytest

from mlpipe.components.train.core import METADATA_FILE, train
from mlpipe.components.tune.core import OBJECTIVE, tune, write_outputs
from mlpipe.config.dataset import DatasetConfig, HyperParameters
from mlpipe.data.artifacts import read_hyperparameters
from mlpipe.errors import UserInputError

SPACE = {"units": [8, 16], "learning_rate": [0.01]}


def _tuning(config, **changes):
    settings = {
        "enabled": True,
        "algorithm": "random",
        "max_trials": 2,
        "epochs_per_trial": 1,
        "search_space": SPACE,
    }
    raw = config.model_dump()
    raw["tuning"] = {**raw["tuning"], **settings, **changes}
    return DatasetConfig.model_validate(raw)


@pytest.fixture(scope="module")
def searched(adult_examples):
    config = _tuning(adult_examples.config)
    return config, tune(config, adult_examples.examples, enabled=True)


def test_a_random_search_runs_two_trials_over_the_space(searched):
    config, result = searched
    defaults = config.training.hyperparameters
    assert result.tuned is True
    assert len(result.trials) == 2
    assert len({t["trial"] for t in result.trials}) == 2
    scores = [t["score"] for t in result.trials]
    assert all(0.5 < s <= 1.0 for s in scores), scores
    assert scores == sorted(scores, reverse=True)  # best first
    assert result.best_score == scores[0]
    best_trial = result.trials[0]
    assert result.best.units == best_trial["units"] and result.best.units in SPACE["units"]
    assert result.best.learning_rate == pytest.approx(0.01)
    # names outside the search space keep the config's values
    assert (result.best.hidden_layers, result.best.dropout, result.best.embedding_dim) == (
        defaults.hidden_layers,
        defaults.dropout,
        defaults.embedding_dim,
    )
    assert {t["units"] for t in result.trials} <= set(SPACE["units"])


def test_the_best_hyperparameters_reach_train(searched, adult_examples, tmp_path):
    config, result = searched
    hyperparameters_path, trials_path = tmp_path / "hp" / "hyperparameters.json", tmp_path / "trials.md"
    write_outputs(result, hyperparameters_path, trials_path)

    payload = json.loads(hyperparameters_path.read_text())
    assert payload["tuned"] is True and payload["objective"] == OBJECTIVE == "val_auc"
    assert payload["hyperparameters"] == result.best.model_dump()
    assert payload["best_score"] == pytest.approx(result.best_score)
    table = trials_path.read_text()
    assert "| trial | val_auc |" in table and table.count("\n| ") >= 2
    assert f"Best: {result.best.model_dump()}" in table

    chosen = read_hyperparameters(hyperparameters_path, config.training.hyperparameters)
    assert chosen == result.best

    one_epoch = config.model_copy(update={"training": config.training.model_copy(update={"epochs": 1})})
    trained = train(
        one_epoch,
        adult_examples.examples,
        adult_examples.schema,
        tmp_path / "model",
        tmp_path / "tb",
        chosen,
        fingerprint=adult_examples.fingerprint,
    )
    metadata = json.loads((tmp_path / "model" / METADATA_FILE).read_text())
    assert metadata["hyperparameters"] == result.best.model_dump()
    assert trained.hyperparameters == result.best


def test_tuning_off_returns_the_config_defaults(adult_examples, tmp_path):
    config = _tuning(adult_examples.config)
    defaults = config.training.hyperparameters
    switched_off = tune(config, adult_examples.examples, enabled=False)  # the run's switch
    disabled = tune(
        _tuning(adult_examples.config, enabled=False), adult_examples.examples, enabled=True
    )  # config
    no_space = tune(_tuning(adult_examples.config, search_space={}), adult_examples.examples, enabled=True)
    for result in (switched_off, disabled, no_space):
        assert (result.tuned, result.best, result.best_score, result.trials) == (False, defaults, None, [])

    write_outputs(switched_off, tmp_path / "hyperparameters.json", tmp_path / "trials.md")
    payload = json.loads((tmp_path / "hyperparameters.json").read_text())
    assert payload["tuned"] is False
    assert payload["hyperparameters"] == defaults.model_dump()
    assert "Tuning was off" in (tmp_path / "trials.md").read_text()
    assert read_hyperparameters(tmp_path / "hyperparameters.json", defaults) == defaults


def test_a_hyperparameters_file_with_an_unknown_name_is_rejected(tmp_path):
    path = tmp_path / "hyperparameters.json"
    path.write_text(json.dumps({"tuned": True, "hyperparameters": {"units": 8, "neurons": 3}}))
    with pytest.raises(ValueError, match="unknown hyperparameter 'neurons'"):
        read_hyperparameters(path, HyperParameters())
    path.write_text(json.dumps({"tuned": True, "hyperparameters": {"units": 8.0, "dropout": 0}}))
    values = read_hyperparameters(path, HyperParameters())
    assert (values.units, values.dropout) == (8, 0.0) and isinstance(values.units, int)


@pytest.mark.parametrize(
    ("algorithm", "class_name"),
    [("random", "RandomSearch"), ("bayesian", "BayesianOptimization"), ("hyperband", "Hyperband")],
)
def test_the_algorithm_is_selectable(adult_examples, tmp_path, algorithm, class_name):
    """The tuner class follows `tuning.algorithm`; constructing one is enough (a search costs seconds)."""
    import keras_tuner as kt

    from mlpipe.components.tune.core import _tuner
    from mlpipe.model.keras_model import build_model, fit_preprocessing, hyperparameters_from

    config = _tuning(adult_examples.config, algorithm=algorithm, max_trials=3, epochs_per_trial=1)
    preprocessing = fit_preprocessing(adult_examples.examples, config)

    def hypermodel(hp):
        values = {name: hp.Choice(name, values) for name, values in SPACE.items()}
        return build_model(
            config, preprocessing, hyperparameters_from(values, config.training.hyperparameters)
        )

    tuner = _tuner(config, hypermodel, str(tmp_path))
    assert type(tuner).__name__ == class_name and isinstance(tuner, getattr(kt, class_name))
    assert tuner.oracle.objective.name == "val_auc" and tuner.oracle.objective.direction == "max"
    if algorithm == "hyperband":
        assert tuner.oracle.max_epochs == 2  # at least 2 epochs, so Hyperband has brackets
    else:
        assert tuner.oracle.max_trials == 3


def test_a_bayesian_search_of_one_trial_runs(adult_examples):
    config = _tuning(adult_examples.config, algorithm="bayesian", max_trials=1)
    result = tune(config, adult_examples.examples)
    assert result.tuned and len(result.trials) == 1
    assert result.best.units in SPACE["units"] and 0.5 < result.best_score <= 1.0


def test_bayesian_without_scikit_learn_is_a_clear_user_error(adult_examples, tmp_path, monkeypatch):
    from mlpipe.components.tune.core import _tuner

    monkeypatch.setitem(sys.modules, "sklearn", None)  # `import sklearn` now raises ImportError
    config = _tuning(adult_examples.config, algorithm="bayesian")
    with pytest.raises(UserInputError, match="'bayesian' needs scikit-learn"):
        _tuner(config, lambda hp: None, str(tmp_path))


def test_parallel_trials_one_by_one_choose_the_best_and_write_what_train_reads(adult_examples, tmp_path):
    """What the cluster's fan-out runs, trial by trial in this process: plan, run each, choose."""
    from mlpipe.components.tune import trials

    config = _tuning(adult_examples.config, parallel_trials=2)
    planned = trials.plan(config)
    assert len(planned) == 2
    results = [trials.run(config, adult_examples.examples, trial) for trial in planned]
    assert all(0.5 < r["score"] <= 1.0 for r in results)
    result = trials.choose(config, results)
    best = max(results, key=lambda r: r["score"])
    assert result.tuned and result.best_score == best["score"]
    assert result.best.units == best["values"]["units"]
    write_outputs(result, tmp_path / "hyperparameters.json", tmp_path / "trials.md")
    chosen = read_hyperparameters(tmp_path / "hyperparameters.json", config.training.hyperparameters)
    assert chosen == result.best
    assert "| trial | val_auc |" in (tmp_path / "trials.md").read_text()
