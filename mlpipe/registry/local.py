"""The model registry on a local directory; the layout is in `layout`, the S3 twin in `s3`.

Versions are claimed atomically before anything is uploaded (locally an O_EXCL create, on S3 a
conditional create), uploaded under staging, moved into `<model>/<N>/<N>/` when complete and made
visible by the marker `<model>/_published/<N>.json`, written last. Readers list versions by their
markers and serving is only pointed at marked versions, so a publish that dies at any point leaves
nothing visible; `cleanup` (run by every publish) removes what it left once that is old enough.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
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
from mlpipe.storage.safe_paths import check_name, check_version

log = logging.getLogger(__name__)


class LocalRegistry:
    """A directory registry (the default for local runs)."""

    def __init__(self, root: str | Path, stale_after: float = STALE_AFTER_SECONDS):
        self.root = Path(root)
        self.stale_after = stale_after

    def _model_dir(self, model: str) -> Path:
        path = self.root / check_name(model)
        if not path.resolve().is_relative_to(self.root.resolve()):  # a symlinked model folder
            raise UserInputError(f"registry model folder {path} leads outside the registry root {self.root}")
        return path

    def uri(self, model: str, version: int) -> str:
        """The version's serving folder, holding exactly `<version>/` (TF Serving's base path)."""
        return str(self._model_dir(model) / str(check_version(version)))

    def versions(self, model: str) -> list[int]:
        markers = self._model_dir(model) / MARKERS
        return sorted(numbers(p.name for p in markers.glob("*.json"))) if markers.is_dir() else []

    def metadata(self, model: str, version: int) -> dict:
        path = self._model_dir(model) / MARKERS / f"{check_version(version)}.json"
        if not path.is_file():
            raise UserInputError(f"model {model} has no published version {version} in {self.root}")
        return json.loads(path.read_text())

    def claim(self, model: str, token: str) -> int:
        """The next free version number, claimed for `token` by an exclusive create."""
        base = self._model_dir(model)
        claims = base / CLAIMS
        claims.mkdir(parents=True, exist_ok=True)
        taken = numbers(p.name for p in base.iterdir()) | numbers(p.name for p in claims.iterdir())
        version = max(taken | set(self.versions(model)), default=0) + 1
        for _ in range(CLAIM_ATTEMPTS):
            try:
                fd = os.open(claims / f"{version}.json", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                version += 1
                continue
            with os.fdopen(fd, "w") as handle:
                json.dump({"token": token, "at": now()}, handle)
            return version
        raise RuntimeError(f"could not claim a version of {model} in {CLAIM_ATTEMPTS} attempts")

    def publish(
        self, model: str, local_dir: str | Path, metadata: dict, attachments: Mapping[str, Path] | None = None
    ) -> int:
        base = self._model_dir(model)
        for name in attachments or {}:
            check_name(name, "attachment name")
        self.cleanup(model, self.stale_after)
        token = uuid.uuid4().hex
        version = self.claim(model, token)
        staging = base / STAGING / f"{version}-{token}"
        try:
            shutil.copytree(local_dir, staging / "model" / str(version))
            for name, source in (attachments or {}).items():
                shutil.copytree(source, staging / ATTACHMENTS / name)
            if (staging / ATTACHMENTS).is_dir():
                (base / ATTACHMENTS).mkdir(exist_ok=True)
                os.rename(staging / ATTACHMENTS, base / ATTACHMENTS / str(version))
            os.rename(staging / "model", base / str(version))  # complete: one rename, never over a version
            marker = {**metadata, "version": version, "uri": self.uri(model, version)}
            _create_marker(base / MARKERS, version, marker)
        except BaseException:
            # best effort now (cleanup gets the rest later): the staging area and the unmarked version
            if not (base / MARKERS / f"{version}.json").exists():
                for path in (base / str(version), base / ATTACHMENTS / str(version)):
                    shutil.rmtree(path, ignore_errors=True)
            shutil.rmtree(staging, ignore_errors=True)
            raise
        shutil.rmtree(staging, ignore_errors=True)
        return version

    def cleanup(self, model: str, older_than: float) -> dict:
        """Remove what unfinished publishes older than `older_than` seconds left: staging folders
        and version folders that never got a marker (their claims stay: numbers are never reused)."""
        base = self._model_dir(model)
        cutoff = time.time() - older_than
        removed: dict = {"staging": 0, "versions": []}
        for path in (base / STAGING).glob("*") if (base / STAGING).is_dir() else []:
            if _mtime(path) < cutoff:  # another publish may finish and remove it meanwhile
                shutil.rmtree(path, ignore_errors=True)
                removed["staging"] += 1
        published = set(self.versions(model))
        for claim in (base / CLAIMS).glob("*.json") if (base / CLAIMS).is_dir() else []:
            version = next(iter(numbers([claim.name])), None)
            if version is None or version in published or claim.stat().st_mtime >= cutoff:
                continue
            found = False
            for path in (base / str(version), base / ATTACHMENTS / str(version)):
                if path.exists():
                    shutil.rmtree(path, ignore_errors=True)
                    found = True
            if found:
                removed["versions"].append(version)
        if removed["staging"] or removed["versions"]:
            log.info("registry cleanup of %s: %s", model, removed)
        return removed

    def local_copy(self, model: str, version: int) -> Path:
        """A directory holding the version's SavedModel: for this registry, the version itself."""
        self.metadata(model, version)
        return Path(self.uri(model, version)) / str(version)

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
        tmp = base / f".{SERVING_POINTER}.{uuid.uuid4().hex}.tmp"
        tmp.write_text(json.dumps({"version": version, "at": now()}))
        os.replace(tmp, base / SERVING_POINTER)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return float("inf")


def _create_marker(markers: Path, version: int, metadata: dict) -> None:
    """Write the marker through a temporary file and a hard link, which fails if it exists."""
    markers.mkdir(parents=True, exist_ok=True)
    tmp = markers / f".{version}.{uuid.uuid4().hex}.tmp"
    tmp.write_text(json.dumps(metadata, indent=2, default=str))
    try:
        os.link(tmp, markers / f"{version}.json")
    except FileExistsError:
        raise RuntimeError(
            f"version {version} was marked by someone else: its claim was not honoured"
        ) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
