"""Open the registry a URI names (a directory or `s3://bucket/prefix`), and the queries that
stages make of it: what serves now, the newest blessed version.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mlpipe.errors import UserInputError
from mlpipe.registry.local import LocalRegistry
from mlpipe.registry.s3 import S3Registry

__all__ = ["LocalRegistry", "S3Registry", "open_registry", "latest_blessed", "served_statistics"]


def open_registry(uri: str, environ: Mapping[str, str]):
    """A registry for a directory path or an `s3://bucket/prefix` (credentials from `environ`)."""
    if uri.startswith("s3://"):
        from mlpipe.storage.s3 import client_from_env, reaching

        client = client_from_env(environ)
        registry = S3Registry(uri, client)
        with reaching(environ, f"the registry {uri}"):
            exists = client.bucket_exists(registry.bucket)
        if not exists:
            raise UserInputError(
                f"registry bucket '{registry.bucket}' does not exist at {environ.get('MLPIPE_S3_ENDPOINT')}"
            )
        return registry
    return LocalRegistry(uri)


def served_statistics(registry, model: str) -> tuple[int, Path] | None:
    """(version, statistics folder) of the version serving points at, when it has statistics."""
    version = registry.serving_version(model)
    if version is None:
        return None
    folder = registry.attachment(model, version, "statistics")
    return (version, folder) if folder is not None else None


def latest_blessed(registry, model: str) -> dict | None:
    """Metadata of the newest published version whose evaluation blessed it."""
    for version in reversed(registry.versions(model)):
        meta = registry.metadata(model, version)
        if meta.get("blessed", False):
            return meta
    return None
