"""Container image names: the one place that the compiled pipeline and `make images` read.

Compile-time settings come from the environment, so one checkout can target a
kind registry, a cloud registry or plain local images without code changes.
"""

from __future__ import annotations

import os

DEFAULT_REGISTRY = "localhost:5001"
DEFAULT_REPOSITORY = "mlpipe"
VERSION = "0.1.0"


def _setting(name: str, default: str) -> str:
    return os.environ.get(name) or default


def image(flavor: str) -> str:
    """Full image reference for a dependency set: `tf` (data, train, eval) or `push` (slim)."""
    if flavor not in ("tf", "push"):
        raise ValueError(f"unknown image flavor {flavor!r}; expected 'tf' or 'push'")
    registry = _setting("MLPIPE_IMAGE_REGISTRY", DEFAULT_REGISTRY).rstrip("/")
    repository = _setting("MLPIPE_IMAGE_REPOSITORY", DEFAULT_REPOSITORY)
    tag = _setting("MLPIPE_IMAGE_TAG", VERSION)
    if tag == "latest":
        raise ValueError("MLPIPE_IMAGE_TAG=latest is not allowed: pin a version")
    prefix = f"{registry}/" if registry else ""
    return f"{prefix}{repository}-{flavor}:{tag}"


TF_IMAGE = image("tf")
PUSH_IMAGE = image("push")
