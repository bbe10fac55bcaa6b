"""The S3 (MinIO) registry: versions claimed with a conditional create, uploaded under staging,
copied in server side when complete, made visible by a marker written last.

Conditional creates use `If-None-Match: *` (AWS S3 since 2024, MinIO): the second create of a key
fails with 412 PreconditionFailed. minio-py's public put_object turns unknown headers into user
metadata (`x-amz-meta-if-none-match`, which conditions nothing), so creates go through its
`_put_object`, which sends headers as given.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import shutil
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path

from mlpipe.errors import UserInputError
from mlpipe.registry.layout import (
    ATTACHMENTS,
    CLAIM_ATTEMPTS,
    CLAIMS,
    MARKERS,
    SERVING_POINTER,
    STAGING,
    STALE_AFTER_SECONDS,
    now,
    numbers,
)
from mlpipe.storage.safe_paths import check_name, check_version, relative_key

log = logging.getLogger(__name__)
TAKEN = ("PreconditionFailed", "ConditionalRequestConflict")


class S3Registry:
    """A bucket registry (MinIO or any S3 endpoint) through the minio client."""

    def __init__(self, uri: str, client, stale_after: float = STALE_AFTER_SECONDS):
        from mlpipe.storage.s3 import split_uri

        self.bucket, prefix = split_uri(uri)
        self.prefix = prefix.strip("/")
        self.client = client
        self.stale_after = stale_after

    def _key(self, model: str, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, check_name(model), *parts) if p)

    def uri(self, model: str, version: int) -> str:
        """The version's serving prefix, holding exactly `<version>/` (KServe's storageUri); the
        trailing slash keeps `.../1/` from also matching `.../10/` in a prefix listing."""
        return f"s3://{self.bucket}/{self._key(model, str(check_version(version)))}/"

    def _names(self, prefix: str, recursive: bool = False) -> list[str]:
        return [
            o.object_name for o in self.client.list_objects(self.bucket, prefix=prefix, recursive=recursive)
        ]

    def versions(self, model: str) -> list[int]:
        names = self._names(self._key(model, MARKERS) + "/")
        return sorted(numbers(n for n in names if n.endswith(".json")))

    def _taken(self, model: str) -> set[int]:
        dirs = [n for n in self._names(self._key(model) + "/") if n.endswith("/")]
        return (
            numbers(dirs) | numbers(self._names(self._key(model, CLAIMS) + "/")) | set(self.versions(model))
        )

    def _read_json(self, key: str) -> dict | None:
        from minio.error import S3Error

        try:
            response = self.client.get_object(self.bucket, key)
        except S3Error as exc:
            if exc.code == "NoSuchKey":
                return None
            raise
        try:
            return json.loads(response.read())
        finally:
            response.close()
            response.release_conn()

    def _create(self, key: str, document: dict) -> bool:
        """Create `key` holding `document` unless it exists (atomic on the server); False if it did."""
        from minio.error import S3Error

        body = json.dumps(document, indent=2, default=str).encode()
        try:
            self.client._put_object(
                self.bucket, key, body, headers={"If-None-Match": "*", "Content-Type": "application/json"}
            )
        except S3Error as exc:
            if exc.code in TAKEN:
                return False
            raise
        return True

    def metadata(self, model: str, version: int) -> dict:
        meta = self._read_json(self._key(model, MARKERS, f"{check_version(version)}.json"))
        if meta is None:
            raise UserInputError(
                f"model {model} has no published version {version} in s3://{self.bucket}/{self.prefix}"
            )
        return meta

    def claim(self, model: str, token: str) -> int:
        """The next free version number, claimed for `token` by a conditional create."""
        version = max(self._taken(model), default=0) + 1
        for _ in range(CLAIM_ATTEMPTS):
            if self._create(self._key(model, CLAIMS, f"{version}.json"), {"token": token, "at": now()}):
                return version
            version += 1
        raise RuntimeError(f"could not claim a version of {model} in {CLAIM_ATTEMPTS} attempts")

    def _upload_tree(self, local_dir: Path, prefix: str) -> None:
        for path in sorted(p for p in local_dir.rglob("*") if p.is_file()):
            self.client.fput_object(
                self.bucket, f"{prefix}/{path.relative_to(local_dir).as_posix()}", str(path)
            )

    def publish(
        self, model: str, local_dir: str | Path, metadata: dict, attachments: Mapping[str, Path] | None = None
    ) -> int:
        local_dir = Path(local_dir)
        for name in attachments or {}:
            check_name(name, "attachment name")
        self.cleanup(model, self.stale_after)
        token = uuid.uuid4().hex
        version = self.claim(model, token)
        staging = self._key(model, STAGING, f"{version}-{token}")
        try:
            self._fill(model, version, staging, local_dir, attachments or {})
            marker = {**metadata, "version": version, "uri": self.uri(model, version)}
            if not self._create(self._key(model, MARKERS, f"{version}.json"), marker):
                raise RuntimeError(
                    f"version {version} of {model} was marked by someone else: its claim was not honoured"
                )
        except BaseException:
            # best effort now (cleanup gets the rest later): the staging area and the unmarked version
            with contextlib.suppress(Exception):
                if self._read_json(self._key(model, MARKERS, f"{version}.json")) is None:
                    for prefix in (
                        self._key(model, str(version)),
                        self._key(model, ATTACHMENTS, str(version)),
                    ):
                        self._remove_prefix(prefix + "/")
            with contextlib.suppress(Exception):
                self._remove_prefix(staging + "/")
                self._remove_prefix(f"{staging}-{ATTACHMENTS}/")
            raise
        self._remove_prefix(staging + "/")
        self._remove_prefix(f"{staging}-{ATTACHMENTS}/")
        return version

    def _fill(self, model: str, version: int, staging: str, local_dir: Path, attachments: Mapping) -> None:
        """Upload under `staging`, then, complete, copy server side into the version's folders
        (which nobody else writes: the version is claimed)."""
        from minio.commonconfig import CopySource

        self._upload_tree(local_dir, staging)
        for name, source in attachments.items():
            self._upload_tree(Path(source), f"{staging}-{ATTACHMENTS}/{name}")
        for name in self._names(staging + "/", recursive=True):
            rel = name[len(staging) + 1 :]
            self.client.copy_object(
                self.bucket, self._key(model, str(version), str(version), rel), CopySource(self.bucket, name)
            )
        for name in self._names(f"{staging}-{ATTACHMENTS}/", recursive=True):
            rel = name[len(staging) + len(ATTACHMENTS) + 2 :]
            self.client.copy_object(
                self.bucket, self._key(model, ATTACHMENTS, str(version), rel), CopySource(self.bucket, name)
            )

    def _remove_prefix(self, prefix: str, older_than: datetime.datetime | None = None) -> int:
        from minio.deleteobjects import DeleteObject

        doomed = [
            DeleteObject(o.object_name)
            for o in self.client.list_objects(self.bucket, prefix=prefix, recursive=True)
            if older_than is None or o.last_modified < older_than
        ]
        errors = list(self.client.remove_objects(self.bucket, doomed)) if doomed else []
        if errors:
            raise RuntimeError(f"could not remove {len(errors)} objects under {prefix}: {errors[0]}")
        return len(doomed)

    def cleanup(self, model: str, older_than: float) -> dict:
        """Remove what unfinished publishes older than `older_than` seconds left: staging objects,
        incomplete multipart uploads under the model, and version folders that never got a marker
        (their claims stay, so the numbers are never reused)."""
        cutoff = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=older_than)
        removed = {
            "staging": self._remove_prefix(self._key(model, STAGING) + "/", cutoff),
            "uploads": 0,
            "versions": [],
        }
        # MinIO lists multipart uploads only for an exact object name or the whole bucket (a
        # folder prefix lists nothing), so list the bucket and filter.
        model_prefix = self._key(model) + "/"
        marker = upload_marker = None
        while True:
            page = self.client._list_multipart_uploads(
                self.bucket, key_marker=marker, upload_id_marker=upload_marker
            )
            for upload in page.uploads:
                if upload.object_name.startswith(model_prefix) and upload.initiated_time < cutoff:
                    self.client._abort_multipart_upload(self.bucket, upload.object_name, upload.upload_id)
                    removed["uploads"] += 1
            if not page.is_truncated:
                break
            # minio-py 7.2 stores NextUploadIdMarker under a misspelt attribute name
            marker = page.next_key_marker
            upload_marker = getattr(page, "next_upload_id_marker", None) or getattr(
                page, "self._next_upload_id_marker", None
            )
        published = set(self.versions(model))
        for claim in self.client.list_objects(self.bucket, prefix=self._key(model, CLAIMS) + "/"):
            version = next(iter(numbers([claim.object_name])), None)
            if version is None or version in published or claim.last_modified >= cutoff:
                continue
            gone = self._remove_prefix(self._key(model, str(version)) + "/")
            gone += self._remove_prefix(self._key(model, ATTACHMENTS, str(version)) + "/")
            if gone:
                removed["versions"].append(version)
        if any((removed["staging"], removed["uploads"], removed["versions"])):
            log.info("registry cleanup of %s: %s", model, removed)
        return removed

    def serving_version(self, model: str) -> int | None:
        pointer = self._read_json(self._key(model, SERVING_POINTER))
        return None if pointer is None else pointer["version"]

    def set_serving(self, model: str, version: int) -> None:
        self.metadata(model, version)
        body = json.dumps({"version": version, "at": now()}).encode()
        self.client._put_object(
            self.bucket, self._key(model, SERVING_POINTER), body, headers={"Content-Type": "application/json"}
        )

    def local_copy(self, model: str, version: int) -> Path:
        """A directory holding the version's SavedModel, downloaded into a new temporary directory."""
        self.metadata(model, version)
        return self._download(
            self._key(model, str(version), str(version)) + "/", f"mlpipe-{model}-{version}-"
        )

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
