"""Every rendered object validates offline against pinned schemas.

Core kinds: the Kubernetes OpenAPI schemas shipped by kubernetes-validate, in
strict mode (unknown fields are errors), for the Kubernetes version we pin:
1.32, the version of the kind node image (manifests/kind/cluster.yaml).
InferenceService and Istio's VirtualService: their real CRDs on a real API server, in tests/cluster.
"""

from __future__ import annotations

import copy

import kubernetes_validate
import kubernetes_validate.utils as kv
import pytest
import yaml

from .objects import MANIFESTS, find, ref

K8S_SCHEMA_VERSION = "1.32.0"


def validate_core(obj: dict) -> None:
    try:
        kubernetes_validate.validate(obj, K8S_SCHEMA_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(part) for part in exc.path)
        pytest.fail(f"{ref(obj)} is invalid for Kubernetes {K8S_SCHEMA_VERSION}: {path}: {exc.message}")
    except kv.SchemaNotFoundError as exc:
        pytest.fail(f"{ref(obj)}: {exc.message}; add a schema check for it")


def test_pinned_schema_version_is_shipped():
    assert K8S_SCHEMA_VERSION in kv.all_versions(), (
        f"kubernetes-validate {kv.__version__} ships {kv.all_versions()}, not the pinned {K8S_SCHEMA_VERSION}"
    )


def test_kind_node_image_matches_schema_version():
    cluster = yaml.safe_load((MANIFESTS / "kind" / "cluster.yaml").read_text())
    major_minor = ".".join(K8S_SCHEMA_VERSION.split(".")[:2])
    for node in cluster["nodes"]:
        assert node["image"].startswith(f"kindest/node:v{major_minor}."), node["image"]


@pytest.mark.parametrize("name", ["base", "kind", "kubeflow", "kind-blue-green", "kubeflow-shadow"])
def test_objects_validate(rendered, name):
    for obj in rendered[name]:
        if obj["kind"] not in ("InferenceService", "VirtualService"):  # real CRDs judge them: tests/cluster
            validate_core(obj)


def test_local_registry_configmap_validates():
    validate_core(yaml.safe_load((MANIFESTS / "kind" / "local-registry-hosting.yaml").read_text()))


def test_validation_catches_mistakes(rendered):
    """The check is not vacuous: a typo'd field is rejected."""
    deployment = copy.deepcopy(find(rendered["kind"], "Deployment")[0])
    deployment["spec"]["template"]["spec"]["containers"][0]["resource"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_SCHEMA_VERSION, strict=True)
