"""`make images` picks its base by itself: python:3.11-slim-bookworm when the engine has it or can
pull it, else the debootstrap base (scripts/choose-base-image.sh). Checked with a stand-in `docker`
CLI that records its calls, so no engine, registry or build is needed.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from .dockerutil import REPO

DEFAULT = "python:3.11-slim-bookworm"
DEBOOTSTRAP = "mlpipe-base:py311-bookworm"

# A `docker` that knows the images in $STUB_HAS, pulls when $STUB_PULL is "ok", builds nothing.
STUB = """#!/usr/bin/env bash
echo "$*" >> "$STUB_CALLS"
case "$1 $2" in
  "image inspect")
    if [ "$3" = "--format" ]; then echo 123000000; exit 0; fi
    for have in $STUB_HAS; do [ "$have" = "$3" ] && exit 0; done
    exit 1 ;;
  "pull --quiet")
    [ "$STUB_PULL" = ok ] && exit 0
    echo "Error response from daemon: Get https://registry-1.docker.io/v2/: dial tcp: no such host" >&2
    exit 1 ;;
  "buildx version") exit 1 ;;
esac
case "$1" in
  info|build) exit 0 ;;
  version) echo 20.10.24 ;;
esac
"""


@pytest.fixture
def docker(tmp_path: Path):
    stub = tmp_path / "docker"
    stub.write_text(STUB)
    stub.chmod(0o755)
    made = tmp_path / "make-base"
    made.write_text(
        '#!/usr/bin/env bash\necho "$BASE_TAG" >> "$STUB_CALLS.base"\nexit "${MAKE_BASE_EXIT:-0}"\n'
    )
    made.chmod(0o755)

    def run(cmd: list[str], has: str = "", pull: str = "no", **env: str) -> subprocess.CompletedProcess[str]:
        full_env = {
            **os.environ,
            "DOCKER": str(stub),
            "MAKE_BASE": str(made),
            "STUB_CALLS": str(tmp_path / "calls"),
            "STUB_HAS": has,
            "STUB_PULL": pull,
            **env,
        }
        return subprocess.run(cmd, cwd=REPO, env=full_env, capture_output=True, text=True, timeout=120)

    def calls() -> list[str]:
        path = tmp_path / "calls"
        return path.read_text().splitlines() if path.exists() else []

    def bases_built() -> list[str]:
        path = tmp_path / "calls.base"
        return path.read_text().splitlines() if path.exists() else []

    run.calls, run.bases_built = calls, bases_built
    return run


CHOOSE = ["bash", "scripts/choose-base-image.sh"]


def test_the_default_base_when_the_engine_has_it(docker):
    proc = docker(CHOOSE, has=DEFAULT)
    assert proc.returncode == 0 and proc.stdout == f"{DEFAULT}\n"
    assert not any(call.startswith("pull") for call in docker.calls()) and docker.bases_built() == []


def test_the_default_base_when_it_can_be_pulled(docker):
    proc = docker(CHOOSE, pull="ok")
    assert proc.returncode == 0 and proc.stdout == f"{DEFAULT}\n"
    assert f"pull --quiet {DEFAULT}" in docker.calls() and docker.bases_built() == []


def test_the_debootstrap_base_when_no_registry_answers(docker):
    proc = docker(CHOOSE)
    assert proc.returncode == 0 and proc.stdout == f"{DEBOOTSTRAP}\n"
    assert docker.bases_built() == [DEBOOTSTRAP]
    assert f"cannot pull {DEFAULT}" in proc.stderr and "no such host" in proc.stderr
    assert f"debootstrap base {DEBOOTSTRAP}" in proc.stderr


def test_no_base_at_all_is_an_error(docker):
    proc = docker(CHOOSE, MAKE_BASE_EXIT="1")
    assert proc.returncode == 1 and proc.stdout == ""
    assert f"could not build {DEBOOTSTRAP}" in proc.stderr


@pytest.mark.parametrize(
    ("args", "pull", "base"),
    [([], "no", DEBOOTSTRAP), ([], "ok", DEFAULT), ([f"BASE_IMAGE={DEFAULT}"], "no", DEFAULT)],
)
def test_make_images_builds_both_images_on_the_chosen_base(docker, args, pull, base):
    # the debootstrap base "exists", so scripts/make-base-image.sh has nothing to do
    proc = docker(["make", "--no-print-directory", "images", "CA_BUNDLE=", *args], has=DEBOOTSTRAP, pull=pull)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    builds = [call for call in docker.calls() if call.startswith("build ")]
    assert len(builds) == 3 and all(f"--build-arg BASE_IMAGE={base} " in call for call in builds), builds
    assert proc.stdout.count(f", base {base})") == 3
    pulled = any(call.startswith("pull") for call in docker.calls())
    assert pulled is (not args)  # an explicit BASE_IMAGE is used as given
