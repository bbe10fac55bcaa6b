"""Submitting the compiled pipeline to a Kubeflow Pipelines endpoint.

Checked against a local HTTP server that implements the part of the KFP v2beta1 REST API the
SDK client calls (healthz, experiments, runs, recurring runs) and records every request: no
KFP backend can run here.
"""

from __future__ import annotations

import json

import pytest

from mlpipe.cli.main import main
from mlpipe.cluster.submit import parse_params
from mlpipe.errors import UserInputError
from mlpipe.serving.names import load_serving_names

NAMES = load_serving_names()


class FakeKfp:
    """Enough of the KFP v2beta1 REST API for `kfp.Client`, answering on a recording server."""

    def __init__(self):
        self.experiments: dict[str, dict] = {}
        self.requests: list[dict] = []
        self.url = ""

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
def kfp_server(monkeypatch, tmp_path, recording_server):
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
    with recording_server(fake.answer) as server:
        fake.requests, fake.url = server.requests, server.url
        yield fake


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
    assert not body.get("service_account")  # the profile's account: no serving rights
    parameters = body["runtime_config"]["parameters"]
    assert set(parameters) == {"config", "enable_tuning", "train_data"}
    assert parameters["enable_tuning"] is False and parameters["train_data"] == "s3://data/adult/2026-01.csv"
    # the config travels as the run's parameter: the one baked into the package, visible in the UI
    assert (
        parameters["config"]
        == compiled.plain.spec["root"]["inputDefinitions"]["parameters"]["config"]["defaultValue"]
    )
    assert parameters["config"]["registry"]["uri"] == f"s3://{NAMES.registry_bucket}"
    spec = _pipeline_spec(body)
    assert spec["pipelineInfo"]["name"] == "mlpipe-training"
    assert spec["root"] == compiled.plain.spec["root"]
    if "platform_spec" in body["pipeline_spec"]:
        assert compiled.secret not in json.dumps(body["pipeline_spec"]["platform_spec"])
    for request in kfp_server.requests:
        assert request["headers"]["authorization"] == "Bearer token-abc.def", request["path"]
        assert request["headers"]["cookie"] == "authservice_session=cookie-123", request["path"]


def test_an_existing_experiment_is_reused_and_the_config_file_is_sent(
    kfp_server, compiled, capsys, tmp_path, write_config
):
    kfp_server.experiments["exp-9"] = {"experiment_id": "exp-9", "display_name": "mlpipe"}
    assert (
        main(
            [
                "submit",
                "--host",
                kfp_server.url,
                "--package",
                str(compiled.plain.path),
                "--config",
                str(
                    write_config(
                        tmp_path, {"data": {"train": "s3://d/t.csv"}, "registry.uri": "s3://other/m"}
                    )
                ),
            ]
        )
        == 0
    )
    assert kfp_server.posted("/apis/v2beta1/experiments") == []
    (run,) = kfp_server.posted("/apis/v2beta1/runs")
    assert run["body"]["experiment_id"] == "exp-9"
    (sent,) = run["body"]["runtime_config"]["parameters"].values()
    assert sent["registry"]["uri"] == "s3://other/m" and sent["data"] == {"train": "s3://d/t.csv"}
    assert "schema_pbtxt" in sent and "schema_path" not in sent
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
    assert not body.get("service_account")
    assert set(body["runtime_config"]["parameters"]) == {"config"}
    assert _pipeline_spec(body)["pipelineInfo"]["name"] == "mlpipe-training"


def test_parse_params():
    assert parse_params(["a=true", "b=False", "c=s3://x/y=z", "d="]) == {
        "a": True,
        "b": False,
        "c": "s3://x/y=z",
        "d": "",
    }
    with pytest.raises(UserInputError, match="--param expects key=value, got 'novalue'"):
        parse_params(["novalue"])
    with pytest.raises(UserInputError, match="got '=x'"):
        parse_params(["=x"])
    with pytest.raises(UserInputError, match="--param config: pass the config file with --config"):
        parse_params(["config={}"])


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--param", "train_data=/home/me/train.csv"], "'data.train'"),  # a local override
        (["--config", "configs/adult.yaml"], "'data.train'"),  # local data files
    ],
)
def test_nothing_is_submitted_that_a_pod_cannot_read(
    kfp_server, compiled, capsys, args, named, repo_root, monkeypatch
):
    monkeypatch.chdir(repo_root)
    assert main(["submit", "--host", kfp_server.url, "--package", str(compiled.plain.path), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert named in err and "cluster pod cannot read" in err and len(err.splitlines()) == 1
    assert kfp_server.requests == []


def test_a_package_compiled_for_local_runs_is_refused(kfp_server, tmp_path, capsys, repo_root, monkeypatch):
    monkeypatch.chdir(repo_root)
    package = tmp_path / "local.yaml"
    assert main(["compile", "--config", "configs/adult.yaml", "--local", "--output", str(package)]) == 0
    capsys.readouterr()
    assert main(["submit", "--host", kfp_server.url, "--package", str(package)]) == 2
    assert "'data.train'" in capsys.readouterr().err
    assert kfp_server.requests == []
