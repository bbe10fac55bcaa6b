"""Helpers shared by the container image tests: paths, the docker CLI, running a command in an image."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEBOOTSTRAP_BASE = "mlpipe-base:py311-bookworm"


@dataclass
class Images:
    """The images that `make images` built for this session."""

    tf: str
    push: str
    serve: str
    version: str
    base: str
    build_seconds: float
    log: Path


def docker_cli() -> str:
    return os.environ.get("DOCKER", "docker")


def run_in(image: str, *cmd: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    """`docker run --rm --network none IMAGE CMD...`, output captured."""
    return subprocess.run(
        [docker_cli(), "run", "--rm", "--network", "none", image, *cmd],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
