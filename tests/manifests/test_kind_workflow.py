"""The kind walkthrough (make/kind.mk, manifests/kind) short of a cluster: wiring, names, tool checks."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib

import pytest
import yaml

from mlpipe.runtime import images

from .objects import MANIFESTS, ROOT, find, one

KIND_MK = ROOT / "make" / "kind.mk"
WALKTHROUGH = ("kind-up", "deploy", "kind-load", "port-forward", "submit", "predict", "kind-down")


def make(*args: str, path: str | None = None) -> subprocess.CompletedProcess:
    make_bin = shutil.which("make")
    if make_bin is None:
        pytest.skip("make is not installed")
    env = {"HOME": str(ROOT), "PATH": path if path is not None else "/usr/bin:/bin"}
    return subprocess.run(
        [make_bin, "--no-print-directory", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_targets_have_descriptions():
    text = KIND_MK.read_text()
    for target in (*WALKTHROUGH, "kind-mirror", "render"):
        assert re.search(rf"^{target}:.*## \S", text, re.MULTILINE), f"{target} has no '## description'"


def test_help_lists_the_walkthrough():
    result = make("help")
    assert result.returncode == 0, result.stderr
    for target in WALKTHROUGH:
        assert target in result.stdout


def test_deploy_applies_the_kind_overlay_in_the_kind_context():
    result = make("-n", "deploy")
    assert result.returncode == 0, result.stderr
    assert "kubectl --context kind-mlpipe apply -k manifests/overlays/kind\n" in result.stdout
    blue_green = make("-n", "deploy", "DEPLOY_OVERLAY=kind-blue-green")
    assert "kubectl --context kind-mlpipe apply -k manifests/overlays/kind-blue-green" in blue_green.stdout


def test_kind_up_pins_kfp_and_uses_its_upstream_manifests():
    result = make("-n", "kind-up")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "kind create cluster --name mlpipe --config manifests/kind/cluster.yaml" in out
    assert (
        'apply -k "github.com/kubeflow/pipelines/manifests/kustomize/cluster-scoped-resources?ref=2.15.0"'
        in out
    )
    assert "wait --for condition=established" in out
    assert (
        'apply -k "github.com/kubeflow/pipelines/manifests/kustomize/env/platform-agnostic?ref=2.15.0"' in out
    )


def test_targets_name_missing_tools(tmp_path):
    """With nothing on PATH, each target stops and says which tools are missing."""
    expected = {
        "kind-up": "kind kubectl docker",
        "deploy": "kubectl",
        "kind-load": "docker",
        "port-forward": "kubectl",
        "predict": "curl",
        "kind-down": "kind docker",
    }
    for target, tools in expected.items():
        result = make(target, path=str(tmp_path))
        assert result.returncode != 0, target
        assert f"make {target}: missing on this machine: {tools}" in result.stderr, result.stderr


def test_predict_uses_model_name_and_sample():
    result = make("-n", "predict")
    assert result.returncode == 0, result.stderr
    assert "-d @manifests/samples/predict_request.json" in result.stdout
    assert "http://localhost:8501/v1/models/adult_income:predict" in result.stdout


def test_cluster_ports_match_node_ports(rendered):
    cluster = yaml.safe_load((MANIFESTS / "kind" / "cluster.yaml").read_text())
    mappings = {
        m["hostPort"]: m["containerPort"]
        for node in cluster["nodes"]
        for m in node.get("extraPortMappings", [])
    }
    minio = one(rendered["kind"], "Service", {"app.kubernetes.io/name": "minio"})
    serving = one(rendered["kind"], "Service", {"app.kubernetes.io/component": "serving"})
    node_port = {
        (s["metadata"]["name"], p["port"]): p.get("nodePort")
        for s in (minio, serving)
        for p in s["spec"]["ports"]
    }
    assert mappings[9000] == node_port[(minio["metadata"]["name"], 9000)]
    assert mappings[8501] == node_port[(serving["metadata"]["name"], 8501)]
    assert all(
        m.get("listenAddress") == "127.0.0.1"
        for node in cluster["nodes"]
        for m in node.get("extraPortMappings", [])
    )


def test_local_registry_wiring():
    cluster = yaml.safe_load((MANIFESTS / "kind" / "cluster.yaml").read_text())
    assert 'config_path = "/etc/containerd/certs.d"' in "".join(cluster["containerdConfigPatches"])
    hosts = tomllib.loads((MANIFESTS / "kind" / "registry-hosts.toml").read_text())
    assert list(hosts["host"]) == ["http://kind-registry:5000"]
    hosting = yaml.safe_load((MANIFESTS / "kind" / "local-registry-hosting.yaml").read_text())
    assert 'host: "localhost:5001"' in hosting["data"]["localRegistryHosting.v1"]
    assert images.DEFAULT_REGISTRY == "localhost:5001"
    text = KIND_MK.read_text()
    assert re.search(r"^KIND_REGISTRY_NAME\s*:= kind-registry$", text, re.MULTILINE)
    assert re.search(r"^KIND_REGISTRY_PORT\s*:= 5001$", text, re.MULTILINE)


def test_kind_overlay_pulls_mirrors_of_the_base_images(rendered):
    def images_of(objects):
        return {
            c["image"]
            for o in objects
            for k in ("initContainers", "containers")
            for c in (o.get("spec", {}).get("template", {}).get("spec", {}).get(k) or [])
        }

    base = images_of(rendered["base"])
    assert base and not any(i.startswith("localhost:") for i in base)
    mirrors = set()
    for image in base:
        first, _, rest = image.partition("/")
        mirrors.add("localhost:5001/" + (rest if "." in first or ":" in first else image))
    assert images_of(rendered["kind"]) == mirrors
    assert images_of(rendered["kind-blue-green"]) == mirrors
    assert not find(rendered["kubeflow"], "Deployment", {"app.kubernetes.io/component": "serving"})


def test_docs_walk_through_in_order():
    text = (ROOT / "docs" / "kind.md").read_text()
    assert "needs Docker, kind and kubectl" in text
    block = text.split("```sh", 1)[1].split("```", 1)[0]
    steps = [line.split("#")[0].split()[1:] for line in block.strip().splitlines()]
    order = [target for step in steps for target in step if target in WALKTHROUGH]
    assert order == ["kind-up", "deploy", "kind-load", "port-forward", "submit", "predict", "kind-down"]
