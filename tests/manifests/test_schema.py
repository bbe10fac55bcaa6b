"""Every rendered object validates offline against pinned schemas.

Core kinds: the Kubernetes OpenAPI schemas shipped by kubernetes-validate, in
strict mode (unknown fields are errors), for the Kubernetes version we pin:
1.32, the version of the kind node image (manifests/kind/cluster.yaml).
InferenceService: the KServe 0.15 schema assembled in kserve_schema.py.
"""

from __future__ import annotations

import copy

import jsonschema
import kubernetes_validate
import kubernetes_validate.utils as kv
import pytest
import yaml

from .kserve_schema import KSERVE_VERSION, inference_service_schema
from .objects import MANIFESTS, find, ref

K8S_SCHEMA_VERSION = "1.32.0"


@pytest.fixture(scope="module")
def isvc_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(inference_service_schema(K8S_SCHEMA_VERSION))


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


@pytest.mark.parametrize("name", ["base", "kind", "kubeflow"])
def test_objects_validate(rendered, isvc_validator, name):
    for obj in rendered[name]:
        if obj["kind"] == "InferenceService":
            errors = sorted(isvc_validator.iter_errors(obj), key=lambda e: list(e.path))
            assert not errors, f"{ref(obj)} (KServe {KSERVE_VERSION}): " + "; ".join(
                f"{'.'.join(map(str, e.path))}: {e.message[:200]}" for e in errors
            )
        else:
            validate_core(obj)


def test_local_registry_configmap_validates():
    validate_core(yaml.safe_load((MANIFESTS / "kind" / "local-registry-hosting.yaml").read_text()))


def test_validation_catches_mistakes(rendered, isvc_validator):
    """The checks are not vacuous: a typo'd field and a wrong type are rejected."""
    deployment = copy.deepcopy(find(rendered["kind"], "Deployment")[0])
    deployment["spec"]["template"]["spec"]["containers"][0]["resource"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_SCHEMA_VERSION, strict=True)

    isvc = copy.deepcopy(find(rendered["kubeflow"], "InferenceService")[0])
    assert isvc_validator.is_valid(isvc)
    bad = copy.deepcopy(isvc)
    bad["spec"]["predictor"]["model"]["storageURI"] = bad["spec"]["predictor"]["model"].pop("storageUri")
    assert not isvc_validator.is_valid(bad)
    bad = copy.deepcopy(isvc)
    del bad["spec"]["predictor"]["model"]["modelFormat"]
    assert not isvc_validator.is_valid(bad)
    bad = copy.deepcopy(isvc)
    bad["spec"]["predictor"]["canaryTrafficPercent"] = 150
    assert not isvc_validator.is_valid(bad)
    bad = copy.deepcopy(isvc)
    bad["spec"]["predictor"]["model"]["resources"]["limits"]["cpu"] = {"cores": 1}
    assert not isvc_validator.is_valid(bad)
