"""The tf, push and serve images, built for real (`make images`) and run with no network.

The session fixture `images` (fixtures.py) starts a Docker engine when none
answers and builds the images; the first test pays for the build (minutes on
a cold machine, seconds when cached).
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from .dockerutil import REPO, Images, docker_cli, run_in

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(3600)]

LOCKS = {
    "tf": REPO / "requirements" / "tf-image-lock.txt",
    "push": REPO / "requirements" / "push-lock.txt",
    "serve": REPO / "requirements" / "serve-lock.txt",
}
FLAVORS = list(LOCKS)
LIST_DISTRIBUTIONS = (
    "import importlib.metadata as m; "
    "print('\\n'.join(sorted(d.metadata['Name'] + '==' + d.version for d in m.distributions())))"
)


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, (
        f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-4000:]}"
    )
    return proc.stdout


def tag(images: Images, flavor: str) -> str:
    return getattr(images, flavor)


def normalize(pin: str) -> str:
    name, version = pin.split("==", 1)
    return re.sub(r"[-_.]+", "-", name).lower() + "==" + version


def locked(flavor: str) -> set[str]:
    text = LOCKS[flavor].read_text()
    return {normalize(m) for m in re.findall(r"^[A-Za-z0-9][A-Za-z0-9._-]*==\S+", text, re.M)}


@pytest.mark.parametrize("flavor", FLAVORS)
def test_image_is_built(images: Images, flavor: str) -> None:
    proc = subprocess.run(
        [docker_cli(), "image", "inspect", tag(images, flavor)], capture_output=True, text=True
    )
    ok(proc)


def test_push_image_has_no_tensorflow(images: Images) -> None:
    proc = run_in(images.push, "python", "-c", "import tensorflow")
    assert proc.returncode != 0
    assert "No module named 'tensorflow'" in proc.stderr


def test_push_image_imports_its_stack(images: Images) -> None:
    out = ok(
        run_in(
            images.push,
            "python",
            "-c",
            "import minio, kubernetes, kfp, mlpipe.runtime.images; print(kfp.__version__)",
        )
    )
    assert out.strip().splitlines()[-1] == "2.13.0"


def test_serve_image_imports_its_stack_and_no_pipeline_dependency(images: Images) -> None:
    code = (
        "import tensorflow as tf, kserve, kserve_storage, mlpipe.serving.server, mlpipe.serving.fetch_model; "
        "import importlib.util as u, importlib.metadata as m; "
        "print(tf.__version__, m.version('kserve'), u.find_spec('tensorflow_data_validation'), u.find_spec('kfp'))"
    )
    out = ok(run_in(images.serve, "python", "-W", "ignore", "-c", code))
    assert out.strip().splitlines()[-1] == "2.21.0 0.21.0 None None"


def test_tf_image_imports_its_stack(images: Images) -> None:
    code = (
        "import tensorflow as tf, tensorflow_data_validation as tfdv, "
        "tensorflow_model_analysis as tfma, fairness_indicators.fairness_indicators_metrics, "
        "keras_tuner, kfp, mlpipe.config.dataset; "
        "print(tf.__version__, tfdv.__version__, tfma.__version__, kfp.__version__)"
    )
    out = ok(run_in(images.tf, "python", "-W", "ignore", "-c", code))
    assert out.strip().splitlines()[-1] == "2.16.2 1.16.1 0.47.1 2.13.0"


@pytest.mark.parametrize("flavor", FLAVORS)
def test_image_holds_exactly_its_lock(images: Images, flavor: str) -> None:
    installed = {
        normalize(line)
        for line in ok(run_in(tag(images, flavor), "python", "-c", LIST_DISTRIBUTIONS)).split()
    }
    expected = locked(flavor) | {f"mlpipe=={images.version}"}
    assert installed == expected, (
        f"missing: {sorted(expected - installed)}; extra: {sorted(installed - expected)}"
    )


@pytest.mark.parametrize("flavor", FLAVORS)
def test_image_runs_as_non_root(images: Images, flavor: str) -> None:
    out = ok(run_in(tag(images, flavor), "id", "-u"))
    assert out.strip() != "0"
    assert ok(run_in(tag(images, flavor), "pwd")).strip() == "/home/mlpipe"


@pytest.mark.parametrize("flavor", ["tf", "push"])
def test_kfp_executor_smoke(images: Images, flavor: str) -> None:
    out = ok(run_in(tag(images, flavor), "python", "-m", "kfp.dsl.executor_main", "--help"))
    assert "--executor_input" in out
    out = ok(
        run_in(tag(images, flavor), "python", "-c", "import mlpipe.runtime.images as i; print(i.VERSION)")
    )
    assert out.strip() == images.version


@pytest.mark.parametrize("flavor", FLAVORS)
def test_no_build_secrets_or_tools_left(images: Images, flavor: str) -> None:
    # The CA bundle and uv stay in the discarded build stage.
    out = ok(
        run_in(
            tag(images, flavor),
            "sh",
            "-c",
            "ls /tmp/build-ca.crt /opt/uv 2>/dev/null; command -v uv gcc g++ || true",
        )
    )
    assert out.strip() == ""


@pytest.mark.parametrize("flavor", FLAVORS)
def test_oci_labels(images: Images, flavor: str) -> None:
    proc = subprocess.run(
        [docker_cli(), "image", "inspect", "--format", "{{json .Config.Labels}}", tag(images, flavor)],
        capture_output=True,
        text=True,
    )
    labels = json.loads(ok(proc))
    for key in ("source", "revision", "version", "title"):
        assert labels.get(f"org.opencontainers.image.{key}"), f"label org.opencontainers.image.{key} missing"
    assert labels["org.opencontainers.image.version"] == images.version
    assert labels["org.opencontainers.image.title"] == f"mlpipe-{flavor}"
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True)
    if head.returncode == 0:
        assert labels["org.opencontainers.image.revision"] == head.stdout.strip()


@pytest.mark.parametrize("flavor", FLAVORS)
def test_images_hold_code_only(images: Images, flavor: str) -> None:
    """No configs, data or manifests of the checkout: the config is a run parameter, data is s3://.
    The code is the installed `mlpipe` package, and no generic top-level package is installed."""
    image = tag(images, flavor)
    listing = ok(run_in(image, "sh", "-c", "ls -a /app /home/mlpipe 2>&1; ls / "))
    for name in ("configs", "data", "manifests", "params.env", "adult"):
        assert name not in listing.split(), (name, listing)
    found = ok(
        run_in(
            image,
            "sh",
            "-c",
            "find / -xdev \\( -name 'adult*.csv*' -o -name 'adult*.yaml' \\) 2>/dev/null; true",
        )
    )
    assert found.strip() == ""
    code = "import importlib.util as u; print(u.find_spec('components'), u.find_spec('pipelines'), u.find_spec('mlpipe.components.validate.core') is not None)"
    assert ok(run_in(image, "python", "-c", code)).split() == ["None", "None", "True"]


@pytest.mark.parametrize("flavor", FLAVORS)
def test_image_tag_is_the_content_hash(images: Images, flavor: str) -> None:
    from mlpipe.runtime.images import content_tag

    assert tag(images, flavor).endswith(":" + content_tag(flavor))
