"""Parallel tuning in the compiled IR: with `tuning.parallel_trials`, the cluster's pipeline plans the
trials, fans them out as a ParallelFor with that parallelism, collects their results into
`tune_choose`, and train reads the chosen hyperparameters; without it, and in every local
compilation (kfp.local 2.13 runs no ParallelFor), the one-pod search stays.
The choice itself is unit-tested (tests/unit/test_distributed.py)."""

from __future__ import annotations

import pytest
import yaml

from mlpipe.config.dataset import DatasetConfig

SPACE = {"units": [8, 16, 32], "learning_rate": [0.01, 0.003]}


def _compile(repo_root, tmp_path, parallel_trials: int, for_cluster: bool = True, workers: int = 1) -> dict:
    from mlpipe.config.io import load_config
    from mlpipe.pipelines.compile import compile_pipeline

    raw = load_config(repo_root / "configs" / "adult-cluster.yaml", check_data=False).model_dump()
    raw["tuning"].update(parallel_trials=parallel_trials, max_trials=5, search_space=SPACE)
    raw["training"]["distributed"]["workers"] = workers
    path = compile_pipeline(DatasetConfig.model_validate(raw), tmp_path / "ir.yaml", for_cluster=for_cluster)
    return next(yaml.safe_load_all(path.read_text()))


def _loops(ir: dict) -> dict:
    return {name: task for name, task in ir["root"]["dag"]["tasks"].items() if name.startswith("for-loop")}


def test_the_cluster_pipeline_fans_the_trials_out_and_collects_the_best(repo_root, tmp_path):
    ir = _compile(repo_root, tmp_path, parallel_trials=3)
    tasks = ir["root"]["dag"]["tasks"]
    (loop_name, loop), = _loops(ir).items()  # fmt: skip
    assert loop["iteratorPolicy"]["parallelismLimit"] == 3
    items = loop["parameterIterator"]["items"]["inputParameter"]
    source = loop["inputs"]["parameters"][items]["taskOutputParameter"]
    assert source["producerTask"] == "tune-plan"
    body = ir["components"][loop["componentRef"]["name"]]["dag"]["tasks"]
    assert list(body) == ["tune-trial"]
    assert body["tune-trial"]["componentRef"]["name"] == "comp-tune-trial"
    collected = tasks["tune-choose"]["inputs"]["parameters"]["results"]["taskOutputParameter"]
    assert collected["producerTask"] == loop_name  # dsl.Collected over the loop's trials
    hyperparameters = tasks["train"]["inputs"]["artifacts"]["hyperparameters"]["taskOutputArtifact"]
    assert hyperparameters == {"outputArtifactKey": "hyperparameters", "producerTask": "tune-choose"}
    assert "tune" not in tasks  # no one-pod search beside the fan-out


def test_a_distributed_train_step_gets_its_workers_image_and_the_object_store(repo_root, tmp_path):
    from mlpipe.runtime.images import TF_IMAGE

    ir = _compile(repo_root, tmp_path, parallel_trials=0, workers=3)
    image = ir["root"]["dag"]["tasks"]["train"]["inputs"]["parameters"]["worker_image"]
    assert image["runtimeValue"]["constant"] == TF_IMAGE
    _, platform = yaml.safe_load_all((tmp_path / "ir.yaml").read_text())
    (secret,) = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]["exec-train"][
        "secretAsEnv"
    ]
    assert secret["secretName"] == "mlpipe-registry-pipeline"  # by name: no value in the IR


@pytest.mark.parametrize(("parallel_trials", "for_cluster"), [(0, True), (3, False)])
def test_otherwise_the_search_runs_in_one_pod(repo_root, tmp_path, parallel_trials, for_cluster):
    ir = _compile(repo_root, tmp_path, parallel_trials, for_cluster)
    tasks = ir["root"]["dag"]["tasks"]
    assert not _loops(ir) and "tune-choose" not in tasks
    source = tasks["train"]["inputs"]["artifacts"]["hyperparameters"]["taskOutputArtifact"]
    assert source["producerTask"] == "tune"
