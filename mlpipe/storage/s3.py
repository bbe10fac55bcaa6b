"""The object store client, configured only from the environment.

Keys never live in config files, IR or manifests: locally they come from the
shell, on the cluster from a Kubernetes Secret mapped to the same variables.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from urllib.parse import urlparse

from mlpipe.errors import UserInputError

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
    try:
        return Minio(
            endpoint,
            access_key=environ[ACCESS_KEY],
            secret_key=environ[SECRET_KEY],
            secure=secure,
            region=environ.get(REGION) or None,
        )
    except ValueError as exc:  # minio checks the endpoint's form: host[:port], no path
        raise UserInputError(f"{ENDPOINT} {environ[ENDPOINT]!r} is not a valid endpoint: {exc}") from None


def network_reason(exc: BaseException) -> str:
    """urllib3's innermost reason without the connection object's repr."""
    reason = getattr(exc, "reason", None) or exc
    return str(reason).split(">: ", 1)[-1].replace("\n", " ")


@contextlib.contextmanager
def reaching(environ: Mapping[str, str], what: str) -> Iterator[None]:
    """Turn a network failure talking to the object store, or a name minio refuses, into one line
    naming the endpoint and `what` was being read or written (S3's own errors pass through)."""
    import urllib3
    from minio.error import MinioException, S3Error

    endpoint = environ.get(ENDPOINT, "")
    try:
        yield
    except urllib3.exceptions.HTTPError as exc:
        raise UserInputError(
            f"cannot reach the object store at {endpoint} for {what}: {network_reason(exc)}"
        ) from None
    except (S3Error, UserInputError):
        raise
    except ValueError as exc:  # minio's own checks: bucket and object names
        raise UserInputError(f"{what}: {exc}") from None
    except MinioException as exc:  # an answer that is not S3's (a web page, a proxy's error)
        raise UserInputError(
            f"the object store at {endpoint} gave no valid S3 answer for {what}: {network_reason(exc)}"
        ) from None


def upload_files(files: list[str], destination: str, environ: Mapping[str, str]) -> list[str]:
    """Put local files under an `s3://bucket/prefix/`; returns their URIs. Checks every file first."""
    from pathlib import Path

    bucket, prefix = split_uri(destination)
    paths = [Path(f) for f in files]
    for path in paths:
        if not path.is_file():
            raise UserInputError(f"cannot upload {path}: not a file")
    client = client_from_env(environ)
    with reaching(environ, destination):
        if not client.bucket_exists(bucket):
            raise UserInputError(f"bucket '{bucket}' does not exist at {environ.get(ENDPOINT)}")
        uris = []
        for path in paths:
            key = f"{prefix.rstrip('/')}/{path.name}" if prefix else path.name
            client.fput_object(bucket, key, str(path))
            uris.append(f"s3://{bucket}/{key}")
    return uris
