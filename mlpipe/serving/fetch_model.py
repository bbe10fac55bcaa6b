"""The `kserve-python` runtime's init container: copy one model version from the registry into the
pod's model folder with KServe's own storage initializer (`kserve_storage`, the code of KServe's
storage-initializer image), so S3 settings are KServe's: `AWS_ACCESS_KEY_ID`,
`AWS_SECRET_ACCESS_KEY`, `AWS_ENDPOINT_URL` (default: `REGISTRY_SCHEME://REGISTRY_ENDPOINT`, the
serving params the pod already has), `S3_USE_HTTPS`.

    python -m mlpipe.serving.fetch_model s3://<bucket>/<model>/<N>/ /models/<model>/

Exits 1 with one line naming the URI when nothing is there, so `kubectl describe pod` shows why
the pod never started. Runs in the serve image.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m mlpipe.serving.fetch_model SOURCE_URI OUT_DIR", file=sys.stderr)
        return 2
    source, out_dir = args
    if "//" in source.partition("://")[2]:  # $(MODEL_VERSION) expanded to nothing
        print(
            f"cannot fetch the model from {source}: no version is set (the pusher sets the pod "
            "template annotation mlpipe.io/model-version; nothing was pushed yet)",
            file=sys.stderr,
        )
        return 1
    # the endpoint from the serving params (REGISTRY_SCHEME, REGISTRY_ENDPOINT), unless set
    if os.environ.get("REGISTRY_ENDPOINT") and not os.environ.get("AWS_ENDPOINT_URL"):
        scheme = os.environ.get("REGISTRY_SCHEME") or "http"
        os.environ["AWS_ENDPOINT_URL"] = f"{scheme}://{os.environ['REGISTRY_ENDPOINT']}"
    from kserve_storage import Storage

    try:
        Storage.download(source, out_dir)
    except Exception as exc:  # noqa: BLE001 - one line for the pod's termination message
        print(f"cannot fetch the model from {source}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
