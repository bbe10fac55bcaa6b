"""The compiled pipeline (KFP IR YAML): stages, images, secrets by name, platform settings.

The IR comes from the session fixture `compiled` (tests/pipeline/conftest.py), compiled in
fresh processes with custom image settings and S3 credentials in their environment.
"""

import os
import subprocess
import sys

import pytest
import yaml

from mlpipe.cli.main import main
from mlpipe.serving.names import PUSHER_TOKEN_DIR, load_serving_names

NAMES = load_serving_names()
STAGE_FOLDERS = [
    "ingest",
    "statistics",
    "schema",
    "validate",
    "tune",
    "train",
    "evaluate",
    "infra_validate",
    "push",
    "monitor",
    "retrain",
]
STAGES = [
    "ingest", "statistics", "schema", "validate", "validation-gate", "tune", "train", "evaluate",
    "infra-validate", "push",
]  # fmt: skip


def _images(monkeypatch, image_env: dict) -> tuple[str, str]:
    from mlpipe.runtime.images import image

    for key, value in image_env.items():
        monkeypatch.setenv(key, value)
    return image("tf"), image("push")


def _executor(spec: dict, task: str) -> dict:
    component = spec["root"]["dag"]["tasks"][task]["componentRef"]["name"]
    executor = spec["components"][component]["executorLabel"]
    return spec["deploymentSpec"]["executors"][executor]["container"]


def test_the_ir_has_every_stage_wired_in_order(compiled):
    spec = compiled.plain.spec
    assert spec["pipelineInfo"]["name"] == "mlpipe-training"
    tasks = spec["root"]["dag"]["tasks"]
    assert sorted(tasks) == sorted(STAGES)
    assert sorted(spec["components"]) == sorted(f"comp-{s}" for s in STAGES)
    deps = {name: set(task.get("dependentTasks", [])) for name, task in tasks.items()}
    assert deps["ingest"] == set()
    assert deps["statistics"] == {"ingest"}
    assert deps["schema"] == {"statistics"}
    assert deps["validation-gate"] == {"validate"}
    assert "validation-gate" in deps["tune"]
    assert {"tune", "schema", "ingest"} <= deps["train"]
    assert {"train", "ingest"} <= deps["evaluate"] and {"train", "ingest"} <= deps["infra-validate"]
    assert {"train", "evaluate", "infra-validate"} <= deps["push"]
    assert set(spec["root"]["inputDefinitions"]["parameters"]) == {
        "config",  # serving names: read at run time from the deployed ConfigMap (serving.namespace)
        "train_data",
        "eval_data",
        "enable_tuning",
        "use_baseline",
    }


def test_images_come_from_components_images(compiled, monkeypatch):
    tf_image, push_image = _images(monkeypatch, compiled.image_env)
    assert tf_image == "registry.example.com/ml/mlpipe-tf:1.2.3-test"
    assert push_image == "registry.example.com/ml/mlpipe-push:1.2.3-test"
    for doc in (compiled.plain, compiled.placed):
        for stage in STAGES:
            expected = push_image if stage in ("push", "validation-gate") else tf_image
            assert _executor(doc.spec, stage)["image"] == expected, stage
    assert tf_image in compiled.plain.text and push_image in compiled.plain.text


def test_the_secret_is_referenced_by_name_and_no_credential_enters_the_ir(compiled):
    assert NAMES.pipeline_credentials_secret == "mlpipe-registry-pipeline"
    for doc in (compiled.plain, compiled.placed):
        assert compiled.secret not in doc.text and compiled.access not in doc.text
        assert "mlpipe-registry-pipeline" in doc.text
        used = {
            s["secretName"] for settings in doc.platform.values() for s in settings.get("secretAsEnv", [])
        }
        assert used == {NAMES.pipeline_credentials_secret}  # MinIO's root key never reaches a step
        for executor in ("exec-ingest", "exec-validate", "exec-evaluate", "exec-push"):
            (secret,) = doc.platform[executor]["secretAsEnv"]
            assert secret["secretName"] == NAMES.pipeline_credentials_secret
            assert {(k["secretKey"], k["envVar"]) for k in secret["keyToEnv"]} == {
                ("AWS_ACCESS_KEY_ID", "MLPIPE_S3_ACCESS_KEY"),
                ("AWS_SECRET_ACCESS_KEY", "MLPIPE_S3_SECRET_KEY"),
            }
        push_env = {e["name"]: e["value"] for e in _executor(doc.spec, "push")["env"]}
        assert (
            push_env["MLPIPE_S3_ENDPOINT"] == NAMES.registry_endpoint
        )  # from params.env, not the compile env
        assert "secretAsEnv" not in doc.platform.get("exec-train", {})  # only the stages that need the store


def test_only_the_push_step_mounts_the_pushers_token(compiled):
    """The run executes with an account without serving rights; push alone carries the pusher's."""
    for doc in (compiled.plain, compiled.placed):
        mounts = {
            executor: settings["secretAsVolume"]
            for executor, settings in doc.platform.items()
            if "secretAsVolume" in settings
        }
        assert list(mounts) == ["exec-push"]
        (volume,) = mounts["exec-push"]
        assert volume["secretName"] == NAMES.pusher_token_secret == "mlpipe-pusher-token"
        assert volume["mountPath"] == PUSHER_TOKEN_DIR
        assert "serviceAccount" not in doc.text


def test_the_compiled_yaml_loads_back_with_kfp(compiled, tmp_path):
    from kfp import compiler, components

    loaded = components.load_component_from_file(str(compiled.plain.path))
    assert loaded.name == "mlpipe-training"
    assert set(loaded.component_spec.inputs) >= {"config", "train_data", "enable_tuning"}
    compiler.Compiler().compile(loaded, str(tmp_path / "again.yaml"))
    spec, platform = yaml.safe_load_all((tmp_path / "again.yaml").read_text())
    assert spec["root"] == compiled.plain.spec["root"]
    assert spec["deploymentSpec"] == compiled.plain.spec["deploymentSpec"]
    assert platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"] == compiled.plain.platform


def test_caching_retries_and_resources(compiled):
    tasks = compiled.plain.spec["root"]["dag"]["tasks"]
    for stage in STAGES:
        enabled = tasks[stage]["cachingOptions"].get("enableCache", False)
        # checks against what the registry holds now, and the steps after them, never come from cache
        assert enabled is (stage not in ("validate", "validation-gate", "evaluate", "push")), stage
    assert tasks["push"]["retryPolicy"]["maxRetryCount"] == 2
    assert tasks["push"]["retryPolicy"]["backoffDuration"] == "30s"
    assert all("retryPolicy" not in tasks[s] for s in STAGES if s != "push")
    expected = {
        "train": ("1", "4", "2Gi", "8Gi"),
        "tune": ("1", "4", "2Gi", "8Gi"),
        "push": ("250m", "1", "512Mi", "2Gi"),
        "ingest": ("500m", "2", "1Gi", "4Gi"),
        "evaluate": ("500m", "2", "1Gi", "4Gi"),
    }
    for stage in STAGES:
        resources = _executor(compiled.plain.spec, stage)["resources"]
        got = (
            resources["resourceCpuRequest"],
            resources["resourceCpuLimit"],
            resources["resourceMemoryRequest"],
            resources["resourceMemoryLimit"],
        )
        if stage in expected:
            assert got == expected[stage], stage
        assert all(got), stage


def test_no_gpu_or_placement_unless_asked(compiled):
    for stage in STAGES:
        assert "accelerator" not in _executor(compiled.plain.spec, stage)["resources"], stage
    for executor in compiled.plain.platform.values():
        assert "nodeSelector" not in executor and "tolerations" not in executor


def test_gpu_node_selector_and_toleration_when_set_at_compile_time(compiled):
    for stage in ("train", "tune"):
        accelerator = _executor(compiled.placed.spec, stage)["resources"]["accelerator"]
        assert accelerator["resourceType"] == "nvidia.com/gpu" and accelerator["resourceCount"] == "2"
        platform = compiled.placed.platform[f"exec-{stage}"]
        assert platform["nodeSelector"]["labels"] == {"pool": "gpu-a100"}
        assert platform["tolerations"] == [
            {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"}
        ]
    for stage in ("ingest", "evaluate", "push"):
        assert "accelerator" not in _executor(compiled.placed.spec, stage)["resources"]
        assert "nodeSelector" not in compiled.placed.platform.get(f"exec-{stage}", {})


def test_mlpipe_compile_writes_the_ir(tmp_path, capsys):
    from mlpipe.runtime.images import PUSH_IMAGE, TF_IMAGE

    target = tmp_path / "build" / "pipeline.yaml"
    assert main(["compile", "--output", str(target)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {target}"
    spec, _ = yaml.safe_load_all(target.read_text())
    assert _executor(spec, "train")["image"] == TF_IMAGE and _executor(spec, "push")["image"] == PUSH_IMAGE


def _config_default(path) -> dict:
    spec, _ = yaml.safe_load_all(path.read_text())
    return spec["root"]["inputDefinitions"]["parameters"]["config"]["defaultValue"]


def test_the_config_is_the_run_parameter_of_another_dataset_without_a_rebuild(
    tmp_path, adult_subsample, write_config
):
    """A second dataset needs a config, not an image: the IR's `config` default is that config,
    schema inlined, and a changed threshold in the YAML changes the compiled default."""
    sample = adult_subsample(tmp_path / "data", 50)
    changes = {
        "name": "census",
        "model_name": "census_income",
        "data": {"train": "s3://datasets/census/train.csv"},
        "registry.uri": "s3://models",
        "evaluation.min_auc": 0.8,
    }
    config = write_config(tmp_path / "cfg", changes, raw=yaml.safe_load(sample.config.read_text()))
    first = tmp_path / "first.yaml"
    assert main(["compile", "--config", str(config), "--output", str(first)]) == 0
    default = _config_default(first)
    assert default["name"] == "census" and default["model_name"] == "census_income"
    assert default["data"] == {"train": "s3://datasets/census/train.csv"}
    assert default["evaluation"]["min_auc"] == 0.8
    assert "schema_path" not in default  # no path of this machine travels

    write_config(
        tmp_path / "cfg",
        {**changes, "evaluation.min_auc": 0.83},
        raw=yaml.safe_load(sample.config.read_text()),
    )
    second = tmp_path / "second.yaml"
    assert main(["compile", "--config", str(config), "--output", str(second)]) == 0
    assert _config_default(second)["evaluation"]["min_auc"] == 0.83


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"data": {"train": "s3://d/train.csv"}, "registry.uri": "registry"}, "registry.uri"),
        ({"registry.uri": "s3://models"}, "data.train"),
        ({"data": {"train": "s3://d/t.csv"}, "registry.uri": "s3://m", "evaluation.fairness_gates": [
            {"feature": "sex", "metric": "acc", "max_gap": 0.1}]}, "evaluation.fairness_gates[0].metric"),
    ],
)  # fmt: skip
def test_compile_for_a_cluster_refuses_what_a_pod_cannot_use(tmp_path, write_config, capsys, changes, key):
    config = write_config(tmp_path, changes)
    target = tmp_path / "pipeline.yaml"
    assert main(["compile", "--config", str(config), "--output", str(target)]) == 2
    err = capsys.readouterr().err.strip()
    assert f"'{key}'" in err and len(err.splitlines()) == 1
    assert not target.exists()


def test_the_shipped_component_specs_are_current(tmp_path, repo_root):
    """components/<stage>/component.yaml is what `make compile` writes now (rerun it after a change)."""
    script = (
        "import sys; from mlpipe.pipelines.compile import compile_components; compile_components(sys.argv[1])"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLPIPE_IMAGE_")}
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for stage in STAGE_FOLDERS:
        shipped = repo_root / "components" / stage / "component.yaml"
        assert shipped.is_file(), f"{shipped} missing: run `make compile`"
        assert shipped.read_text() == (tmp_path / stage / "component.yaml").read_text(), (
            f"{shipped} is stale: run `make compile`"
        )


def test_a_shipped_component_loads_into_a_users_pipeline(repo_root, tmp_path):
    from kfp import compiler, components, dsl

    validate = components.load_component_from_file(str(repo_root / "components/validate/component.yaml"))
    assert set(validate.component_spec.inputs) == {"config", "statistics", "schema", "use_baseline"}
    assert validate.component_spec.inputs["config"].type == "Dict"
    assert "drift" in validate.component_spec.description

    @dsl.pipeline(name="users-pipeline")
    def users_pipeline(config: dict):
        ingest = components.load_component_from_file(str(repo_root / "components/ingest/component.yaml"))
        ingest(config=config, train_data="", eval_data="")

    compiler.Compiler().compile(users_pipeline, str(tmp_path / "p.yaml"))


def test_image_tags_follow_the_content(tmp_path, repo_root):
    from mlpipe.runtime.images import CODE, LOCKS, content_tag, image_inputs

    copy = tmp_path / "repo"
    for path in sorted({p for flavor in LOCKS for p in image_inputs(flavor, repo_root)}):
        target = copy / path.relative_to(repo_root)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    tags = {flavor: content_tag(flavor, copy) for flavor in LOCKS}
    assert tags == {flavor: content_tag(flavor, repo_root) for flavor in LOCKS}
    assert tags["tf"] != tags["push"] and all(t != "latest" for t in tags.values())
    (copy / "components" / "ingest" / "component.yaml").write_text("compiled specs are not image inputs")
    assert content_tag("tf", copy) == tags["tf"]
    (copy / "components" / "ingest" / "core.py").write_text("# new code\n", "utf-8")
    assert content_tag("tf", copy) != tags["tf"] and content_tag("push", copy) != tags["push"]
    (copy / LOCKS["push"]).write_text("a new lock\n")
    assert content_tag("tf", copy) != tags["tf"]
    assert "components" in CODE


# --- submit: a fake KFP v2beta1 API ---------------------------------------------------------------
