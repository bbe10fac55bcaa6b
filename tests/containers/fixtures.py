"""Session fixtures for every tier that runs our images (containers, cluster): a Docker engine and
the images, built for real. tests/conftest.py imports them, so they are built once per session.

The engine comes from `scripts/start-dockerd.sh` (installs Debian's docker.io
and starts dockerd when none answers). When that script says no engine can run
here (exit 2: not root and none running, or no dockerd and no apt-get) the
tests skip, except in CI (`CI` set), where they fail; any other failure fails them.

Images are built with `make images`, as a user would, and make picks the base:
python:3.11-slim-bookworm when the engine has it or can pull it, else (no
registry) the debootstrap image it builds with `make base-image`.
MLPIPE_TEST_BASE_IMAGE sets `BASE_IMAGE` instead.
"""

from __future__ import annotations

import os
import re
import subprocess
import time

import pytest

from containers.dockerutil import REPO, Images, docker_cli

BUILD_TIMEOUT_S = 3600


def _base_args() -> list[str]:
    if "MLPIPE_TEST_BASE_IMAGE" in os.environ:
        return [f"BASE_IMAGE={os.environ['MLPIPE_TEST_BASE_IMAGE']}"]
    return []


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
    from mlpipe.runtime.images import PUSH_IMAGE, SERVE_IMAGE, TF_IMAGE, VERSION

    log = tmp_path_factory.mktemp("images") / "make-images.log"
    cmd = ["make", "--no-print-directory", "images", *_base_args(), f"DOCKER={docker_engine}"]
    start = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.run(
            cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, text=True, timeout=BUILD_TIMEOUT_S
        )
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-60:])
        pytest.fail(f"`{' '.join(cmd)}` failed (exit {proc.returncode}); log {log}:\n{tail}")
    found = re.search(
        r"^==> \S+ \(docker/tf\.Dockerfile, base (\S+)\)$", log.read_text(errors="replace"), re.M
    )
    base = found.group(1) if found else "?"
    print(f"\nbuilt {TF_IMAGE}, {PUSH_IMAGE} and {SERVE_IMAGE} (base {base}) in {seconds:.0f}s; log {log}")
    return Images(
        tf=TF_IMAGE,
        push=PUSH_IMAGE,
        serve=SERVE_IMAGE,
        version=VERSION,
        base=base,
        build_seconds=seconds,
        log=log,
    )
