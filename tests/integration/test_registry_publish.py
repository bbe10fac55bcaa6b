"""Publishing under concurrency and death, on a directory and on a real MinIO bucket.

Six processes publishing at once get six distinct, complete versions; a publish killed at any step
(mid upload, between moving and marking, mid server-side copy, before the marker, mid multipart
upload) leaves no visible version and nothing a later publish trips on, and `cleanup` removes
what it left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from registry_backends import MODEL, make_model_dir

from mlpipe.registry.access import latest_blessed

# Publish argv[2] to argv[1]; with argv[3] = "module:Class.method:n" (or "module:function:n") the
# process SIGKILLs itself on the n-th call of that function, before the call does anything.
PUBLISH_SCRIPT = """
import importlib, os, signal, sys, time
from pathlib import Path
from mlpipe.registry.access import open_registry
if len(sys.argv) > 3:
    module, attr, nth = sys.argv[3].split(":")
    owner = importlib.import_module(module)
    *path, name = attr.split(".")
    for part in path:
        owner = getattr(owner, part)
    original, calls = getattr(owner, name), []
    def dying(*args, **kwargs):
        calls.append(1)
        if len(calls) >= int(nth):
            os.kill(os.getpid(), signal.SIGKILL)
        return original(*args, **kwargs)
    setattr(owner, name, dying)
go = os.environ.get("GO_FILE")
while go and not Path(go).exists():
    time.sleep(0.005)
version = open_registry(sys.argv[1], os.environ).publish("adult_income", sys.argv[2], {"blessed": True})
print("published", version)
"""


def publisher(backend, repo_root, *args, **env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", PUBLISH_SCRIPT, backend.uri, *map(str, args)],
        cwd=repo_root,
        env={**os.environ, **backend.environ, "PYTHONPATH": str(repo_root), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_concurrent_publishes_get_distinct_complete_versions(backend, tmp_path, repo_root):
    n = 6
    sources = [make_model_dir(tmp_path / f"m{i}", f"writer-{i}") for i in range(n)]
    go = tmp_path / "go"
    children = [publisher(backend, repo_root, source, GO_FILE=str(go)) for source in sources]
    time.sleep(2)  # every child imported and waiting: they start together
    go.touch()
    outputs = [child.communicate(timeout=120) for child in children]
    assert all(child.returncode == 0 for child in children), outputs
    got = sorted(int(out.split()[-1]) for out, _ in outputs)
    assert got == list(range(1, n + 1))
    assert backend.registry.versions(MODEL) == got
    # each version holds exactly one writer's files: no interleaving
    expected = {
        f"writer-{i}".encode(): {
            p.relative_to(s).as_posix(): p.read_bytes() for p in s.rglob("*") if p.is_file()
        }
        for i, s in enumerate(sources)
    }
    owners = set()
    for version in got:
        files = backend.files(f"{version}/{version}")
        owner = files["saved_model.pb"].removeprefix(b"graph-")
        assert files == expected[owner], version
        owners.add(owner)
        assert backend.registry.metadata(MODEL, version)["version"] == version
    assert len(owners) == n
    assert backend.files("_staging") == {}


def test_a_claimed_number_is_never_reused(backend, tmp_path):
    backend.put_file("_claims/1.json", b'{"token": "someone else"}')  # claimed, never finished
    assert backend.registry.publish(MODEL, make_model_dir(tmp_path / "m"), {"blessed": True}) == 2
    assert backend.registry.versions(MODEL) == [2]


KILL_POINTS = {
    "local": {
        "mid upload": "shutil:copyfile:2",
        "before the move": "os:rename:1",
        "before the marker": "os:link:1",
    },
    "s3": {
        "mid upload": "minio:Minio.fput_object:2",
        "mid server-side copy": "minio:Minio.copy_object:2",
        "before the marker": "mlpipe.registry.s3:S3Registry._create:2",  # 1: the claim
    },
}


@pytest.mark.parametrize(
    ("backend", "point"),
    [
        pytest.param(kind, point, marks=[pytest.mark.s3] if kind == "s3" else [], id=f"{kind}-{point}")
        for kind, points in KILL_POINTS.items()
        for point in points
    ],
    indirect=["backend"],
)
def test_a_publish_killed_at_any_step_leaves_nothing_visible(backend, tmp_path, repo_root, point):
    spec = KILL_POINTS[backend.kind][point]
    registry = backend.registry
    assert registry.publish(MODEL, make_model_dir(tmp_path / "first", "first"), {"blessed": True}) == 1
    registry.set_serving(MODEL, 1)
    child = publisher(backend, repo_root, make_model_dir(tmp_path / "killed", "killed"), spec)
    out, err = child.communicate(timeout=120)
    assert child.returncode == -signal.SIGKILL, (out, err)

    assert registry.versions(MODEL) == [1] and registry.serving_version(MODEL) == 1
    assert latest_blessed(registry, MODEL)["version"] == 1
    assert "2.json" in backend.files("_claims")  # the killed publish had claimed 2
    left = {**backend.files("_staging"), **backend.files("2")}
    assert left, "the kill left nothing: it happened before the upload started"
    # the next publish (default bound: leftovers too young to remove) succeeds with a fresh number
    assert registry.publish(MODEL, make_model_dir(tmp_path / "after", "after"), {"blessed": True}) == 3
    assert backend.files("3/3")["saved_model.pb"] == b"graph-after"
    # cleanup with a zero bound removes the leftovers of 2, and nothing of 1 or 3
    before = {v: backend.files(str(v)) for v in (1, 3)}
    registry.cleanup(MODEL, older_than=0)
    assert backend.files("_staging") == {} and backend.files("2") == {}
    assert {v: backend.files(str(v)) for v in (1, 3)} == before
    assert registry.versions(MODEL) == [1, 3]


def test_cleanup_keeps_what_is_younger_than_the_bound(backend, tmp_path):
    backend.put_file("_claims/1.json", b"{}")
    backend.put_file("_staging/1-abc/saved_model.pb", b"in flight")
    backend.put_file("1/1/saved_model.pb", b"being copied")
    assert backend.registry.cleanup(MODEL, older_than=3600) == {
        "staging": 0,
        "versions": [],
        **({"uploads": 0} if backend.kind == "s3" else {}),
    }
    assert backend.files("_staging") and backend.files("1")
    removed = backend.registry.cleanup(MODEL, older_than=0)
    assert removed["versions"] == [1] and removed["staging"] >= 1
    assert backend.files("_staging") == {} and backend.files("1") == {}


@pytest.mark.s3
@pytest.mark.parametrize("backend", ["s3"], indirect=True)  # multipart uploads are S3's
def test_a_publish_killed_mid_multipart_upload_is_cleaned(backend, tmp_path, repo_root):
    big = make_model_dir(tmp_path / "big", "big")
    with open(big / "zz_big.bin", "wb") as handle:
        for _ in range(6):
            handle.write(os.urandom(8 * 1024 * 1024))
    child = publisher(backend, repo_root, big)
    try:
        deadline = time.monotonic() + 120
        while not backend.multipart_uploads():
            assert child.poll() is None, (
                f"publish ended before a multipart upload was seen: {child.communicate()}"
            )
            assert time.monotonic() < deadline, "no multipart upload appeared"
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.communicate(timeout=60)
    assert backend.registry.versions(MODEL) == []
    assert backend.multipart_uploads()  # the server keeps the parts of a dead upload
    assert backend.registry.cleanup(MODEL, older_than=3600)["uploads"] == 0  # too young
    assert backend.registry.cleanup(MODEL, older_than=0)["uploads"] >= 1
    assert backend.multipart_uploads() == [] and backend.files("_staging") == {}
    assert (
        backend.registry.publish(MODEL, make_model_dir(tmp_path / "after", "after"), {"blessed": True}) == 2
    )


def test_a_publish_that_fails_removes_what_it_wrote_and_keeps_its_claim(backend, tmp_path, monkeypatch):
    """An error (not a kill) mid server-side copy / mid move: the version folder and the staging
    area are removed at once, nothing is visible, the number stays claimed."""
    import shutil

    calls = []

    def failing(original):
        def wrapper(*args, **kwargs):
            calls.append(1)
            if len(calls) == 2:
                raise OSError("disk on fire")
            return original(*args, **kwargs)

        return wrapper

    if backend.kind == "s3":
        monkeypatch.setattr(
            backend.registry.client, "copy_object", failing(backend.registry.client.copy_object)
        )
    else:
        monkeypatch.setattr(shutil, "copyfile", failing(shutil.copyfile))
    with pytest.raises(OSError, match="disk on fire"):
        backend.registry.publish(MODEL, make_model_dir(tmp_path / "m"), {"blessed": True})
    assert backend.registry.versions(MODEL) == []
    assert backend.files("1") == {} and backend.files("_staging") == {}
    assert "1.json" in backend.files("_claims")
    monkeypatch.undo()
    assert backend.registry.publish(MODEL, make_model_dir(tmp_path / "n"), {"blessed": True}) == 2


@pytest.mark.s3
@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_minio_refuses_a_second_conditional_create(backend):
    """What the claims stand on: `If-None-Match: *` on an existing key is 412 PreconditionFailed.
    minio-py's put_object would send the header as user metadata, which conditions nothing."""
    import io

    from minio.error import S3Error

    registry, client = backend.registry, backend.registry.client
    key = registry._key(MODEL, "probe.json")
    assert registry._create(key, {"n": 1}) is True
    assert registry._create(key, {"n": 2}) is False
    with pytest.raises(S3Error) as refused:
        client._put_object(registry.bucket, key, b"3", headers={"If-None-Match": "*"})
    assert (refused.value.code, refused.value.response.status) == ("PreconditionFailed", 412)
    assert backend.files("probe.json") == {"": b'{\n  "n": 1\n}'}
    client.put_object(registry.bucket, key, io.BytesIO(b"4"), 1, metadata={"If-None-Match": "*"})
    assert backend.files("probe.json") == {"": b"4"}  # the public API overwrote it
