"""The compiled pipeline (KFP IR YAML): stages, images, secrets by name, platform settings.

The IR comes from the session fixture `compiled` (tests/pipeline/conftest.py), compiled in
fresh processes with custom image settings and S3 credentials in their environment.
"""

from __future__ import annotations

import yaml

from components.serving import load_serving_names
from pipelines.cli import main

NAMES = load_serving_names()
STAGES = ["ingest", "statistics", "schema", "validate", "tune", "train", "evaluate", "infra-validate", "push"]


def _images(monkeypatch, image_env: dict) -> tuple[str, str]:
    from components.images import image

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
    assert "validate" in deps["tune"]
    assert {"tune", "schema", "ingest"} <= deps["train"]
    assert {"train", "ingest"} <= deps["evaluate"] and {"train", "ingest"} <= deps["infra-validate"]
    assert {"train", "evaluate", "infra-validate"} <= deps["push"]
    assert set(spec["root"]["inputDefinitions"]["parameters"]) == {
        "config_path",
        "train_data",
        "eval_data",
        "baseline_statistics",
        "enable_tuning",
        "registry_uri",
        "use_baseline",
        "serving_target",
    }


def test_images_come_from_components_images(compiled, monkeypatch):
    tf_image, push_image = _images(monkeypatch, compiled.image_env)
    assert tf_image == "registry.example.com/ml/mlpipe-tf:1.2.3-test"
    assert push_image == "registry.example.com/ml/mlpipe-push:1.2.3-test"
    for doc in (compiled.plain, compiled.placed):
        for stage in STAGES:
            expected = push_image if stage == "push" else tf_image
            assert _executor(doc.spec, stage)["image"] == expected, stage
    assert tf_image in compiled.plain.text and push_image in compiled.plain.text


def test_the_secret_is_referenced_by_name_and_no_credential_enters_the_ir(compiled):
    assert NAMES.credentials_secret == "mlpipe-minio-credentials"
    for doc in (compiled.plain, compiled.placed):
        assert compiled.secret not in doc.text and compiled.access not in doc.text
        assert "mlpipe-minio-credentials" in doc.text
        for executor in ("exec-ingest", "exec-evaluate", "exec-push"):
            (secret,) = doc.platform[executor]["secretAsEnv"]
            assert secret["secretName"] == NAMES.credentials_secret
            assert {(k["secretKey"], k["envVar"]) for k in secret["keyToEnv"]} == {
                ("AWS_ACCESS_KEY_ID", "MLPIPE_S3_ACCESS_KEY"),
                ("AWS_SECRET_ACCESS_KEY", "MLPIPE_S3_SECRET_KEY"),
            }
        push_env = {e["name"]: e["value"] for e in _executor(doc.spec, "push")["env"]}
        assert (
            push_env["MLPIPE_S3_ENDPOINT"] == NAMES.registry_endpoint
        )  # from params.env, not the compile env
        assert "secretAsEnv" not in doc.platform.get("exec-train", {})  # only the stages that need the store


def test_the_compiled_yaml_loads_back_with_kfp(compiled, tmp_path):
    from kfp import compiler, components

    loaded = components.load_component_from_file(str(compiled.plain.path))
    assert loaded.name == "mlpipe-training"
    assert set(loaded.component_spec.inputs) >= {"config_path", "registry_uri", "enable_tuning"}
    compiler.Compiler().compile(loaded, str(tmp_path / "again.yaml"))
    spec, platform = yaml.safe_load_all((tmp_path / "again.yaml").read_text())
    assert spec["root"] == compiled.plain.spec["root"]
    assert spec["deploymentSpec"] == compiled.plain.spec["deploymentSpec"]
    assert platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"] == compiled.plain.platform


def test_caching_retries_and_resources(compiled):
    tasks = compiled.plain.spec["root"]["dag"]["tasks"]
    for stage in STAGES:
        enabled = tasks[stage]["cachingOptions"].get("enableCache", False)
        assert enabled is (stage not in ("evaluate", "push")), stage
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
    from components.images import PUSH_IMAGE, TF_IMAGE

    target = tmp_path / "build" / "pipeline.yaml"
    assert main(["compile", "--output", str(target)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {target}"
    spec, _ = yaml.safe_load_all(target.read_text())
    assert _executor(spec, "train")["image"] == TF_IMAGE and _executor(spec, "push")["image"] == PUSH_IMAGE


# --- submit: a fake KFP v2beta1 API ---------------------------------------------------------------
