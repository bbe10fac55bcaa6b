"""Container image names: the one place that the compiled pipeline and `make images` read.

Tags are derived from content: a hash of exactly what an image copies (its
Dockerfile, its lock file and the project's code), so new code means a new
tag, and KFP's cache, keyed by the image among other things, never returns a
result of old code. Compile-time settings come from the environment, so one
checkout can target a kind registry, a cloud registry or plain local images.

Standard library only: `python3 mlpipe/runtime/images.py` prints the names.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

DEFAULT_REGISTRY = "localhost:5001"
DEFAULT_REPOSITORY = "mlpipe"
VERSION = "0.1.0"
FLAVORS = ("tf", "push", "serve")

REPO_ROOT = Path(__file__).resolve().parents[2]
# What every image copies (docker/*.Dockerfile, `project` stage), besides its Dockerfile and lock.
CODE = ("pyproject.toml", "mlpipe", "components", "pipelines")
LOCKS = {
    "tf": "requirements/tf-image-lock.txt",
    "push": "requirements/push-lock.txt",
    "serve": "requirements/serve-lock.txt",
}
# Not copied into images (see .dockerignore): bytecode, and the compiled component specs,
# which name the image tag themselves.
_SKIPPED_NAMES = {"__pycache__", "component.yaml"}


def _setting(name: str, default: str) -> str:
    return os.environ.get(name) or default


def image_inputs(flavor: str, root: Path = REPO_ROOT) -> list[Path]:
    """The files an image is built from, sorted."""
    paths = [root / f"docker/{flavor}.Dockerfile", root / LOCKS[flavor]]
    for entry in CODE:
        path = root / entry
        if path.is_dir():
            paths += [
                p
                for p in path.rglob("*")
                if p.is_file() and not _SKIPPED_NAMES & set(p.relative_to(root).parts) and p.suffix != ".pyc"
            ]
        else:
            paths.append(path)
    return sorted(paths)


def content_tag(flavor: str, root: Path = REPO_ROOT) -> str:
    """`<version>-<12 hex digits>` over the image's inputs; the bare version where the sources
    are not at hand (an installed package without the repository)."""
    inputs = image_inputs(flavor, root)
    if not all(p.is_file() for p in inputs):
        return VERSION
    digest = hashlib.sha256()
    for path in inputs:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return f"{VERSION}-{digest.hexdigest()[:12]}"


def image(flavor: str) -> str:
    """Full image reference for a dependency set: `tf` (data, train, eval), `push` (slim) or
    `serve` (the kserve-python serving runtime)."""
    if flavor not in FLAVORS:
        raise ValueError(f"unknown image flavor {flavor!r}; expected one of {', '.join(FLAVORS)}")
    registry = _setting("MLPIPE_IMAGE_REGISTRY", DEFAULT_REGISTRY).rstrip("/")
    repository = _setting("MLPIPE_IMAGE_REPOSITORY", DEFAULT_REPOSITORY)
    tag = _setting("MLPIPE_IMAGE_TAG", "") or content_tag(flavor)
    if tag == "latest":
        raise ValueError("MLPIPE_IMAGE_TAG=latest is not allowed: pin a version")
    prefix = f"{registry}/" if registry else ""
    return f"{prefix}{repository}-{flavor}:{tag}"


TF_IMAGE = image("tf")
PUSH_IMAGE = image("push")
SERVE_IMAGE = image("serve")

if __name__ == "__main__":
    print(TF_IMAGE, PUSH_IMAGE, SERVE_IMAGE, VERSION)
