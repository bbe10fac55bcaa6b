"""The model registry: TF Serving layout `<root>/<model>/<version>/`, on a directory or S3.

Publishing is atomic for readers: the model is uploaded under a staging name,
moved to its version, and only then is the completion marker
`<model>/_published/<version>.json` written (it holds the version's metadata).
Readers list versions by their markers, so a crash at any point leaves no
visible version. Versions only grow and are never overwritten: the next
number is past every version that exists, complete or not.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

from mlpipe.components.errors import UserInputError
from mlpipe.components.safe_paths import check_name, check_version, relative_key

log = logging.getLogger(__name__)

MARKERS = "_published"
STAGING = "_staging"
SERVING_POINTER = "_serving.json"  # which version serving was last pointed at (push, rollback)
# What a version carries besides the model, outside the folder serving reads:
# `<model>/_attachments/<version>/<name>/` (the training statistics, for drift of later runs).
ATTACHMENTS = "_attachments"


class LocalRegistry:
    """A directory registry (the default for local runs)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _model_dir(self, model: str) -> Path:
        path = self.root / check_name(model)
        if not path.resolve().is_relative_to(self.root.resolve()):  # a symlinked model folder
            raise UserInputError(f"registry model folder {path} leads outside the registry root {self.root}")
        return path

    def uri(self, model: str, version: int) -> str:
        return str(self._model_dir(model) / str(check_version(version)))

    def _all_versions(self, model: str) -> set[int]:
        base = self._model_dir(model)
        found = {int(p.name) for p in base.glob("*") if p.name.isdigit()} if base.is_dir() else set()
        return found | set(self.versions(model))

    def versions(self, model: str) -> list[int]:
        markers = self._model_dir(model) / MARKERS
        return (
            sorted(int(p.stem) for p in markers.glob("*.json") if p.stem.isdigit())
            if markers.is_dir()
            else []
        )

    def metadata(self, model: str, version: int) -> dict:
        path = self._model_dir(model) / MARKERS / f"{check_version(version)}.json"
        if not path.is_file():
            raise UserInputError(f"model {model} has no published version {version} in {self.root}")
        return json.loads(path.read_text())

    def publish(
        self, model: str, local_dir: str | Path, metadata: dict, attachments: Mapping[str, Path] | None = None
    ) -> int:
        base = self._model_dir(model)
        for name in attachments or {}:
            check_name(name, "attachment name")
        staging = base / STAGING / uuid.uuid4().hex
        staging.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(local_dir, staging)
        while True:
            version = max(self._all_versions(model), default=0) + 1
            try:
                os.rename(staging, base / str(version))  # fails if the version exists: never overwrite
                break
            except OSError:
                if not (base / str(version)).exists():
                    raise
        for name, source in (attachments or {}).items():
            shutil.copytree(source, base / ATTACHMENTS / str(version) / name)
        _write_marker_local(
            base / MARKERS, version, {**metadata, "version": version, "uri": self.uri(model, version)}
        )
        return version

    def local_copy(self, model: str, version: int) -> Path:
        """A directory holding the version's files: for this registry, the version itself."""
        self.metadata(model, version)
        return Path(self.uri(model, version))

    def attachment(self, model: str, version: int, name: str) -> Path | None:
        """The folder attached to a published version under `name`, or None."""
        self.metadata(model, version)
        path = self._model_dir(model) / ATTACHMENTS / str(version) / check_name(name, "attachment name")
        return path if path.is_dir() else None

    def serving_version(self, model: str) -> int | None:
        path = self._model_dir(model) / SERVING_POINTER
        return json.loads(path.read_text())["version"] if path.is_file() else None

    def set_serving(self, model: str, version: int) -> None:
        self.metadata(model, version)
        base = self._model_dir(model)
        tmp = base / f".{SERVING_POINTER}.tmp"
        tmp.write_text(json.dumps({"version": version, "at": now()}))
        os.replace(tmp, base / SERVING_POINTER)


def _write_marker_local(markers: Path, version: int, metadata: dict) -> None:
    markers.mkdir(parents=True, exist_ok=True)
    tmp = markers / f".{version}.json.tmp"
    tmp.write_text(json.dumps(metadata, indent=2, default=str))
    os.replace(tmp, markers / f"{version}.json")


class S3Registry:
    """A bucket registry (MinIO or any S3 endpoint) through the minio client."""

    def __init__(self, uri: str, client):
        from mlpipe.components.s3 import split_uri

        self.bucket, prefix = split_uri(uri)
        self.prefix = prefix.strip("/")
        self.client = client

    def _key(self, model: str, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, check_name(model), *parts) if p)

    def uri(self, model: str, version: int) -> str:
        return f"s3://{self.bucket}/{self._key(model, str(check_version(version)))}"

    def _names(self, prefix: str) -> list[str]:
        return [o.object_name for o in self.client.list_objects(self.bucket, prefix=prefix, recursive=False)]

    def versions(self, model: str) -> list[int]:
        names = self._names(self._key(model, MARKERS) + "/")
        stems = (n.rsplit("/", 1)[-1].removesuffix(".json") for n in names if n.endswith(".json"))
        return sorted(int(s) for s in stems if s.isdigit())

    def _all_versions(self, model: str) -> set[int]:
        names = self._names(self._key(model) + "/")
        dirs = {n.rstrip("/").rsplit("/", 1)[-1] for n in names if n.endswith("/")}
        return {int(d) for d in dirs if d.isdigit()} | set(self.versions(model))

    def metadata(self, model: str, version: int) -> dict:
        from minio.error import S3Error

        try:
            response = self.client.get_object(
                self.bucket, self._key(model, MARKERS, f"{check_version(version)}.json")
            )
            try:
                return json.loads(response.read())
            finally:
                response.close()
                response.release_conn()
        except S3Error as exc:
            if exc.code == "NoSuchKey":
                raise UserInputError(
                    f"model {model} has no published version {version} in s3://{self.bucket}/{self.prefix}"
                ) from None
            raise

    def _upload_tree(self, local_dir: Path, prefix: str) -> None:
        for path in sorted(p for p in local_dir.rglob("*") if p.is_file()):
            self.client.fput_object(
                self.bucket, f"{prefix}/{path.relative_to(local_dir).as_posix()}", str(path)
            )

    def publish(
        self, model: str, local_dir: str | Path, metadata: dict, attachments: Mapping[str, Path] | None = None
    ) -> int:
        from minio.commonconfig import CopySource

        local_dir = Path(local_dir)
        for name in attachments or {}:
            check_name(name, "attachment name")
        staging = self._key(model, STAGING, uuid.uuid4().hex)
        self._upload_tree(local_dir, staging)
        version = max(self._all_versions(model), default=0) + 1
        target = self._key(model, str(version))
        staged = [
            o.object_name for o in self.client.list_objects(self.bucket, prefix=staging + "/", recursive=True)
        ]
        for name in staged:
            self.client.copy_object(self.bucket, target + name[len(staging) :], CopySource(self.bucket, name))
        for name, source in (attachments or {}).items():
            self._upload_tree(Path(source), self._key(model, ATTACHMENTS, str(version), name))
        body = json.dumps(
            {**metadata, "version": version, "uri": self.uri(model, version)}, indent=2, default=str
        ).encode()
        self.client.put_object(
            self.bucket,
            self._key(model, MARKERS, f"{version}.json"),
            io.BytesIO(body),
            len(body),
            content_type="application/json",
        )
        for name in staged:
            self.client.remove_object(self.bucket, name)
        return version

    def serving_version(self, model: str) -> int | None:
        from minio.error import S3Error

        try:
            response = self.client.get_object(self.bucket, self._key(model, SERVING_POINTER))
        except S3Error as exc:
            if exc.code == "NoSuchKey":
                return None
            raise
        try:
            return json.loads(response.read())["version"]
        finally:
            response.close()
            response.release_conn()

    def set_serving(self, model: str, version: int) -> None:
        self.metadata(model, version)
        body = json.dumps({"version": version, "at": now()}).encode()
        self.client.put_object(self.bucket, self._key(model, SERVING_POINTER), io.BytesIO(body), len(body))

    def local_copy(self, model: str, version: int) -> Path:
        """A directory holding the version's files, downloaded into a new temporary directory."""
        self.metadata(model, version)
        return self._download(self._key(model, str(version)) + "/", f"mlpipe-{model}-{version}-")

    def attachment(self, model: str, version: int, name: str) -> Path | None:
        """A local copy of the folder attached to a published version under `name`, or None."""
        self.metadata(model, version)
        prefix = self._key(model, ATTACHMENTS, str(version), check_name(name, "attachment name")) + "/"
        if not self._names(prefix):
            return None
        return self._download(prefix, f"mlpipe-{model}-{version}-{name}-")

    def _download(self, prefix: str, temp_prefix: str) -> Path:
        """Every object under `prefix` into a new temporary directory; nothing is written, and the
        directory is removed, when a key would land outside it."""
        objects = list(self.client.list_objects(self.bucket, prefix=prefix, recursive=True))
        relative = [(obj.object_name, relative_key(obj.object_name, prefix)) for obj in objects]
        dest = Path(tempfile.mkdtemp(prefix=temp_prefix))
        try:
            for name, rel in relative:
                if rel is not None:
                    self.client.fget_object(self.bucket, name, str(dest / rel))
        except BaseException:
            shutil.rmtree(dest, ignore_errors=True)
            raise
        return dest


def open_registry(uri: str, environ: Mapping[str, str]):
    """A registry for a directory path or an `s3://bucket/prefix` (credentials from `environ`)."""
    if uri.startswith("s3://"):
        from mlpipe.components.s3 import client_from_env, reaching

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
    """Metadata of the newest published version whose evaluation blessed it (the evaluation baseline)."""
    for version in reversed(registry.versions(model)):
        meta = registry.metadata(model, version)
        if meta.get("blessed", False):
            return meta
    return None


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
