"""Serving names (namespace, deployment, model, registry bucket, secret), from one source.

The Kubernetes manifests and the push stage must agree on these names: a
pusher that patches `adult-income-serving` in `mlpipe-serving` is useless if
the manifests deployed something else. So both read the same kustomize
`params.env` (manifests/base/params.env): kustomize copies its values into
the manifests through `replacements`, and this module parses it for the code.
Change a name there, never here or in a manifest. On a cluster the push step and `mlpipe
submit` read the deployed copy, the overlay's `serving-params` ConfigMap (`serving_live`), so a
run always uses the names of what is actually deployed.

Stdlib only: the push image and the pipeline compiler import it without TF or kfp.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PARAMS_ENV = Path(__file__).resolve().parents[2] / "manifests" / "base" / "params.env"
PARAMS_CONFIGMAP = "serving-params"  # the overlays' copy of params.env, in the serving namespace

# Keys of the credentials Secret (CREDENTIALS_SECRET). KServe's storage
# initializer reads these names; the pipeline maps them to MLPIPE_S3_* env vars.
ACCESS_KEY_ID_KEY = "AWS_ACCESS_KEY_ID"
SECRET_ACCESS_KEY_KEY = "AWS_SECRET_ACCESS_KEY"
# Where the push step finds its own ServiceAccount token (PUSHER_TOKEN_SECRET): the run's other
# steps run with the run's account, which may not change serving.
PUSHER_TOKEN_DIR = "/var/run/secrets/mlpipe.io/pusher"

_FIELDS = {
    "namespace": "SERVING_NAMESPACE",
    "deployment": "SERVING_DEPLOYMENT",
    "service": "SERVING_SERVICE",
    "model_name": "MODEL_NAME",
    "inference_service": "INFERENCE_SERVICE",
    "registry_bucket": "REGISTRY_BUCKET",
    "registry_endpoint": "REGISTRY_ENDPOINT",
    "registry_secure": "REGISTRY_SECURE",
    "credentials_secret": "CREDENTIALS_SECRET",
    "pipeline_credentials_secret": "PIPELINE_CREDENTIALS_SECRET",
    "serving_credentials_secret": "SERVING_CREDENTIALS_SECRET",
    "pusher_service_account": "PUSHER_SERVICE_ACCOUNT",
    "pusher_token_secret": "PUSHER_TOKEN_SECRET",
    "pipeline_namespace": "PIPELINE_NAMESPACE",
}
_BOOLS = {"true": True, "false": False}


@dataclass(frozen=True)
class ServingNames:
    """Where the model is published and served.

    namespace: namespace of the serving Deployment / InferenceService, MinIO and the pusher's Role.
    deployment: TF Serving Deployment the pusher patches (plain Kubernetes mode).
    service: Service in front of that Deployment (REST 8501, gRPC 8500).
    model_name: TF Serving model name and the registry prefix `<bucket>/<model_name>/<version>/`.
    inference_service: KServe InferenceService name (Kubeflow mode); KServe serves the model under it.
    registry_bucket: bucket of the model registry.
    registry_endpoint: `host:port` of the S3 endpoint, no scheme.
    registry_secure: True for https.
    credentials_secret: MinIO's root credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), for
        MinIO and its setup Job only.
    pipeline_credentials_secret: read/write on the registry bucket alone: the pipeline's steps.
    serving_credentials_secret: read-only on the registry bucket: the serving pods.
    pusher_service_account: ServiceAccount allowed to get/patch the serving object.
    pusher_token_secret: that account's token Secret, mounted into the push step alone.
    pipeline_namespace: namespace where pipeline pods (and so the pusher) run.
    """

    namespace: str
    deployment: str
    service: str
    model_name: str
    inference_service: str
    registry_bucket: str
    registry_endpoint: str
    registry_secure: bool
    credentials_secret: str
    pipeline_credentials_secret: str
    serving_credentials_secret: str
    pusher_service_account: str
    pusher_token_secret: str = "mlpipe-pusher-token"
    pipeline_namespace: str = "kubeflow"

    @property
    def storage_uri(self) -> str:
        """Registry prefix that holds the model's versions."""
        return f"s3://{self.registry_bucket}/{self.model_name}"

    def version_uri(self, version: int) -> str:
        """Version `version`'s serving prefix as the cluster reads it (KServe's storageUri): it holds
        exactly the folder `<version>/`; the trailing slash keeps `1/` from matching `10/`."""
        return f"{self.storage_uri}/{int(version)}/"


def parse_params_env(path: Path) -> dict[str, str]:
    """KEY=value lines as kustomize reads an env file: `#` comments and blank lines skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read serving params {path}: {exc.strerror or exc}") from exc
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{path}:{number}: expected KEY=value, got {raw!r}")
        values[key.strip()] = value.strip()
    return values


def load_serving_names(params_env: Path | None = None, overrides: Path | None = None) -> ServingNames:
    """Serving names from `params_env` (default: manifests/base/params.env).

    overrides: an overlay's partial params.env, merged on top as kustomize's
    `configMapGenerator` with `behavior: merge` does (manifests/overlays/kubeflow/params.env).
    """
    path = Path(params_env) if params_env is not None else PARAMS_ENV
    values = parse_params_env(path)
    where = str(path)
    if overrides is not None:
        values.update(parse_params_env(Path(overrides)))
        where = f"{path} + {overrides}"
    return names_from_params(values, where)


def names_from_params(values: dict[str, str], where: str) -> ServingNames:
    """ServingNames from params.env's keys: a parsed file, or the data of the `serving-params`
    ConfigMap that the overlays generate from it (what a cluster runs with)."""
    missing = [key for key in _FIELDS.values() if not values.get(key)]
    if missing:
        raise ValueError(f"{where}: missing serving param {missing[0]}")
    secure_text = values["REGISTRY_SECURE"].lower()
    if secure_text not in _BOOLS:
        raise ValueError(f"{where}: REGISTRY_SECURE must be true or false, got {values['REGISTRY_SECURE']!r}")
    secure = _BOOLS[secure_text]
    scheme = values.get("REGISTRY_SCHEME")
    if scheme is not None and scheme != ("https" if secure else "http"):
        raise ValueError(f"{where}: REGISTRY_SCHEME={scheme} contradicts REGISTRY_SECURE={secure_text}")
    if "://" in values["REGISTRY_ENDPOINT"]:
        raise ValueError(f"{where}: REGISTRY_ENDPOINT is host:port without a scheme")
    fields = {field: values[key] for field, key in _FIELDS.items()}
    fields["registry_secure"] = secure
    return ServingNames(**fields)
