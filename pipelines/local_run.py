"""Run the training pipeline on this machine with `kfp.local` and write `summary.json`.

kfp.local reports only pass/fail for the whole pipeline. To give each stage its
status, seconds and error, the runner wraps kfp.local's single-task dispatch
(the function its DAG orchestrator calls per task) and tees the task's output.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import os
import re
import shutil
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from mlpipe.components.atomic import atomic_write_text
from mlpipe.components.config import DatasetConfig, load_config, with_overrides
from mlpipe.components.errors import UserInputError
from mlpipe.pipelines.interrupt import RunInterrupted, mark_interrupted, stage_processes_ended_on_interrupt

log = logging.getLogger(__name__)

_ERROR_LINE = re.compile(r"^\s*(?:[\w.]+\.)?(\w*(?:Error|Exception)): (.+)$")


class _Tee(io.TextIOBase):
    """Pass output through while keeping it, so a failed task's last error can be read."""

    def __init__(self, stream):
        self.stream = stream
        self.lines: list[str] = []

    def write(self, text: str) -> int:
        self.stream.write(text)
        self.lines.extend(text.splitlines())
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def error_from_output(lines: list[str]) -> str:
    """The message of the last exception a task printed (our errors name file, column or value)."""
    for index in range(len(lines) - 1, -1, -1):
        match = _ERROR_LINE.match(lines[index])
        # TF prints "Exception ignored in ... __del__" noise at interpreter exit; skip it.
        noise = any("Exception ignored" in ln or "__del__" in ln for ln in lines[max(0, index - 4) : index])
        if match and not noise and "RuntimeError: Task" not in lines[index]:
            return (
                f"{match.group(1)}: {match.group(2)}"
                if match.group(1) != "UserInputError"
                else match.group(2)
            )
    return "stage failed; see its log above"


def _stage_name(component_name: str) -> str:
    return component_name.removeprefix("comp-").replace("-", "_")


def _plain(value: Any) -> Any:
    """KFP metadata stores every number as a float; give whole numbers back as ints."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _merge(target: dict, part: dict) -> None:
    for key, value in part.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


@contextlib.contextmanager
def record_stages(records: list[dict[str, Any]]) -> Iterator[None]:
    """Record name, status, seconds, outputs and error of every task kfp.local runs."""
    from kfp.local import executor_input_utils, status, task_dispatcher

    original: Callable = task_dispatcher.run_single_task_implementation

    def recorded(**kwargs):
        name = _stage_name(kwargs["component_name"])
        task_root = executor_input_utils.construct_local_task_root(
            pipeline_root=kwargs["pipeline_root"],
            pipeline_resource_name=kwargs["pipeline_resource_name"],
            task_resource_name=executor_input_utils.get_local_task_resource_name(kwargs["component_name"]),
        )
        log.info("stage %s: started", name)
        tee = _Tee(sys.stdout)
        start = time.perf_counter()
        try:
            with contextlib.redirect_stdout(tee):
                outputs, task_status = original(**kwargs)
        except RunInterrupted:
            seconds = round(time.perf_counter() - start, 2)
            records.append(
                {"name": name, "status": "interrupted", "seconds": seconds, "task_root": task_root}
            )
            raise
        seconds = round(time.perf_counter() - start, 2)
        ok = task_status == status.Status.SUCCESS
        record = {"name": name, "status": "succeeded" if ok else "failed", "seconds": seconds}
        record["outputs"] = outputs
        record["task_root"] = task_root
        if not ok:
            record["error"] = error_from_output(tee.lines)
        records.append(record)
        log.info("stage %s: %s in %.1f s", name, record["status"], seconds)
        return outputs, task_status

    task_dispatcher.run_single_task_implementation = recorded
    try:
        yield
    finally:
        task_dispatcher.run_single_task_implementation = original


def summary_parts(record: dict[str, Any]) -> list[dict]:
    """What a stage adds to summary.json: its artifacts' `summary` metadata, or on failure
    the `summary.json` files its outputs left (validate writes its anomalies there before failing)."""
    parts = []
    for value in record.get("outputs", {}).values():
        artifacts = value if isinstance(value, list) else [value]
        for artifact in artifacts:
            part = getattr(artifact, "metadata", {}).get("summary")
            if isinstance(part, dict):
                parts.append(_plain(part))
    if record["status"] == "failed":
        for path in sorted(Path(record["task_root"]).glob("*/summary.json")):
            parts.append(json.loads(path.read_text()))
    return parts


def build_summary(records: list[dict[str, Any]], run_dir: Path, config_path: str, wall: float) -> dict:
    failed = next((r for r in records if r["status"] == "failed"), None)
    summary: dict[str, Any] = {
        "status": "failed" if failed else "succeeded",
        "failed_stage": failed["name"] if failed else None,
        "error": failed["error"] if failed else None,
        "run_dir": str(run_dir),
        "config": config_path,
        "wall_seconds": round(wall, 2),
        "data": {"train_rows": None, "eval_rows": None, "fingerprint": None},
        "anomalies": [],
        "stages": [{k: r[k] for k in ("name", "status", "seconds")} for r in records],
    }
    for record in records:
        for part in summary_parts(record):
            _merge(summary, part)
    return summary


def new_run_dir(root: Path) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = root / stamp
    suffix = 1
    while run_dir.exists():
        suffix += 1
        run_dir = root / f"{stamp}-{suffix}"
    run_dir.mkdir(parents=True)
    return run_dir


def point_latest(root: Path, run_dir: Path) -> None:
    latest = root / "latest"
    tmp = root / f".latest-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(run_dir.name)
    os.replace(tmp, latest)


# KFP names artifact files after their outputs, without extensions; a browser then shows the
# HTML as text. The run directory gets copies that open by double-click.
REPORT_NAMES = {
    "statistics_html": "statistics.html",
    "validation_report": "validation_report.md",
    "fairness_report": "fairness_report.html",
    "model_card": "model_card.md",
}


def collect_reports(artifacts: dict[str, str], reports_dir: Path) -> dict[str, str]:
    """Copy the run's reports into `reports_dir` with proper extensions; returns their paths."""
    copied = {}
    for key, name in REPORT_NAMES.items():
        source = Path(artifacts.get(key, ""))
        if artifacts.get(key) and source.is_file():
            reports_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, reports_dir / name)
            copied[key] = str(reports_dir / name)
    return copied


def docker_config(config: DatasetConfig, runs_root: Path) -> DatasetConfig:
    """The config as the containers see it: DockerRunner mounts only the pipeline root (here
    the runs root), so local data must lie under it, and a local registry moves into it."""
    from mlpipe.components.config import RegistryConfig

    for key, value in (
        ("data.train", config.data.train),
        ("data.eval", config.data.eval),
        ("data.serving", config.data.serving),
    ):
        if value and not value.startswith("s3://") and not Path(value).resolve().is_relative_to(runs_root):
            raise UserInputError(
                f"--runner docker sees only {runs_root}: {key} {value} must lie under it or be s3://"
            )
    if not config.registry.uri.startswith("s3://"):
        config = config.model_copy(update={"registry": RegistryConfig(uri=str(runs_root / "registry"))})
    return config


def run_pipeline(
    config_path: str,
    runs_root: str | Path = "runs",
    runner: str = "subprocess",
    arguments: dict[str, Any] | None = None,
) -> tuple[dict, Path]:
    """Run the training pipeline locally; returns the summary and the run directory.

    `arguments` are run parameters besides the config (`train_data`, `enable_tuning`, ...).
    """
    from kfp import local

    from mlpipe.components.serving import load_serving_names
    from mlpipe.pipelines.training import build_pipeline

    arguments = dict(arguments or {})
    config = with_overrides(
        load_config(config_path), train=arguments.pop("train_data", ""), eval=arguments.pop("eval_data", "")
    )
    runs_root = Path(runs_root).resolve()
    run_dir = new_run_dir(runs_root)
    if runner == "docker":
        backend = local.DockerRunner()
        config = docker_config(config, runs_root)
        pipeline_root = runs_root  # mounted into every container: artifacts, inputs and the registry
        runs_root.chmod(0o777)  # the images run as uid 1000
    elif runner == "subprocess":
        backend = local.SubprocessRunner(use_venv=False)
        pipeline_root = run_dir / "artifacts"
    else:
        raise ValueError(f"unknown runner {runner!r}; expected 'subprocess' or 'docker'")
    local.init(runner=backend, pipeline_root=str(pipeline_root), raise_on_error=False)
    pipeline = build_pipeline(config, load_serving_names())
    args = {"config": config.run_input(), **arguments}
    unknown = sorted(set(args) - set(pipeline.component_spec.inputs))
    if unknown:
        raise UserInputError(f"unknown pipeline parameter '{unknown[0]}'")
    summary = run_and_summarize(pipeline, args, run_dir, str(config_path), docker=runner == "docker")
    summary["runner"] = runner
    atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=2, default=str) + "\n")
    point_latest(runs_root, run_dir)
    return summary, run_dir


def run_and_summarize(pipeline, args: dict[str, Any], run_dir: Path, config_label: str, docker: bool) -> dict:
    """Call a pipeline (or a component loaded from compiled IR) under kfp.local and summarize it.
    kfp.local must be initialized; `docker`: the images' user (uid 1000) writes where kfp.local
    makes folders, so no umask while it runs."""
    records: list[dict[str, Any]] = []
    start = time.perf_counter()
    umask = os.umask(0o000) if docker else None
    stopped = None
    try:
        with stage_processes_ended_on_interrupt(), record_stages(records), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*non-Python base image.*")
            pipeline(**args)
    except RunInterrupted as stop:
        stopped = stop
    finally:
        if umask is not None:
            os.umask(umask)
    summary = build_summary(records, run_dir, config_label, time.perf_counter() - start)
    if stopped is not None:
        mark_interrupted(summary, stopped)
    summary["reports"] = collect_reports(summary.get("artifacts", {}), run_dir / "reports")
    return summary
