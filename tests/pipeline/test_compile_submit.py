"""The compiled pipeline (KFP IR YAML) and its submission to a Kubeflow Pipelines endpoint.

Compile runs in a subprocess, because image names are read from the environment when
`components.images` is imported. Submission is checked against a local HTTP server that implements
the part of the KFP v2beta1 REST API the SDK client calls (healthz, experiments, runs, recurring
runs) and records every request: no KFP backend can run here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
import yaml

from components.serving import load_serving_names
from pipelines.cli import main
from pipelines.submit import parse_params

NAMES = load_serving_names()
STAGES = ["ingest", "statistics", "schema", "validate", "tune", "train", "evaluate", "infra-validate", "push"]
SECRET = "some-unique-secret-6b1f0e"
ACCESS = "some-unique-access-93ad"
IMAGE_ENV = {"MLPIPE_IMAGE_REGISTRY": "registry.example.com/ml", "MLPIPE_IMAGE_TAG": "1.2.3-test"}
PLACEMENT_ENV = {
    "MLPIPE_TRAIN_GPUS": "2",
    "MLPIPE_TRAIN_NODE_SELECTOR": "pool=gpu-a100",
    "MLPIPE_TRAIN_TOLERATION": "nvidia.com/gpu=present:NoSchedule",
}

COMPILE = "import sys; from pipelines.submit import compile_pipeline; compile_pipeline(sys.argv[1])"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory, repo_root) -> types.SimpleNamespace:
    """The IR compiled in fresh processes with custom images and S3 credentials in their environment:
    `plain` without, `placed` with the MLPIPE_TRAIN_* placement settings. (A fresh process each: the
    `@dsl.pipeline` decorator builds the graph, and so reads the settings, when pipelines.training is imported.)"""
    out = tmp_path_factory.mktemp("compiled")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLPIPE_TRAIN_", "MLPIPE_IMAGE_"))}
    env.update(
        IMAGE_ENV,
        MLPIPE_S3_SECRET_KEY=SECRET,
        MLPIPE_S3_ACCESS_KEY=ACCESS,
        MLPIPE_S3_ENDPOINT="minio:9000",
        PYTHONPATH=str(repo_root),
    )
    docs = {}
    for name, extra in (("plain", {}), ("placed", PLACEMENT_ENV)):
        path = out / f"{name}.yaml"
        done = subprocess.run(
            [sys.executable, "-c", COMPILE, str(path)],
            cwd=repo_root,
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        text = path.read_text()
        spec, platform = yaml.safe_load_all(text)
        docs[name] = types.SimpleNamespace(
            path=path,
            text=text,
            spec=spec,
            platform=platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"],
            output=done.stdout + done.stderr,
        )
    return types.SimpleNamespace(**docs)


def _images(monkeypatch) -> tuple[str, str]:
    from components.images import image

    for key, value in IMAGE_ENV.items():
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
    tf_image, push_image = _images(monkeypatch)
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
        assert SECRET not in doc.text and ACCESS not in doc.text
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


class FakeKfp:
    """Enough of the KFP v2beta1 REST API for `kfp.Client`; records every request."""

    def __init__(self):
        self.requests: list[dict] = []
        self.experiments: dict[str, dict] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                path, _, query = self.path.partition("?")
                request = {
                    "method": self.command,
                    "path": path,
                    "query": parse_qs(query),
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body,
                }
                fake.requests.append(request)
                try:
                    status, answer = fake.answer(request)
                except Exception as exc:  # an unexpected request shape: answer, and let the test see it
                    status, answer = 500, {"error": repr(exc), "code": 13}
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _handle

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, request: dict) -> tuple[int, dict]:
        method, path, body = request["method"], request["path"], request["body"]
        if (method, path) == ("GET", "/apis/v2beta1/healthz"):
            return 200, {"multi_user": False}
        if (method, path) == ("GET", "/apis/v2beta1/experiments"):
            (predicate,) = json.loads(request["query"]["filter"][0])["predicates"]
            assert predicate["key"] == "display_name"
            wanted = predicate.get("stringValue", predicate.get("string_value"))
            found = [e for e in self.experiments.values() if e["display_name"] == wanted]
            return 200, {"experiments": found, "total_size": len(found)} if found else {}
        if (method, path) == ("POST", "/apis/v2beta1/experiments"):
            experiment = {**body, "experiment_id": f"exp-{len(self.experiments) + 1}"}
            self.experiments[experiment["experiment_id"]] = experiment
            return 200, experiment
        if (method, path) == ("POST", "/apis/v2beta1/runs"):
            return 200, {**body, "run_id": "run-42", "state": "PENDING"}
        if (method, path) == ("POST", "/apis/v2beta1/recurringruns"):
            return 200, {**body, "recurring_run_id": "rr-7", "status": "ENABLED"}
        return 404, {"error": f"no route {method} {path}", "code": 5}

    def posted(self, path: str) -> list[dict]:
        return [r for r in self.requests if r["method"] == "POST" and r["path"] == path]


@pytest.fixture
def kfp_server(monkeypatch, tmp_path):
    import kfp.client.client as kfp_client

    # no ~/.config/kfp/context.json of the machine's user may leak into the test
    monkeypatch.setattr(kfp_client.Client, "_LOCAL_KFP_CONTEXT", str(tmp_path / "no-context.json"))
    for name in (
        "MLPIPE_KFP_TOKEN",
        "MLPIPE_KFP_COOKIE",
        "KF_PIPELINES_ENDPOINT_ENV",
        "KF_PIPELINES_UI_ENDPOINT",
    ):
        monkeypatch.delenv(name, raising=False)
    fake = FakeKfp()
    thread = threading.Thread(target=fake.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def _pipeline_spec(run_body: dict) -> dict:
    spec = run_body["pipeline_spec"]
    return spec.get("pipeline_spec", spec)


def test_submit_posts_a_run_with_spec_parameters_name_experiment_and_auth(
    kfp_server, compiled, monkeypatch, capsys
):
    monkeypatch.setenv("MLPIPE_KFP_TOKEN", "token-abc.def")
    monkeypatch.setenv("MLPIPE_KFP_COOKIE", "authservice_session=cookie-123")
    code = main(
        [
            "submit",
            "--host",
            kfp_server.url,
            "--package",
            str(compiled.plain.path),
            "--experiment",
            "adult-income",
            "--run-name",
            "nightly",
            "--param",
            "enable_tuning=false",
            "--param",
            "train_data=s3://data/adult/2026-01.csv",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1] == f"{kfp_server.url}/#/runs/details/run-42"

    (created,) = kfp_server.posted("/apis/v2beta1/experiments")
    assert created["body"]["display_name"] == "adult-income"
    (run,) = kfp_server.posted("/apis/v2beta1/runs")
    body = run["body"]
    assert body["display_name"] == "nightly"
    assert body["experiment_id"] == "exp-1"
    assert body["service_account"] == NAMES.pusher_service_account
    assert body["runtime_config"]["parameters"] == {
        "registry_uri": f"s3://{NAMES.registry_bucket}",
        "enable_tuning": False,
        "train_data": "s3://data/adult/2026-01.csv",
    }
    assert body["runtime_config"]["parameters"]["registry_uri"] == "s3://models"
    spec = _pipeline_spec(body)
    assert spec["pipelineInfo"]["name"] == "mlpipe-training"
    assert spec["root"] == compiled.plain.spec["root"]
    if "platform_spec" in body["pipeline_spec"]:
        assert SECRET not in json.dumps(body["pipeline_spec"]["platform_spec"])
    for request in kfp_server.requests:
        assert request["headers"]["authorization"] == "Bearer token-abc.def", request["path"]
        assert request["headers"]["cookie"] == "authservice_session=cookie-123", request["path"]


def test_an_existing_experiment_is_reused_and_params_override_the_registry(kfp_server, compiled, capsys):
    kfp_server.experiments["exp-9"] = {"experiment_id": "exp-9", "display_name": "mlpipe"}
    assert (
        main(
            [
                "submit",
                "--host",
                kfp_server.url,
                "--package",
                str(compiled.plain.path),
                "--param",
                "registry_uri=s3://other-bucket/models",
            ]
        )
        == 0
    )
    assert kfp_server.posted("/apis/v2beta1/experiments") == []
    (run,) = kfp_server.posted("/apis/v2beta1/runs")
    assert run["body"]["experiment_id"] == "exp-9"
    assert run["body"]["runtime_config"]["parameters"] == {"registry_uri": "s3://other-bucket/models"}
    assert all(
        "authorization" not in r["headers"] and "cookie" not in r["headers"] for r in kfp_server.requests
    )
    assert capsys.readouterr().out.strip().splitlines()[-1].endswith("/#/runs/details/run-42")


def test_a_recurring_run_is_posted_with_the_cron(kfp_server, compiled, capsys):
    assert (
        main(
            [
                "submit",
                "--host",
                kfp_server.url,
                "--package",
                str(compiled.plain.path),
                "--recurring",
                "0 0 * * * *",
                "--namespace",
                "team-a",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.strip().splitlines()[-1] == f"{kfp_server.url}/#/recurringrun/details/rr-7"
    assert kfp_server.posted("/apis/v2beta1/runs") == []
    (listed,) = [
        r for r in kfp_server.requests if r["path"] == "/apis/v2beta1/experiments" and r["method"] == "GET"
    ]
    assert listed["query"]["namespace"] == ["team-a"]
    (created,) = kfp_server.posted("/apis/v2beta1/experiments")
    assert created["body"]["namespace"] == "team-a"
    (job,) = kfp_server.posted("/apis/v2beta1/recurringruns")
    body = job["body"]
    assert body["trigger"]["cron_schedule"]["cron"] == "0 0 * * * *"
    assert body["display_name"] == "mlpipe-training-recurring"
    assert body["experiment_id"] == "exp-1"
    assert body["service_account"] == NAMES.pusher_service_account
    assert body["runtime_config"]["parameters"] == {"registry_uri": "s3://models"}
    assert _pipeline_spec(body)["pipelineInfo"]["name"] == "mlpipe-training"


def test_parse_params():
    assert parse_params(["a=true", "b=False", "c=s3://x/y=z", "d="]) == {
        "a": True,
        "b": False,
        "c": "s3://x/y=z",
        "d": "",
    }
    with pytest.raises(ValueError, match="--param expects key=value, got 'novalue'"):
        parse_params(["novalue"])
    with pytest.raises(ValueError, match="got '=x'"):
        parse_params(["=x"])
