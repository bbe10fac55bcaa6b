"""Distributed training and parallel tuning, the parts that need no TensorFlow or server: roles from
TF_CONFIG, the TFJob manifest and the reading of its conditions, the config rules, and the planning
and choice of parallel trials. (Two real workers: test_train_multiworker.py; the API server:
tests/cluster/test_tfjob.py; the compiled fan-out: tests/pipeline/test_parallel_tuning.py.)"""

from __future__ import annotations

import json
import math
import re

import pytest

from mlpipe.components.train import tfjob
from mlpipe.components.train.launch import job_args, job_name
from mlpipe.components.train.multiworker import role_from
from mlpipe.components.tune import trials
from mlpipe.config.dataset import DatasetConfig, DistributedTraining
from mlpipe.errors import UserInputError
from mlpipe.serving.names import load_serving_names

NAMES = load_serving_names()


def _tf_config(task_type: str, index: int, chief: bool = False) -> str:
    cluster = {"worker": ["w0:2222", "w1:2222"]}
    if chief:
        cluster["chief"] = ["c:2222"]
    return json.dumps({"cluster": cluster, "task": {"type": task_type, "index": index}})


@pytest.mark.parametrize(
    ("tf_config", "chief", "workers"),
    [
        (None, True, 1),
        (_tf_config("worker", 0), True, 2),  # a TFJob of Workers only: worker 0 is the chief
        (_tf_config("worker", 1), False, 2),
        (_tf_config("chief", 0, chief=True), True, 3),
        (_tf_config("worker", 0, chief=True), False, 3),  # next to a chief, worker 0 is not
    ],
)
def test_the_role_follows_tf_config(tf_config, chief, workers):
    role = role_from(tf_config)
    assert (role.is_chief, role.workers) == (chief, workers)


def test_a_tf_config_that_is_no_cluster_spec_is_a_clear_error():
    with pytest.raises(UserInputError, match="TF_CONFIG is not a TensorFlow cluster spec"):
        role_from('{"task": {"type": "worker"}}')


def test_the_tfjob_runs_the_train_entry_point_on_every_worker_with_credentials_by_reference(adult):
    from mlpipe.config.io import load_config

    config = load_config(adult.config, check_data=False)
    settings = DistributedTraining(workers=3, timeout_seconds=900, cpu="2", memory="3Gi")
    args = job_args(config, "s3://models/.train-jobs/j", "abc")
    body = tfjob.render_tfjob("train-j", "kubeflow", "reg/mlpipe-tf:1", args, settings, NAMES)
    assert (body["apiVersion"], body["kind"]) == ("kubeflow.org/v1", "TFJob")
    assert body["spec"]["runPolicy"]["activeDeadlineSeconds"] == 900
    worker = body["spec"]["tfReplicaSpecs"]["Worker"]
    assert set(body["spec"]["tfReplicaSpecs"]) == {"Worker"} and worker["replicas"] == 3
    (container,) = worker["template"]["spec"]["containers"]
    assert container["name"] == "tensorflow" and container["image"] == "reg/mlpipe-tf:1"
    assert container["command"] + container["args"][:1] == [*tfjob.ENTRY_POINT, "--config-json"]
    assert json.loads(container["args"][1]) == config.run_input()
    assert dict(zip(args[2::2], args[3::2], strict=True))["--model"] == "s3://models/.train-jobs/j/model"
    assert container["resources"]["limits"] == {"cpu": "2", "memory": "3Gi"}
    # secrets by name only: no value in the manifest
    refs = [e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e]
    assert {r["name"] for r in refs} == {NAMES.pipeline_credentials_secret}
    assert all("value" not in e for e in container["env"] if "valueFrom" in e)


def test_job_names_are_dns_labels_and_unique(adult):
    from mlpipe.config.io import load_config

    config = load_config(adult.config, check_data=False)
    first, second = job_name(config), job_name(config)
    assert first != second
    for name in (first, second):
        assert re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", name) and len(name) <= 63


def _conditions(*pairs) -> dict:
    return {"status": {"conditions": [{"type": t, "status": s, "reason": f"TFJob{t}"} for t, s in pairs]}}


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_the_wait_reads_the_conditions_until_succeeded():
    states = iter([{}, _conditions(("Created", "True")), _conditions(("Running", "True")),
                   _conditions(("Running", "False"), ("Succeeded", "True"))])  # fmt: skip
    clock = Clock()
    job = tfjob.wait(lambda: next(states), 60, "job", clock=clock, sleep=clock.sleep)
    assert tfjob.outcome(job)[0] == "Succeeded" and clock.now == 6.0


def test_the_wait_raises_on_failed_and_on_timeout():
    clock = Clock()
    failed = _conditions(("Running", "False"), ("Failed", "True"))
    with pytest.raises(tfjob.TrainingJobFailed, match="job failed: Failed: TFJobFailed"):
        tfjob.wait(lambda: failed, 60, "job", clock=clock, sleep=clock.sleep)
    running = _conditions(("Created", "True"), ("Running", "True"))
    with pytest.raises(
        tfjob.TrainingJobFailed, match="did not finish in 10 s; last status: Running: TFJobRunning"
    ):
        tfjob.wait(lambda: running, 10, "job", clock=clock, sleep=clock.sleep)


def _config(adult, **tuning) -> DatasetConfig:
    from mlpipe.config.io import load_config

    raw = load_config(adult.config, check_data=False).model_dump()
    raw["tuning"] = {**raw["tuning"], **tuning}
    return DatasetConfig.model_validate(raw)


SPACE = {"units": [8, 16, 32], "learning_rate": [0.01, 0.003]}


def test_parallel_trials_need_random_search(adult):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="only random search allows"):
        _config(adult, algorithm="bayesian", parallel_trials=2, search_space=SPACE)
    assert _config(adult, algorithm="hyperband", parallel_trials=0).tuning.parallel_trials == 0


def test_the_plan_draws_distinct_seeded_points_of_the_space(adult):
    config = _config(adult, max_trials=4, search_space=SPACE, parallel_trials=2)
    planned = trials.plan(config)
    assert planned == trials.plan(config)  # seeded
    assert [t["trial"] for t in planned] == ["0", "1", "2", "3"] and not any(t["skip"] for t in planned)
    points = [tuple(sorted(t["values"].items())) for t in planned]
    assert len(set(points)) == 4
    assert all(
        t["values"]["units"] in SPACE["units"] and t["values"]["learning_rate"] in SPACE["learning_rate"]
        for t in planned
    )
    # more trials than points: every point once
    assert len(trials.plan(_config(adult, max_trials=50, search_space=SPACE))) == 6
    # tuning off: one trial that trains nothing, so the fan-out is never empty
    assert trials.plan(config, enabled=False) == [{"trial": "0", "skip": True, "values": {}}]
    assert trials.run(config, "/nonexistent", {"trial": "0", "skip": True, "values": {}})["score"] is None


def test_the_best_collected_trial_is_chosen(adult):
    config = _config(adult, search_space=SPACE)
    results = [  # as KFP hands them back: numbers as floats, in any order
        {"trial": "2", "skip": False, "score": 0.90, "values": {"units": 32.0, "learning_rate": 0.01}},
        {"trial": "0", "skip": False, "score": 0.91, "values": {"units": 8.0, "learning_rate": 0.003}},
        {"trial": "1", "skip": False, "score": 0.91, "values": {"units": 16.0, "learning_rate": 0.01}},
        {"trial": "3", "skip": False, "score": math.nan, "values": {"units": 16.0, "learning_rate": 0.003}},
    ]
    result = trials.choose(config, results)
    assert result.tuned and result.best_score == 0.91
    assert (result.best.units, result.best.learning_rate) == (8, 0.003)  # the tie goes to the earlier trial
    assert isinstance(result.best.units, int)
    assert [t["trial"] for t in result.trials] == ["0", "1", "2"]  # best first, the failed one left out
    assert result.best.hidden_layers == config.training.hyperparameters.hidden_layers  # outside the space
    untuned = trials.choose(config, [{"trial": "0", "skip": True, "score": None, "values": {}}])
    assert not untuned.tuned and untuned.best == config.training.hyperparameters


def test_the_entry_point_reports_a_bad_config_in_one_line(capsys):
    from mlpipe.components.train.__main__ import main

    code = main(["--config-json", "{not json", "--examples", "e", "--schema", "s", "--model", "m"])
    assert code == 2
    assert capsys.readouterr().err.startswith("train: Expecting property name")
