"""The object store client, configured only from the environment.

Keys never live in config files, IR or manifests: locally they come from the
shell, on the cluster from a Kubernetes Secret mapped to the same variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlparse

from mlpipe.components.errors import UserInputError

ENDPOINT = "MLPIPE_S3_ENDPOINT"
ACCESS_KEY = "MLPIPE_S3_ACCESS_KEY"
SECRET_KEY = "MLPIPE_S3_SECRET_KEY"
SECURE = "MLPIPE_S3_SECURE"
REGION = "MLPIPE_S3_REGION"


def split_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/key/part` -> (`bucket`, `key/part`)."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise UserInputError(f"not an s3:// location: {uri}")
    return parsed.netloc, parsed.path.lstrip("/")


def client_from_env(environ: Mapping[str, str]):
    """A `minio.Minio` client from MLPIPE_S3_* variables; names the missing one."""
    from minio import Minio

    missing = [name for name in (ENDPOINT, ACCESS_KEY, SECRET_KEY) if not environ.get(name)]
    if missing:
        raise UserInputError(
            f"an s3:// location needs the environment variable {missing[0]} "
            f"(set {ENDPOINT}, {ACCESS_KEY} and {SECRET_KEY})"
        )
    endpoint = environ[ENDPOINT]
    secure = environ.get(SECURE, "false").lower() in ("1", "true", "yes")
    for scheme in ("http://", "https://"):
        if endpoint.startswith(scheme):
            secure = scheme == "https://"
            endpoint = endpoint[len(scheme) :]
    return Minio(
        endpoint,
        access_key=environ[ACCESS_KEY],
        secret_key=environ[SECRET_KEY],
        secure=secure,
        region=environ.get(REGION) or None,
    )


def upload_files(files: list[str], destination: str, environ: Mapping[str, str]) -> list[str]:
    """Put local files under an `s3://bucket/prefix/`; returns their URIs. Checks every file first."""
    from pathlib import Path

    bucket, prefix = split_uri(destination)
    paths = [Path(f) for f in files]
    for path in paths:
        if not path.is_file():
            raise UserInputError(f"cannot upload {path}: not a file")
    client = client_from_env(environ)
    if not client.bucket_exists(bucket):
        raise UserInputError(f"bucket '{bucket}' does not exist at {environ.get(ENDPOINT)}")
    uris = []
    for path in paths:
        key = f"{prefix.rstrip('/')}/{path.name}" if prefix else path.name
        client.fput_object(bucket, key, str(path))
        uris.append(f"s3://{bucket}/{key}")
    return uris
