"""Real servers for the test suite, built from source by `scripts/build-test-servers.sh`.

Binaries live in a cache outside the repository (`$MLPIPE_CACHE`, default
`~/.cache/mlpipe`), keyed by version; `make test-servers` builds them and a
warm cache costs nothing. A tier whose server cannot start fails when `CI` is
set and skips elsewhere, with the reason and how to enable it.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BUILD_SCRIPT = REPO / "scripts" / "build-test-servers.sh"


def unavailable(what: str, why: str) -> None:
    """Fail in CI, skip elsewhere: a tier never disappears silently from CI."""
    message = f"{what} unavailable: {why}"
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI is set: a tier that cannot start its server fails)")
    pytest.skip(f"{message}; run `make test-servers` (builds the servers into ~/.cache/mlpipe)")


def server_binaries(*names: str) -> dict[str, str]:
    """`{name: path}` from the build script: cached binaries, built first when missing."""
    try:
        done = subprocess.run(
            ["bash", str(BUILD_SCRIPT), *names], capture_output=True, text=True, timeout=3600
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        unavailable(", ".join(names), f"{BUILD_SCRIPT.name} did not finish: {exc}")
    if done.returncode != 0:
        unavailable(", ".join(names), f"{BUILD_SCRIPT.name} failed: {done.stderr.strip()[-1500:]}")
    return dict(line.split("\t", 1) for line in done.stdout.splitlines() if "\t" in line)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check, process: subprocess.Popen, what: str, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            if check():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not ready after {timeout:.0f} s: {log.read_text()[-2000:]}")
        time.sleep(0.2)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class MinioServer:
    """MinIO on 127.0.0.1 (or another address of this machine: a node's, for its pods) with a
    fresh data folder and random root credentials."""

    def __init__(self, binary: str, folder: Path, host: str = "127.0.0.1"):
        self.port, console = free_port(), free_port()
        self.endpoint = f"{host}:{self.port}"
        self.access_key = "mlpipe-" + secrets.token_hex(6)
        self.secret_key = "SECRET-" + secrets.token_hex(16)
        self.log = folder / "minio.log"
        (folder / "data").mkdir(parents=True)
        env = {
            **os.environ,
            "MINIO_ROOT_USER": self.access_key,
            "MINIO_ROOT_PASSWORD": self.secret_key,
            "MINIO_BROWSER": "off",
            "MINIO_UPDATE": "off",
        }
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [binary, "server", "--quiet", "--address", self.endpoint,
                 "--console-address", f"127.0.0.1:{console}", str(folder / "data")],
                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

        def live() -> bool:
            with urllib.request.urlopen(f"http://{self.endpoint}/minio/health/live", timeout=2) as answer:
                return answer.status == 200

        wait_until(live, self.process, "MinIO", self.log)

    def stop(self) -> None:
        stop(self.process)


START_SCRIPT = REPO / "scripts" / "start-control-plane.sh"


class ControlPlane:
    """etcd + kube-apiserver (RBAC, Pod Security admission, ServiceAccount tokens) +
    kube-controller-manager on 127.0.0.1, started by scripts/start-control-plane.sh.

    No nodes: objects are stored, validated, admitted and reconciled by the controllers
    (Deployments make ReplicaSets make Pods), but no pod ever runs."""

    def __init__(self, folder: Path):
        done = subprocess.run(
            ["bash", str(START_SCRIPT), "start", str(folder)], capture_output=True, text=True, timeout=300
        )
        if done.returncode != 0:
            raise RuntimeError(f"control plane did not start: {done.stderr[-3000:]}")
        self.folder = folder
        self.env: dict[str, str] = {}
        for line in (folder / "env").read_text().splitlines():
            key, _, value = line.removeprefix("export ").partition("=")
            self.env[key] = value
        self.kubeconfig = self.env["KUBECONFIG"]
        self.url = self.env["KUBE_APISERVER_URL"]
        self.ca_file = self.env["KUBE_CA_FILE"]
        self.startup_log = done.stderr

    def kubectl(
        self, *args: str, check: bool = True, kubeconfig: str | None = None, stdin: str | None = None
    ):
        """Run kubectl against this server (as the admin unless `kubeconfig` says otherwise)."""
        done = subprocess.run(
            ["kubectl", f"--kubeconfig={kubeconfig or self.kubeconfig}", *args],
            capture_output=True, text=True, timeout=120, input=stdin,
        )  # fmt: skip
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {done.stderr.strip()}")
        return done

    def token(self, namespace: str, service_account: str) -> str:
        """A token for a ServiceAccount, issued by the server's TokenRequest API."""
        return self.kubectl("create", "token", service_account, "-n", namespace).stdout.strip()

    def api_client(self, token: str):
        """A kubernetes ApiClient that authenticates with `token` (a pod's view of the API)."""
        from kubernetes import client

        configuration = client.Configuration()
        configuration.host = self.url
        configuration.ssl_ca_cert = self.ca_file
        configuration.api_key = {"authorization": token}
        configuration.api_key_prefix = {"authorization": "Bearer"}
        return client.ApiClient(configuration)

    def stop(self) -> None:
        subprocess.run(
            ["bash", str(START_SCRIPT), "stop", str(self.folder)], capture_output=True, timeout=120
        )


NODE_SCRIPT = REPO / "scripts" / "start-node.sh"


class Node:
    """A real node for `plane`: containerd + runc + CNI bridge, kubelet and kube-scheduler,
    started by scripts/start-node.sh (root). Pods run; their addresses exist only here."""

    def __init__(self, plane: ControlPlane, folder: Path):
        done = subprocess.run(
            ["bash", str(NODE_SCRIPT), "start", str(plane.folder), str(folder)],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        self.folder = folder
        if done.returncode != 0:
            self.stop()
            raise RuntimeError(f"node did not start: {done.stderr[-3000:]}")
        self.env: dict[str, str] = {}
        for line in (folder / "env").read_text().splitlines():
            key, _, value = line.removeprefix("export ").partition("=")
            self.env[key] = value.strip('"')
        self.name, self.probe_image = self.env["NODE_NAME"], self.env["NODE_PROBE_IMAGE"]
        self.ip = self.env["NODE_IP"]  # on this machine only (lo); pods reach the host there
        self.startup_log = done.stderr

    def import_image(self, image: str, folder: Path) -> None:
        """Put a Docker engine's image into the node's containerd (`k8s.io` namespace), as
        `kind load docker-image` does: nothing can be pulled here."""
        from containers.dockerutil import docker_cli

        archive = folder / (image.rsplit("/", 1)[-1].replace(":", "_") + ".tar")
        subprocess.run([docker_cli(), "save", "-o", str(archive), image], check=True, timeout=600)
        try:
            done = subprocess.run(
                ["bash", str(NODE_SCRIPT), "import", str(self.folder), str(archive)],
                capture_output=True, text=True, timeout=600,
            )  # fmt: skip
            if done.returncode != 0:
                raise RuntimeError(f"importing {image} into the node failed: {done.stderr[-2000:]}")
        finally:
            archive.unlink(missing_ok=True)

    def stop(self) -> None:
        subprocess.run(["bash", str(NODE_SCRIPT), "stop", str(self.folder)], capture_output=True, timeout=120)
