"""The `kserve-python` serving runtime: KServe's Python model server over our SavedModel, speaking
TF Serving's REST protocol, for clusters where TF Serving's image cannot be pulled.

`POST /v1/models/<name>:predict` takes `{"signature_name", "instances"}` (rows) or `"inputs"`
(columns) and answers `{"predictions": ...}` shaped as TF Serving shapes it; `GET /v1/models/<name>`
is 200 only once the model is loaded (the readiness probe). Every answer carries the serving
version in the `X-Model-Version` header, so a client can tell which version answered during a
rollout. SIGTERM is KServe's graceful shutdown: in-flight requests finish first.

Runs in the serve image (docker/serve.Dockerfile: TensorFlow + kserve, no TFDV): imports nothing of
mlpipe but `tensor_io`, so it needs none of the pipeline's dependencies.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from mlpipe.serving.tensor_io import batch_inputs, predictions

VERSION_HEADER = "X-Model-Version"
log = logging.getLogger(__name__)


def latest_version(base_path: Path) -> tuple[int, Path]:
    """The highest numeric version folder under `base_path`, as TF Serving picks it."""
    versions = [(int(p.name), p) for p in base_path.iterdir() if p.is_dir() and p.name.isdigit()]
    if not versions:
        raise FileNotFoundError(
            f"no model version under {base_path}: expected numbered folders (e.g. {base_path}/1/)"
        )
    return max(versions)


def _model_class():
    import kserve  # the serve image's dependency, not the pipeline's

    class SavedModel(kserve.Model):
        """One SavedModel, its signatures called with batched tensors built from the request."""

        def __init__(self, name: str, base_path: Path):
            super().__init__(name, return_response_headers=True)
            self.base_path = base_path
            self.version: int | None = None
            self.model = None

        def load(self) -> bool:
            import tensorflow as tf

            self.version, folder = latest_version(self.base_path)
            self.model = tf.saved_model.load(str(folder))
            log.info("loaded %s version %d from %s", self.name, self.version, folder)
            self.ready = True
            return self.ready

        async def predict(self, payload, headers=None, response_headers=None):
            if isinstance(payload, (bytes, str)):  # no JSON content type: TF Serving parses it anyway
                payload = json.loads(payload)
            name = payload.get("signature_name") or "serving_default"
            if name not in self.model.signatures:
                from kserve.errors import InvalidInput

                known = ", ".join(sorted(self.model.signatures))
                raise InvalidInput(f"signature {name!r} not found; this model has: {known}")
            signature = self.model.signatures[name]
            try:
                inputs = batch_inputs(signature.structured_input_signature[1], payload)
            except ValueError as exc:
                from kserve.errors import InvalidInput

                raise InvalidInput(str(exc)) from exc
            outputs = signature(**inputs)
            if response_headers is not None:
                response_headers[VERSION_HEADER] = str(self.version)
            return predictions({key: value.numpy() for key, value in outputs.items()}, payload)

    return SavedModel


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model_name", required=True)
    parser.add_argument("--model_base_path", required=True, type=Path)
    parser.add_argument("--http_port", type=int, default=8501)
    parser.add_argument("--grace_period", type=int, default=20, help="seconds SIGTERM waits for requests")
    args, _ = parser.parse_known_args(argv)
    import kserve

    model = _model_class()(args.model_name, args.model_base_path)
    model.load()  # before the server listens: the readiness probe fails until the model is in
    kserve.ModelServer(http_port=args.http_port, enable_grpc=False, grace_period=args.grace_period).start(
        [model]
    )


if __name__ == "__main__":
    main()
