"""The per-image lock files agree with the project lock (no Docker needed).

The images install requirements/tf-image-lock.txt and requirements/push-lock.txt;
the tests and `make run` use requirements/lock.txt. Every package an image
pins must have the version the project lock pins, so the containers run what
the tests ran. Re-resolve with `make image-locks` after `make lock`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REQUIREMENTS = Path(__file__).resolve().parents[2] / "requirements"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", re.M)


def pins(name: str) -> dict[str, str]:
    text = (REQUIREMENTS / name).read_text()
    return {re.sub(r"[-_.]+", "-", n).lower(): v for n, v in PIN.findall(text)}


@pytest.mark.parametrize("lock", ["tf-image-lock.txt", "push-lock.txt"])
def test_image_lock_matches_project_lock(lock: str) -> None:
    project = pins("lock.txt")
    image = pins(lock)
    assert image, f"{lock} pins nothing"
    differ = {n: (v, project.get(n)) for n, v in image.items() if project.get(n) != v}
    assert not differ, f"{lock} differs from lock.txt (image, project): {differ}; run `make image-locks`"


def test_push_lock_has_no_tensorflow() -> None:
    assert not {n for n in pins("push-lock.txt") if n.startswith("tensorflow") or n in ("keras", "tf-keras")}


def test_tf_image_lock_has_no_test_tools() -> None:
    assert not {"pytest", "ruff", "moto", "kubernetes-validate"} & set(pins("tf-image-lock.txt"))


def test_tf_image_lock_leaves_out_what_no_stage_imports() -> None:
    text = (REQUIREMENTS / "tf-image-excludes.txt").read_text()
    excluded = {
        re.sub(r"[-_.]+", "-", ln).lower() for ln in text.splitlines() if ln and not ln.startswith("#")
    }
    assert excluded >= {"google-cloud-aiplatform", "libclang", "notebook"}
    tf = set(pins("tf-image-lock.txt"))
    assert not excluded & tf
    assert not {"jupyterlab", "jupyter-server", "google-genai"} & tf  # pulled in only by those
    # what the stages import stays: the config models, the stack, Beam's GCS/BigQuery IO, TFMA's views
    assert {"pydantic", "tensorflow", "apache-beam", "google-cloud-storage", "ipywidgets", "ipykernel"} <= tf


def test_serve_lock_is_its_own_small_stack() -> None:
    """The serve image's lock stands alone (kserve 0.21 needs protobuf 6, TF 2.16 protobuf < 5):
    TensorFlow's CPU build and KServe, none of the pipeline's stack."""
    serve = pins("serve-lock.txt")
    assert serve["tensorflow-cpu"] == "2.21.0" and serve["kserve"] == "0.21.0" and "kserve-storage" in serve
    assert not {"tensorflow-data-validation", "tensorflow-model-analysis", "kfp", "apache-beam"} & set(serve)
