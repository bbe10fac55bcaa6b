"""Run a compiled pipeline, the very IR `mlpipe submit` sends, in the project's images.

kfp.local's DockerRunner (kfp 2.13) starts each task's container with the
pipeline root mounted and nothing else: no environment of the task, no
Secret, no network. A cluster gives a pod all three, so this module does too:
- the task's `env` from the IR (e.g. the S3 endpoint from params.env);
- its `secretAsEnv` from the IR's platform spec, filled from a local stand-in
  of the Kubernetes Secret (`{secret name: {key: value}}`), so credentials
  reach the stage under the names the cluster would give them;
- host networking, so an S3 server on this machine's loopback is reachable;
- `env_overrides`, where a cluster would resolve a Service name
  (`minio.<ns>.svc.cluster.local`) that this machine cannot.
Nothing of the checkout is mounted: the images must carry everything.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from mlpipe.errors import UserInputError
from mlpipe.storage.atomic import atomic_write_text


def platform_executors(package: str | Path) -> dict[str, dict]:
    """The Kubernetes platform settings per executor label (`exec-ingest`: {secretAsEnv: ...})."""
    docs = list(yaml.safe_load_all(Path(package).read_text()))
    if len(docs) < 2:
        return {}
    return docs[1].get("platforms", {}).get("kubernetes", {}).get("deploymentSpec", {}).get("executors", {})


def task_environment(
    container_env: Mapping[str, str],
    platform: Mapping[str, Any],
    secrets: Mapping[str, Mapping[str, str]],
    overrides: Mapping[str, str],
) -> dict[str, str]:
    """What a pod of this task would see in its environment (plus the local overrides)."""
    env = dict(container_env)
    for mapping in platform.get("secretAsEnv", []):
        name = mapping["secretName"]
        if name not in secrets:
            raise UserInputError(f"the task needs the Secret '{name}', which was not given")
        for key_to_env in mapping["keyToEnv"]:
            key = key_to_env["secretKey"]
            if key not in secrets[name]:
                raise UserInputError(f"Secret '{name}' has no key '{key}'")
            env[key_to_env["envVar"]] = secrets[name][key]
    env.update({k: v for k, v in overrides.items() if k in env})
    return env


@contextlib.contextmanager
def cluster_like_containers(
    package: str | Path, secrets: Mapping[str, Mapping[str, str]], env_overrides: Mapping[str, str]
) -> Iterator[None]:
    """Patch kfp.local so each container gets its task's environment and the host network."""
    from kfp.local import docker_task_handler, task_dispatcher

    platform = platform_executors(package)
    current: dict[str, dict[str, str]] = {"env": {}}
    dispatch = task_dispatcher.run_single_task_implementation
    start_container = docker_task_handler.run_docker_container

    def dispatch_with_env(**kwargs):
        executor = kwargs["component_spec"].executor_label
        container_env = {e.name: e.value for e in kwargs["executor_spec"].container.env}
        current["env"] = task_environment(container_env, platform.get(executor, {}), secrets, env_overrides)
        return dispatch(**kwargs)

    def run_container(client, image: str, command: list[str], volumes: dict) -> int:
        if not any(image in i.tags for i in client.images.list()):
            raise UserInputError(f"image {image} is not in the local engine: build it with `make images`")
        container = client.containers.run(
            image=image,
            command=command,
            detach=True,
            volumes=volumes,
            environment=current["env"],
            network_mode="host",
        )
        try:
            for line in container.logs(stream=True):
                print(line.decode(errors="replace"), end="")
            return container.wait()["StatusCode"]
        finally:
            container.remove(force=True)

    task_dispatcher.run_single_task_implementation = dispatch_with_env
    docker_task_handler.run_docker_container = run_container
    try:
        yield
    finally:
        task_dispatcher.run_single_task_implementation = dispatch
        docker_task_handler.run_docker_container = start_container


def run_package(
    package: str | Path,
    runs_root: str | Path,
    arguments: dict[str, Any],
    secrets: Mapping[str, Mapping[str, str]],
    env_overrides: Mapping[str, str] | None = None,
    reporter=None,
) -> tuple[dict, Path]:
    """Run the compiled pipeline in containers with the arguments a cluster user would pass.
    `reporter`: what the terminal shows (mlpipe/run/terminal.py); stage logs go to `<run>/logs/`."""
    from kfp import components, local

    from mlpipe.run.local import new_run_dir, point_latest, run_and_summarize

    runs_root = Path(runs_root).resolve()
    run_dir = new_run_dir(runs_root)
    runs_root.chmod(0o777)  # the images run as uid 1000 and write under the mounted root
    local.init(runner=local.DockerRunner(), pipeline_root=str(runs_root), raise_on_error=False)
    pipeline = components.load_component_from_file(str(package))
    unknown = sorted(set(arguments) - set(pipeline.component_spec.inputs))
    if unknown:
        raise UserInputError(f"{package} has no run parameter '{unknown[0]}'")
    start = time.perf_counter()
    with cluster_like_containers(package, secrets, env_overrides or {}):
        summary = run_and_summarize(
            pipeline, arguments, run_dir, str(package), docker=True, reporter=reporter
        )
    summary.update(
        runner="docker-ir", package=str(package), wall_seconds=round(time.perf_counter() - start, 2)
    )
    atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=2, default=str) + "\n")
    point_latest(runs_root, run_dir)
    return summary, run_dir
