"""Rendering and lookups over rendered Kubernetes objects, shared by the manifest tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"
PARAMS_ENV = MANIFESTS / "base" / "params.env"
KUBEFLOW_PARAMS_ENV = MANIFESTS / "overlays" / "kubeflow" / "params.env"
SHADOW_PARAMS_ENV = MANIFESTS / "overlays" / "kubeflow-shadow" / "params.env"
OVERLAYS = ("kind", "kubeflow", "kind-blue-green", "kubeflow-shadow")
KUSTOMIZATIONS = {"base": MANIFESTS / "base", **{name: MANIFESTS / "overlays" / name for name in OVERLAYS}}


def kustomize(path: Path) -> list[dict]:
    """Objects that `kubectl kustomize path` renders; fails the test with kubectl's message."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail(
            "kubectl is not on PATH: the manifest tests render with `kubectl kustomize` "
            "(kubectl >= 1.27, built-in kustomize v5); install kubectl and run again",
            pytrace=False,
        )
    result = subprocess.run(
        [kubectl, "kustomize", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"kubectl kustomize {path} failed:\n{result.stderr}", pytrace=False)
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def labels(obj: dict) -> dict[str, str]:
    return obj["metadata"].get("labels") or {}


def find(objects: list[dict], kind: str, selector: dict[str, str] | None = None) -> list[dict]:
    """Objects of `kind` whose labels include every `selector` pair."""
    wanted = (selector or {}).items()
    return [obj for obj in objects if obj["kind"] == kind and wanted <= labels(obj).items()]


def one(objects: list[dict], kind: str, selector: dict[str, str] | None = None) -> dict:
    found = find(objects, kind, selector)
    assert len(found) == 1, f"expected one {kind} with labels {selector}, found {[ref(o) for o in found]}"
    return found[0]


def ref(obj: dict) -> str:
    """`Kind namespace/name`, for messages."""
    meta = obj["metadata"]
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj['kind']} {where}{meta['name']}"


def pod_specs(obj: dict) -> list[dict]:
    """Pod specs inside a workload (Deployment, StatefulSet, Job, ...) or a KServe predictor."""
    spec = obj.get("spec") or {}
    if obj["kind"] == "InferenceService":
        return [spec["predictor"]]
    template = spec.get("template") or spec.get("jobTemplate", {}).get("spec", {}).get("template")
    return [template["spec"]] if template else []


def containers(pod_spec: dict) -> list[dict]:
    """Every container of a pod spec, init containers included; a KServe predictor's `model`."""
    found = list(pod_spec.get("initContainers") or []) + list(pod_spec.get("containers") or [])
    if "model" in pod_spec:
        found.append(pod_spec["model"])
    return found


def workloads(objects: list[dict]) -> list[dict]:
    return [obj for obj in objects if pod_specs(obj)]
