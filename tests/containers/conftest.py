"""Fixtures for the container image tests: a Docker engine and the two images, built for real.

The engine comes from `scripts/start-dockerd.sh` (installs Debian's docker.io
and starts dockerd when none answers). When that script says no engine can run
here (exit 2: not root and none running, or no dockerd and no apt-get) the
tests skip, except in CI (`CI` set), where they fail; any other failure fails them.

Images are built with `make images`, as a user would. On machines with no
container registry the base is the debootstrap image (`make base-image`):
chosen when running as root on a machine with apt-get, else the Dockerfile
default (python:3.11-slim-bookworm). MLPIPE_TEST_BASE_IMAGE overrides
(empty string: the Dockerfile default).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from .dockerutil import DEBOOTSTRAP_BASE, REPO, Images, docker_cli

BUILD_TIMEOUT_S = 3600


def _base_image() -> str:
    if "MLPIPE_TEST_BASE_IMAGE" in os.environ:
        return os.environ["MLPIPE_TEST_BASE_IMAGE"]
    if os.geteuid() == 0 and (shutil.which("debootstrap") or shutil.which("apt-get")):
        return DEBOOTSTRAP_BASE
    return ""


@pytest.fixture(scope="session")
def docker_engine() -> str:
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "start-dockerd.sh")],
        capture_output=True,
        text=True,
        timeout=900,
    )
    message = (proc.stdout + proc.stderr).strip()
    if proc.returncode == 2:
        from servers import unavailable

        unavailable("Docker engine", f"none can run on this machine: {message}")
    if proc.returncode != 0:
        pytest.fail(f"scripts/start-dockerd.sh failed (exit {proc.returncode}):\n{message}")
    return docker_cli()


@pytest.fixture(scope="session")
def images(docker_engine: str, tmp_path_factory: pytest.TempPathFactory) -> Images:
    from mlpipe.components.images import PUSH_IMAGE, TF_IMAGE, VERSION

    base = _base_image()
    log = tmp_path_factory.mktemp("images") / "make-images.log"
    cmd = ["make", "--no-print-directory", "images", f"BASE_IMAGE={base}", f"DOCKER={docker_engine}"]
    start = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.run(
            cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, text=True, timeout=BUILD_TIMEOUT_S
        )
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-60:])
        pytest.fail(f"`{' '.join(cmd)}` failed (exit {proc.returncode}); log {log}:\n{tail}")
    print(
        f"\nbuilt {TF_IMAGE} and {PUSH_IMAGE} (base {base or 'Dockerfile default'}) in {seconds:.0f}s; log {log}"
    )
    return Images(tf=TF_IMAGE, push=PUSH_IMAGE, version=VERSION, base=base, build_seconds=seconds, log=log)
