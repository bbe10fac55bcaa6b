"""Shared fixtures: the repository, real Adult subsamples with matching configs, and an S3 server.

Test data is always built from the real UCI Adult files in `data/adult/` into
a temporary folder; no test data is committed.
"""

from __future__ import annotations

import copy
import gzip
import json
import logging
import socket
import threading
import types
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import yaml
from containers.fixtures import docker_engine, images  # noqa: F401 - session fixtures for every tier

REPO_ROOT = Path(__file__).resolve().parents[1]
ADULT_DIR = REPO_ROOT / "data" / "adult"
ADULT_TRAIN = ADULT_DIR / "adult.data.csv.gz"
ADULT_TEST = ADULT_DIR / "adult.test.csv.gz"
ADULT_CONFIG = REPO_ROOT / "configs" / "adult.yaml"
ADULT_SCHEMA = REPO_ROOT / "configs" / "adult.schema.pbtxt"

DELETE = "<delete>"  # a change value that removes the key


@pytest.fixture(autouse=True)
def _root_logging_restored():
    """Code under test may configure the root logger (a stage's `setup_logging`, the CLI's
    basicConfig) with a handler bound to this test's captured stderr, which is closed after the
    test: put the root logger back so a later test's log lines never write to a closed stream."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="session")
def stage_server(tmp_path_factory) -> Path:
    """This test process's pre-imported stage server (mlpipe/run/preimported.py), started and
    ready; returns its log."""
    import time

    from mlpipe.run import preimported

    log = tmp_path_factory.mktemp("stage-server") / "server.log"
    preimported.start(log)
    deadline = time.monotonic() + 180
    while not preimported.ready():
        assert time.monotonic() < deadline, f"the stage server never got ready; see {log}"
        time.sleep(0.2)
    return log


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def adult() -> types.SimpleNamespace:
    """The real Adult files and config: `train`, `test`, `config`, `schema` paths, `lines(path, n)`,
    and `DELETE`, the change value that removes a key in `write_config`."""
    return types.SimpleNamespace(
        train=ADULT_TRAIN,
        test=ADULT_TEST,
        config=ADULT_CONFIG,
        schema=ADULT_SCHEMA,
        lines=adult_lines,
        DELETE=DELETE,
    )


def adult_lines(path: Path, n: int | None = None) -> list[str]:
    """Header plus the first `n` data lines (all when None) of a real Adult file, verbatim."""
    lines = gzip.decompress(path.read_bytes()).decode("utf-8").splitlines()
    return lines if n is None else lines[: n + 1]


def set_key(raw: dict[str, Any], dotted: str, value: Any) -> None:
    """Set (or with DELETE remove) `a.b.c` in a nested mapping."""
    *parents, last = dotted.split(".")
    node = raw
    for part in parents:
        node = node.setdefault(part, {})
    if value is DELETE:
        node.pop(last, None)
    else:
        node[last] = value


def adult_config_dict(folder: Path) -> dict[str, Any]:
    """configs/adult.yaml as a mapping, with every relative path made absolute (registry under `folder`)."""
    raw = yaml.safe_load(ADULT_CONFIG.read_text())
    raw["data"] = {"train": str(ADULT_TRAIN), "eval": str(ADULT_TEST)}
    raw["schema_path"] = str(ADULT_SCHEMA)
    raw["registry"] = {"uri": str(folder / "registry")}
    return raw


@pytest.fixture(scope="session")
def write_config() -> Callable[..., Path]:
    """`write_config(folder, changes=None, raw=None, name="config.yaml")`: the Adult config (or `raw`)
    with dotted-key `changes` applied, written as YAML into `folder`."""

    def write(
        folder: Path,
        changes: dict[str, Any] | None = None,
        raw: dict | None = None,
        name: str = "config.yaml",
    ) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        raw = copy.deepcopy(raw) if raw is not None else adult_config_dict(folder)
        for key, value in (changes or {}).items():
            set_key(raw, key, value)
        path = folder / name
        path.write_text(yaml.safe_dump(raw, sort_keys=False))
        return path

    return write


@pytest.fixture(scope="session")
def adult_subsample(write_config) -> Callable[..., types.SimpleNamespace]:
    """`adult_subsample(folder, n_train, n_eval=None, changes=None)`: header + first rows of the real
    Adult files as plain CSV in `folder`, and a matching config (no eval file when `n_eval` is None).

    Returns a namespace with `config`, `train`, `eval` (paths) and `folder`.
    """

    def make(
        folder: Path, n_train: int, n_eval: int | None = None, changes: dict[str, Any] | None = None
    ) -> types.SimpleNamespace:
        folder.mkdir(parents=True, exist_ok=True)
        train = folder / "train.csv"
        train.write_text("\n".join(adult_lines(ADULT_TRAIN, n_train)) + "\n")
        eval_path = None
        if n_eval is not None:
            eval_path = folder / "eval.csv"
            eval_path.write_text("\n".join(adult_lines(ADULT_TEST, n_eval)) + "\n")
        all_changes = {"data": {"train": str(train), **({"eval": str(eval_path)} if eval_path else {})}}
        all_changes.update(changes or {})
        config = write_config(folder, all_changes)
        return types.SimpleNamespace(config=config, train=train, eval=eval_path, folder=folder)

    return make


# --- a real S3 server: MinIO built from source (tests/servers.py) ---------------------------------


class S3Server(types.SimpleNamespace):
    endpoint: str
    access_key: str
    secret_key: str
    kind: str  # "minio", or "moto" where MinIO cannot be built (never in CI)

    def client(self):
        """A `minio.Minio` client for this server."""
        from minio import Minio

        return Minio(self.endpoint, access_key=self.access_key, secret_key=self.secret_key, secure=False)

    def environ(self, **extra: str) -> dict[str, str]:
        """The MLPIPE_S3_* variables that point the package at this server."""
        return {
            "MLPIPE_S3_ENDPOINT": self.endpoint,
            "MLPIPE_S3_ACCESS_KEY": self.access_key,
            "MLPIPE_S3_SECRET_KEY": self.secret_key,
            **extra,
        }


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> Iterator[S3Server]:
    """MinIO (what the manifests deploy) on 127.0.0.1 for the whole session, random credentials.

    Where MinIO cannot be built and CI is not set, moto's S3 server stands in, with a warning."""
    from servers import MinioServer, server_binaries

    try:
        binary = server_binaries("minio")["minio"]
    except pytest.skip.Exception as skipped:
        yield from _moto_server(str(skipped))
        return
    server = MinioServer(binary, tmp_path_factory.mktemp("minio"))
    try:
        yield S3Server(
            endpoint=server.endpoint, access_key=server.access_key, secret_key=server.secret_key, kind="minio"
        )
    finally:
        server.stop()


def _moto_server(reason: str) -> Iterator[S3Server]:
    import warnings

    moto_server = pytest.importorskip("moto.server", reason=f"{reason}; and moto is not installed")
    warnings.warn(f"{reason}: the S3 tests run against moto instead of MinIO", stacklevel=2)
    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield S3Server(
            endpoint=f"127.0.0.1:{port}",
            access_key="mlpipe-test-access",
            secret_key="mlpipe-test-SECRET-5f3c9a1e",
            kind="moto",
        )
    finally:
        server.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- a local HTTP server that records requests (stands in for the Kubernetes and KFP APIs) --------


class RecordingServer:
    """HTTP server on 127.0.0.1 in a thread; records every request and answers with `respond`.

    `respond(request)` returns `(status, json_body)`. Each recorded request is a dict with
    `method`, `path` (without the query), `query` (parsed, lists of values), `headers` (lower-case
    names) and `body` (parsed JSON, or the raw text when it is not JSON). An exception in
    `respond` answers 500, so the client under test fails and the test sees why.
    """

    def __init__(self, respond: Callable[[dict], tuple[int, object]]):
        self.requests: list[dict] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8") if length else ""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw
                path, _, query = self.path.partition("?")
                request = {
                    "method": self.command,
                    "path": path,
                    "query": parse_qs(query),
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body,
                }
                recorder.requests.append(request)
                try:
                    status, answer = respond(request)
                except Exception as exc:  # an unexpected request shape
                    status, answer = 500, {"error": repr(exc), "code": 13}
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

            def log_message(self, *args):  # keep the test output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> RecordingServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def recording_server() -> type[RecordingServer]:
    """The RecordingServer class: `with recording_server(respond) as server: ...`."""
    return RecordingServer


# --- a real Kubernetes control plane (tests/servers.py) -----------------------------------------


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory):
    """etcd + kube-apiserver + kube-controller-manager built from source, for the whole session."""
    from servers import ControlPlane, server_binaries, unavailable

    server_binaries("etcd", "kube", "kserve-crd")
    try:
        plane = ControlPlane(tmp_path_factory.mktemp("control-plane"))
    except RuntimeError as exc:
        unavailable("Kubernetes control plane", str(exc))
    try:
        yield plane
    finally:
        plane.stop()
