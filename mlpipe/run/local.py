"""Run the training pipeline on this machine with `kfp.local` and write `summary.json`.

kfp.local reports only pass/fail for the whole pipeline. To give each stage its
status, seconds and error, the runner wraps kfp.local's single-task dispatch
(the function its DAG orchestrator calls per task) and sends the task's output
to `<run>/logs/<stage>.log` (with `verbose`, to the terminal too), reading it on
the way for progress marks and, on failure, the error. With the subprocess runner, each
stage's process is forked from a server that has imported TF, TFDV and TFMA once
(mlpipe/run/preimported.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import shutil
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from mlpipe.config.dataset import DatasetConfig
from mlpipe.config.io import load_config, with_overrides
from mlpipe.errors import UserInputError
from mlpipe.run import preimported
from mlpipe.run.interrupt import RunInterrupted, mark_interrupted, stage_processes_ended_on_interrupt
from mlpipe.run.stage_output import (
    error_message,
    error_tail,
    is_user_error,
    negative_outcome,
    parse_progress,
    stage_figure,
)
from mlpipe.run.terminal import Reporter, StageOutput
from mlpipe.storage.atomic import atomic_write_text

log = logging.getLogger(__name__)

LOGS_DIR = "logs"
PIPELINE_LOG = "pipeline.log"  # kfp.local's own lines (start, end, failed task) when not verbose
PREIMPORT_LOG = "preimport.log"  # the stage server's imports (mlpipe/run/preimported.py)


def error_from_output(lines: list[str]) -> str:
    """The message of the last exception a task printed (our errors name file, column or value)."""
    return error_message(lines) or "stage failed; see its log"


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


def _metadata(outputs: dict[str, Any]) -> dict[str, dict]:
    return {
        key: dict(getattr(value, "metadata", {}) or {})
        for key, value in outputs.items()
        if not isinstance(value, list)
    }


@contextlib.contextmanager
def record_stages(
    records: list[dict[str, Any]], logs_dir: Path, reporter: Reporter | None = None
) -> Iterator[None]:
    """Record name, status, seconds, outputs and error of every task kfp.local runs; its output
    goes to `logs_dir/<stage>.log` (and to the terminal when the reporter is verbose)."""
    from kfp.local import executor_input_utils, status, task_dispatcher

    reporter = reporter or Reporter()
    original: Callable = task_dispatcher.run_single_task_implementation

    def recorded(**kwargs):
        name = _stage_name(kwargs["component_name"])
        task_root = executor_input_utils.construct_local_task_root(
            pipeline_root=kwargs["pipeline_root"],
            pipeline_resource_name=kwargs["pipeline_resource_name"],
            task_resource_name=executor_input_utils.get_local_task_resource_name(kwargs["component_name"]),
        )
        log_path = logs_dir / f"{name}.log"
        log.debug("stage %s: started; log %s", name, log_path)
        reporter.started(name)

        def on_line(line: str) -> None:
            mark = parse_progress(line)
            if mark is not None:
                reporter.progress(name, mark)

        start = time.perf_counter()
        with open(log_path, "a", encoding="utf-8", errors="replace") as log_file:
            output = StageOutput(log_file, reporter.stream if reporter.verbose else None, on_line)
            try:
                with contextlib.redirect_stdout(output):
                    outputs, task_status = original(**kwargs)
            except RunInterrupted:
                seconds = round(time.perf_counter() - start, 2)
                records.append(
                    {
                        "name": name,
                        "status": "interrupted",
                        "seconds": seconds,
                        "task_root": task_root,
                        "log": str(log_path),
                    }
                )
                raise
        seconds = round(time.perf_counter() - start, 2)
        lines = output.close_lines()
        ok = task_status == status.Status.SUCCESS
        record = {"name": name, "status": "succeeded" if ok else "failed", "seconds": seconds}
        record["log"] = str(log_path)
        record["outputs"] = outputs
        record["task_root"] = task_root
        if not ok:
            record["error"] = error_from_output(lines)
            record["user_error"] = is_user_error(lines)
        records.append(record)
        if ok:
            part: dict[str, Any] = {}
            for piece in summary_parts(record):
                _merge(part, piece)
            figure = stage_figure(name, part, _metadata(outputs))
            negative = negative_outcome(name, part)
            reporter.finished(name, True, seconds, figure, None, [], negative=negative)
        elif record["user_error"]:  # one line, in the summary; the traceback stays in the log
            reporter.finished(name, False, seconds, "", log_path, [])
        else:
            reporter.finished(name, False, seconds, record["error"], log_path, error_tail(lines))
        log.debug("stage %s: %s in %.1f s", name, record["status"], seconds)
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
        "error_kind": None if not failed else "user" if failed.get("user_error") else "internal",
        "run_dir": str(run_dir),
        "config": config_path,
        "wall_seconds": round(wall, 2),
        "data": {"train_rows": None, "eval_rows": None, "fingerprint": None},
        "anomalies": [],
        "stages": [{k: r[k] for k in ("name", "status", "seconds", "log") if k in r} for r in records],
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
    from mlpipe.config.dataset import RegistryConfig

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
    reporter: Reporter | None = None,
) -> tuple[dict, Path]:
    """Run the training pipeline locally; returns the summary and the run directory.

    `arguments` are run parameters besides the config (`train_data`, `enable_tuning`, ...).
    `reporter` shows the stages as they run (mlpipe/run/terminal.py); default: nothing shown.
    Each stage's output is in `<run>/logs/<stage>.log`.
    """
    arguments = dict(arguments or {})
    config = with_overrides(
        load_config(config_path), train=arguments.pop("train_data", ""), eval=arguments.pop("eval_data", "")
    )
    runs_root = Path(runs_root).resolve()
    run_dir = new_run_dir(runs_root)
    if runner == "subprocess" and preimported.enabled():  # it imports while we build the pipeline
        (run_dir / LOGS_DIR).mkdir(exist_ok=True)
        preimported.start(run_dir / LOGS_DIR / PREIMPORT_LOG)

    from kfp import local

    from mlpipe.pipelines.training import build_pipeline

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
    pipeline = build_pipeline(config)
    args = {"config": config.run_input(), **arguments}
    unknown = sorted(set(args) - set(pipeline.component_spec.inputs))
    if unknown:
        raise UserInputError(f"unknown pipeline parameter '{unknown[0]}'")
    summary = run_and_summarize(
        pipeline, args, run_dir, str(config_path), docker=runner == "docker", reporter=reporter
    )
    summary["runner"] = runner
    atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=2, default=str) + "\n")
    point_latest(runs_root, run_dir)
    return summary, run_dir


def run_and_summarize(
    pipeline,
    args: dict[str, Any],
    run_dir: Path,
    config_label: str,
    docker: bool,
    reporter: Reporter | None = None,
    title: str | None = None,
) -> dict:
    """Call a pipeline (or a component loaded from compiled IR) under kfp.local and summarize it.
    kfp.local must be initialized; `docker`: the images' user (uid 1000) writes where kfp.local
    makes folders, so no umask while it runs. Stage output goes to `run_dir/logs/`; kfp.local's
    own lines to `logs/pipeline.log`, unless the reporter is verbose."""
    reporter = reporter or Reporter()
    logs_dir = run_dir / LOGS_DIR
    logs_dir.mkdir(parents=True, exist_ok=True)
    records: list[dict[str, Any]] = []
    start = time.perf_counter()
    umask = os.umask(0o000) if docker else None
    reporter.begin(title or f"mlpipe run: {config_label} -> {run_dir}", f"{logs_dir}/<stage>.log")
    stopped = None
    try:
        with contextlib.ExitStack() as stack:
            # forked once the stage server that run_pipeline started is ready
            fork = not docker and preimported.enabled()
            stack.enter_context(stage_processes_ended_on_interrupt(preimported=fork))
            stack.enter_context(record_stages(records, logs_dir, reporter))
            stack.enter_context(warnings.catch_warnings())
            warnings.filterwarnings("ignore", message=".*non-Python base image.*")
            if not reporter.verbose:
                kfp_log = stack.enter_context(open(logs_dir / PIPELINE_LOG, "a", encoding="utf-8"))
                stack.enter_context(contextlib.redirect_stdout(kfp_log))
                stack.enter_context(contextlib.redirect_stderr(kfp_log))
            pipeline(**args)
    except RunInterrupted as stop:
        stopped = stop
    finally:
        reporter.close()
        if umask is not None:
            os.umask(umask)
    summary = build_summary(records, run_dir, config_label, time.perf_counter() - start)
    if stopped is not None:
        mark_interrupted(summary, stopped)
    summary["logs"] = str(logs_dir)
    summary["reports"] = collect_reports(summary.get("artifacts", {}), run_dir / "reports")
    return summary
