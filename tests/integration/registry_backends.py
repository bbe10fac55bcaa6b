"""Registry test helpers: a SavedModel-shaped folder and a registry backend with a look underneath."""

from __future__ import annotations

import io
import os
import types
from pathlib import Path

import pytest

from mlpipe.registry.local import LocalRegistry
from mlpipe.registry.s3 import S3Registry

MODEL = "adult_income"
BACKENDS = ["local", pytest.param("s3", marks=pytest.mark.s3)]


def make_model_dir(folder: Path, marker: str = "v") -> Path:
    """A SavedModel-shaped folder (the registry copies files; it never loads them)."""
    (folder / "variables").mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(f"graph-{marker}".encode())
    (folder / "variables" / "variables.index").write_bytes(f"index-{marker}".encode())
    (folder / "variables" / "variables.data-00000-of-00001").write_bytes(os.urandom(2048))
    return folder


class Backend(types.SimpleNamespace):
    """A registry plus what a test needs to look underneath it."""

    kind: str
    uri: str
    registry: LocalRegistry | S3Registry
    environ: dict

    def files(self, prefix: str) -> dict[str, bytes]:
        """Every file (object) under `<model>/<prefix>`, by relative name."""
        if self.kind == "local":
            base = Path(self.uri) / MODEL / prefix
            return {p.relative_to(base).as_posix(): p.read_bytes() for p in base.rglob("*") if p.is_file()}
        client, bucket = self.registry.client, self.registry.bucket
        start = self.registry._key(MODEL, prefix)
        out = {}
        for obj in client.list_objects(bucket, prefix=start, recursive=True):
            response = client.get_object(bucket, obj.object_name)
            try:
                out[obj.object_name[len(start) :].lstrip("/")] = response.read()
            finally:
                response.close()
                response.release_conn()
        return out

    def put_file(self, relative: str, data: bytes) -> None:
        """A file at `<model>/<relative>` written behind the registry's back."""
        if self.kind == "local":
            path = Path(self.uri) / MODEL / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        else:
            self.registry.client.put_object(
                self.registry.bucket, self.registry._key(MODEL, relative), io.BytesIO(data), len(data)
            )

    def multipart_uploads(self) -> list[str]:
        """Object names of incomplete multipart uploads under the model (S3 only)."""
        if self.kind == "local":
            return []
        prefix = self.registry._key(MODEL) + "/"
        uploads = self.registry.client._list_multipart_uploads(self.registry.bucket).uploads
        return [u.object_name for u in uploads if u.object_name.startswith(prefix)]

    def staging_started(self) -> bool:
        if self.kind == "local":
            staging = Path(self.uri) / MODEL / "_staging"
            return staging.is_dir() and any(p.is_file() for p in staging.rglob("*"))
        prefix = self.registry._key(MODEL, "_staging") + "/"
        return any(
            True
            for _ in self.registry.client.list_objects(self.registry.bucket, prefix=prefix, recursive=True)
        )
