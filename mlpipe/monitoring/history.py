"""The monitoring history of a model version, beside it in the registry (a directory or S3).

    <model>/_monitoring/<version>/batches/<key>.json     one batch's figures (signals, decision)
    <model>/_monitoring/<version>/data/<key>.csv.gz      the batch as received (labels join it later)
    <model>/_monitoring/<version>/feedback/<key>.csv.gz  a labels file as received
    <model>/_monitoring/<version>/reference.json         the served model's scores on its eval data

Append-safe: every object is created once, under a new key, with a create that fails when the
key exists (locally a hard link, which fails on an existing name; on S3 the registry's conditional
create, `If-None-Match: *`), and never rewritten. Keys are `<UTC time to the microsecond>-<random>`,
so they sort in the order the batches came and two monitors never write the same one.
"""

from __future__ import annotations

import datetime
import json
import os
import uuid
from pathlib import Path

from mlpipe.registry.s3 import S3Registry
from mlpipe.storage.safe_paths import check_name, check_version

MONITORING = "_monitoring"
BATCHES, DATA, FEEDBACK = "batches", "data", "feedback"
REFERENCE = "reference.json"


def new_key() -> str:
    """A unique key that sorts by creation time."""
    now = datetime.datetime.now(datetime.UTC)
    return f"{now:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:8]}"


class History:
    """Append-only objects under `<model>/_monitoring/<version>/` of either registry backend."""

    def __init__(self, registry, model: str, version: int):
        self.registry = registry
        self.parts = (check_name(model), MONITORING, str(check_version(version)))

    def _path(self, *names: str) -> Path:
        return Path(self.registry.root, *self.parts, *names)

    def _key(self, *names: str) -> str:
        return "/".join(p for p in (self.registry.prefix, *self.parts, *names) if p)

    def create(self, name: str, body: bytes) -> bool:
        """Write `name` (a path under the version's history) once; False when it exists."""
        if isinstance(self.registry, S3Registry):
            return self._create_s3(self._key(name), body)
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
        tmp.write_bytes(body)
        try:
            os.link(tmp, path)  # fails when the name exists: never an overwrite
        except FileExistsError:
            return False
        finally:
            tmp.unlink()
        return True

    def _create_s3(self, key: str, body: bytes) -> bool:
        from minio.error import S3Error

        from mlpipe.registry.s3 import TAKEN

        try:
            self.registry.client._put_object(self.registry.bucket, key, body, headers={"If-None-Match": "*"})
        except S3Error as exc:
            if exc.code in TAKEN:
                return False
            raise
        return True

    def read(self, name: str) -> bytes | None:
        if isinstance(self.registry, S3Registry):
            from minio.error import S3Error

            try:
                response = self.registry.client.get_object(self.registry.bucket, self._key(name))
            except S3Error as exc:
                if exc.code == "NoSuchKey":
                    return None
                raise
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()
        path = self._path(name)
        return path.read_bytes() if path.is_file() else None

    def names(self, folder: str) -> list[str]:
        """The object names in `folder`, in key order (the order they were appended)."""
        if isinstance(self.registry, S3Registry):
            prefix = self._key(folder) + "/"
            found = self.registry.client.list_objects(self.registry.bucket, prefix=prefix)
            return sorted(o.object_name[len(prefix) :] for o in found if not o.object_name.endswith("/"))
        path = self._path(folder)
        return sorted(p.name for p in path.iterdir() if not p.name.startswith(".")) if path.is_dir() else []

    def append_batch(self, key: str, record: dict, data: bytes) -> None:
        """The batch's rows first, its figures last: a record always has its data."""
        if not (
            self.create(f"{DATA}/{key}.csv.gz", data) and self.create(f"{BATCHES}/{key}.json", _json(record))
        ):
            raise RuntimeError(f"monitoring history key {key} exists: it is never rewritten")

    def append_feedback(self, key: str, data: bytes) -> None:
        if not self.create(f"{FEEDBACK}/{key}.csv.gz", data):
            raise RuntimeError(f"monitoring feedback key {key} exists: it is never rewritten")

    def records(self) -> list[dict]:
        """Every batch's figures, oldest first."""
        return [
            json.loads(self.read(f"{BATCHES}/{name}"))
            for name in self.names(BATCHES)
            if name.endswith(".json")
        ]

    def data(self, folder: str) -> list[tuple[str, bytes]]:
        """(key, gzip CSV bytes) of every batch (`DATA`) or labels file (`FEEDBACK`), oldest first."""
        return [(name.removesuffix(".csv.gz"), self.read(f"{folder}/{name}")) for name in self.names(folder)]


def _json(document: dict) -> bytes:
    return json.dumps(document, indent=1, default=str, allow_nan=False).encode()
