"""JSON schema of the KServe v1beta1 InferenceService fields we use, pinned to KServe 0.15.

The published CRD schema (config/crd/full/serving.kserve.io_inferenceservices.yaml)
is about 1 MB and not vendored here. Instead this schema is assembled from
the KServe 0.15 API types and the pinned Kubernetes OpenAPI definitions that
kubernetes-validate ships: a predictor is a PodSpec plus KServe's
ComponentExtensionSpec; `model` is a core Container plus ModelSpec /
PredictorExtensionSpec (and its `name` is optional). Unknown fields are
rejected at every level we use, so a typo or a field from another KServe
version fails the test.
"""

from __future__ import annotations

import json

import kubernetes_validate.utils as kv

KSERVE_VERSION = "0.15"
API_VERSION = "serving.kserve.io/v1beta1"
DNS_1035 = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"

_INT = {"type": "integer"}
_STR = {"type": "string"}
_STR_MAP = {"type": "object", "additionalProperties": _STR}

# ComponentExtensionSpec (pkg/apis/serving/v1beta1/component.go, KServe 0.15).
_COMPONENT_EXTENSION = {
    "minReplicas": {"type": "integer", "minimum": 0},
    "maxReplicas": {"type": "integer", "minimum": 0},
    "scaleTarget": _INT,
    "scaleMetric": {"enum": ["cpu", "memory", "concurrency", "rps"]},
    "scaleMetricType": {"enum": ["Utilization", "AverageValue", "Value"]},
    "containerConcurrency": _INT,
    "timeout": _INT,
    "canaryTrafficPercent": {"type": "integer", "minimum": 0, "maximum": 100},
    "logger": {"type": "object"},
    "batcher": {"type": "object"},
    "labels": _STR_MAP,
    "annotations": _STR_MAP,
    "deploymentStrategy": {"$ref": "#/$defs/io.k8s.api.apps.v1.DeploymentStrategy"},
    "autoScaling": {"type": "object"},
}
# PredictorExtensionSpec + ModelSpec (predictor.go, model.go).
_MODEL_FIELDS = {
    "modelFormat": {
        "type": "object",
        "properties": {"name": _STR, "version": _STR},
        "required": ["name"],
        "additionalProperties": False,
    },
    "runtime": _STR,
    "storageUri": _STR,
    "runtimeVersion": _STR,
    "protocolVersion": {"enum": ["v1", "v2", "grpc-v1", "grpc-v2"]},
    "storage": {
        "type": "object",
        "properties": {"path": _STR, "schemaPath": _STR, "parameters": _STR_MAP, "key": _STR},
        "additionalProperties": False,
    },
}
_FRAMEWORKS = (
    "sklearn",
    "xgboost",
    "tensorflow",
    "pytorch",
    "triton",
    "onnx",
    "huggingface",
    "pmml",
    "lightgbm",
    "paddle",
)


def _definitions(k8s_version: str) -> dict:
    return kv.schema_contents(
        f"kubernetes-json-schema/v{k8s_version}-local-strict/_definitions.json", k8s_version
    )


def inference_service_schema(k8s_version: str) -> dict:
    """Draft 2020-12 schema for an InferenceService; core types from Kubernetes `k8s_version`."""
    defs = _definitions(k8s_version)["$defs"]
    container = defs["io.k8s.api.core.v1.Container"]
    extension_container = {
        "type": "object",
        "properties": {**container["properties"], **_MODEL_FIELDS},
        "additionalProperties": False,
    }
    model = json.loads(json.dumps(extension_container))
    model["required"] = ["modelFormat"]
    pod = defs["io.k8s.api.core.v1.PodSpec"]
    predictor = {
        "type": "object",
        "properties": {
            **pod["properties"],
            **_COMPONENT_EXTENSION,
            "model": model,
            "workerSpec": {"type": "object"},
            **{name: extension_container for name in _FRAMEWORKS},
        },
        "additionalProperties": False,
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": defs,
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": API_VERSION},
            "kind": {"const": "InferenceService"},
            "metadata": {
                "allOf": [
                    {"$ref": "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"},
                    {
                        "required": ["name", "namespace"],
                        "properties": {"name": {"type": "string", "pattern": DNS_1035}},
                    },
                ]
            },
            "spec": {
                "type": "object",
                "required": ["predictor"],
                "properties": {
                    "predictor": predictor,
                    "transformer": {"type": "object"},
                    "explainer": {"type": "object"},
                },
                "additionalProperties": False,
            },
        },
        "additionalProperties": False,
    }
