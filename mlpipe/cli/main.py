"""`mlpipe`: the command line of the package.

Each subcommand is a thin shell over a function elsewhere; user errors print
one line and exit 2, so scripts and people both see the cause at once.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from mlpipe.cli.registry import (
    WAIT_HELP,
    cmd_models,
    cmd_promote,
    cmd_rollback,
    cmd_upload,
)
from mlpipe.errors import UserInputError
from mlpipe.serving.rollout import TARGETS

DEFAULT_CONFIG = "configs/adult.yaml"
DEFAULT_CLUSTER_CONFIG = "configs/adult-cluster.yaml"
DEFAULT_PACKAGE = "build/training_pipeline.yaml"
PACKAGES = {"training": DEFAULT_PACKAGE, "monitoring": "build/monitoring_pipeline.yaml"}
PIPELINE_HELP = "which pipeline: training, or monitoring (one batch: --param batch=s3://...)"


def _rounded(value):
    """Floats to 4 significant digits, so a summary line fits a terminal line."""
    if isinstance(value, float):
        return float(f"{value:.4g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def _print_summary_table(summary: dict) -> None:
    print()
    print(f"{'stage':<16}{'status':<12}{'seconds':>9}")
    print("-" * 37)
    for stage in summary["stages"]:
        print(f"{stage['name']:<16}{stage['status']:<12}{stage['seconds']:>9.1f}")
    print("-" * 37)
    print(f"{'total':<28}{summary['wall_seconds']:>9.1f}")
    data = summary.get("data", {})
    print(f"\ndata: train_rows={data.get('train_rows')} eval_rows={data.get('eval_rows')}")
    for key in ("blessing", "infra", "push"):
        if key in summary:
            print(f"{key}: {json.dumps(_rounded(summary[key]), default=str)}")
    if summary["status"] != "succeeded":
        outcome = "INTERRUPTED" if summary["status"] == "interrupted" else "FAILED"
        print(f"\n{outcome} at stage {summary['failed_stage']}: {summary['error']}")
        for anomaly in summary.get("anomalies", []):  # those the error does not already say
            if anomaly["description"] not in (summary["error"] or ""):
                print(f"  - {anomaly['feature']}: {anomaly['kind']}: {anomaly['description']}")
        failed = next((s for s in summary["stages"] if s["name"] == summary["failed_stage"]), {})
        if failed.get("log"):
            print(f"log: {failed['log']}")


# `mlpipe run`'s exit status (docs/cli.md): what a script or CI job can tell apart
EXIT_PUSHED, EXIT_INTERNAL, EXIT_USER_ERROR, EXIT_NOT_PUSHED = 0, 1, 2, 3


def run_exit_status(summary: dict) -> int:
    """0 the model was pushed; 3 the run succeeded but pushed nothing (not blessed); 2 a user
    error (bad config or data, rejected by validation); 1 an internal failure; 128+N on signal N."""
    if summary["status"] == "interrupted":
        return summary["exit_code"]  # 130 for SIGINT, 143 for SIGTERM, as a shell reports them
    if summary["status"] != "succeeded":
        return EXIT_USER_ERROR if summary.get("error_kind") == "user" else EXIT_INTERNAL
    return EXIT_PUSHED if summary.get("push", {}).get("pushed") else EXIT_NOT_PUSHED


def cmd_run(args: argparse.Namespace) -> int:
    from mlpipe.run.terminal import TerminalReporter

    reporter = TerminalReporter(verbose=args.verbose)
    if args.package:
        summary, run_dir = _run_package(args, reporter)
    else:
        from mlpipe.run.local import run_pipeline

        arguments = {}
        for key, value in (("train_data", args.train_data), ("eval_data", args.eval_data)):
            if value:
                arguments[key] = value if value.startswith("s3://") else str(Path(value).resolve())
        summary, run_dir = run_pipeline(
            args.config, runs_root=args.output, runner=args.runner, arguments=arguments, reporter=reporter
        )
    _print_summary_table(summary)
    print(f"\nrun directory: {run_dir}\nsummary: {run_dir / 'summary.json'}")
    for path in summary.get("reports", {}).values():
        print(f"report: {path}")
    status = run_exit_status(summary)
    if status == EXIT_NOT_PUSHED:
        reasons = "; ".join(summary.get("push", {}).get("reasons") or []) or "see summary.json"
        print(f"\nnot pushed (exit {status}): {reasons}")
    return status


def _run_package(args: argparse.Namespace, reporter):
    """The compiled IR in the images, given what a pod gets (see mlpipe/run/containers.py)."""
    from mlpipe.cluster.submit import cluster_arguments, package_config
    from mlpipe.config.io import config_from_dict, load_config
    from mlpipe.run.containers import run_package
    from mlpipe.serving.names import ACCESS_KEY_ID_KEY, SECRET_ACCESS_KEY_KEY, load_serving_names
    from mlpipe.storage.s3 import ACCESS_KEY, ENDPOINT, SECRET_KEY

    params = {k: v for k, v in (("train_data", args.train_data), ("eval_data", args.eval_data)) if v}
    config = (
        load_config(args.config, check_data=False)
        if args.config
        else config_from_dict(package_config(args.package), args.package)
    )
    secret = {
        ACCESS_KEY_ID_KEY: os.environ.get(ACCESS_KEY, ""),
        SECRET_ACCESS_KEY_KEY: os.environ.get(SECRET_KEY, ""),
    }
    overrides = {ENDPOINT: os.environ[ENDPOINT]} if os.environ.get(ENDPOINT) else {}
    return run_package(
        args.package,
        args.output,
        cluster_arguments(config, params),
        {load_serving_names().pipeline_credentials_secret: secret},
        overrides,
        reporter=reporter,
    )


def cmd_schema(args: argparse.Namespace) -> int:
    from mlpipe.cli.data_checks import generate_schema

    if not (args.write or args.output):
        print("nothing written: pass --write (to the config's schema_path) or --output FILE", file=sys.stderr)
        return 2
    print(f"wrote {generate_schema(args.config, args.output)}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    import datetime as dt

    from mlpipe.cli.data_checks import validate_batch
    from mlpipe.run.terminal import Steps, TerminalReporter, terminal_stream

    output = Path(
        args.output or Path(args.runs) / "validations" / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    )
    # Next to the report folder, not in it: a batch that cannot be read leaves no report folder.
    log_path = output.parent / f"{output.name}.log"
    reporter = TerminalReporter(file=terminal_stream(), verbose=args.verbose, live=False)
    reporter.begin(f"mlpipe validate: {args.data}", str(log_path))
    try:
        result = validate_batch(
            args.config,
            args.data,
            output,
            runs_root=args.runs,
            baseline=args.baseline,
            step=Steps(reporter, log_path),
        )
    finally:
        reporter.close()
    for anomaly in result.anomalies:
        level = "ERROR" if anomaly.blocking else "WARN"
        print(f"{level} {anomaly.feature}: {anomaly.kind}: {anomaly.description}")
    print(f"report: {output / 'report.md'}")
    if result.blocking:
        features = sorted({a.feature for a in result.blocking})
        print(f"batch rejected: offending features: {', '.join(features)}", file=sys.stderr)
        return 1
    print("batch accepted")
    return 0


def cmd_compile(args: argparse.Namespace) -> int:
    from mlpipe.config.io import load_config
    from mlpipe.pipelines.compile import compile_components, compile_pipeline

    config = load_config(args.config, check_data=False)
    output = args.output or PACKAGES[args.pipeline]
    print(f"wrote {compile_pipeline(config, output, for_cluster=not args.local, pipeline=args.pipeline)}")
    if args.components:
        for path in compile_components():
            print(f"wrote {path}")
    return 0


def cmd_submit(args: argparse.Namespace) -> int:
    from mlpipe.cluster.submit import cluster_arguments, parse_params, submit
    from mlpipe.config.io import load_config
    from mlpipe.pipelines.compile import compile_pipeline

    params = parse_params(args.param)
    if args.config or not args.package:
        config = load_config(args.config or DEFAULT_CLUSTER_CONFIG, check_data=False)
        params = cluster_arguments(config, params)
        package = (
            Path(args.package)
            if args.package
            else compile_pipeline(config, PACKAGES[args.pipeline], pipeline=args.pipeline)
        )
    else:
        package = Path(args.package)
    url = submit(
        args.host,
        package,
        params,
        experiment=args.experiment,
        run_name=args.run_name,
        namespace=args.namespace,
        recurring_cron=args.recurring,
        service_account=args.service_account,
    )
    print(url)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlpipe", description=__doc__.splitlines()[0])
    verbose_help = "show everything: every stage's full output, kfp.local's task logs, debug logging"
    parser.add_argument("-v", "--verbose", action="store_true", help=verbose_help)
    # `mlpipe run --verbose` as well as `mlpipe --verbose run` (SUPPRESS: no default that
    # would overwrite the top-level flag)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=verbose_help)
    sub = parser.add_subparsers(dest="command", required=True)

    def add_command(name: str, **kwargs) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[common], **kwargs)

    run = add_command("run", help="run the training pipeline locally (kfp.local)")
    run.add_argument("--config", help=f"dataset config YAML (default: {DEFAULT_CONFIG})")
    run.add_argument(
        "--output", default="runs", help="runs root; each run gets a folder, `latest` links the newest"
    )
    run.add_argument(
        "--package",
        help="run this compiled IR (what `mlpipe submit` sends) in the images, as on a cluster; "
        "config: --config when given, else the package's; credentials and endpoint from MLPIPE_S3_*",
    )
    run.add_argument(
        "--runner", choices=["subprocess", "docker"], default="subprocess", help="kfp.local runner"
    )
    run.add_argument("--train-data", help="override the config's train data location")
    run.add_argument("--eval-data", help="override the config's eval data location")
    run.set_defaults(func=cmd_run)

    schema = add_command(
        "schema", help="generate a curated schema starting point from the train split the pipeline uses"
    )
    schema.add_argument("--config", default=DEFAULT_CONFIG, help="dataset config YAML")
    schema.add_argument("--write", action="store_true", help="write the schema (to the config's schema_path)")
    schema.add_argument("--output", help="write the schema here (instead of the config's schema_path)")
    schema.set_defaults(func=cmd_schema)

    validate = add_command(
        "validate", help="validate a new data batch against the schema and training baseline"
    )
    validate.add_argument("--config", default=DEFAULT_CONFIG, help="dataset config YAML")
    validate.add_argument("--data", required=True, help="the new batch: CSV path or s3:// location")
    validate.add_argument("--baseline", help="run directory to compare with (default: newest validated run)")
    validate.add_argument("--runs", default="runs", help="runs root to look for the baseline in")
    validate.add_argument("--output", help="where to write the report (default: <runs>/validations/<time>)")
    validate.set_defaults(func=cmd_validate)

    compile_ = add_command("compile", help="compile the training pipeline to KFP IR YAML")
    compile_.add_argument(
        "--config",
        default=DEFAULT_CLUSTER_CONFIG,
        help="dataset config: the default of the `config` run parameter",
    )
    compile_.add_argument("--output", help=f"IR YAML to write (default: {PACKAGES})")
    compile_.add_argument("--pipeline", choices=list(PACKAGES), default="training", help=PIPELINE_HELP)
    compile_.add_argument(
        "--local", action="store_true", help="allow local paths in the config (kfp.local runs, not a cluster)"
    )
    compile_.add_argument(
        "--components", action="store_true", help="also write components/<stage>/component.yaml"
    )
    compile_.set_defaults(func=cmd_compile)

    upload = add_command("upload", help="upload local files to an s3:// prefix (MLPIPE_S3_* credentials)")
    upload.add_argument("files", nargs="+", help="local files")
    upload.add_argument("destination", help="s3://bucket/prefix/")
    upload.set_defaults(func=cmd_upload)

    submit = add_command("submit", help="submit the pipeline to a Kubeflow Pipelines endpoint")
    submit.add_argument("--host", required=True, help="KFP API endpoint, e.g. http://localhost:8080")
    submit.add_argument(
        "--config", help=f"dataset config sent as the run's `config` (default: {DEFAULT_CLUSTER_CONFIG})"
    )
    submit.add_argument("--package", help="compiled IR YAML (default: compile now)")
    submit.add_argument("--pipeline", choices=list(PACKAGES), default="training", help=PIPELINE_HELP)
    submit.add_argument("--experiment", default="mlpipe", help="experiment name")
    submit.add_argument("--run-name", help="run name")
    submit.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE", help="pipeline parameter"
    )
    submit.add_argument("--namespace", help="Kubeflow profile namespace (multi-user Kubeflow)")
    submit.add_argument(
        "--recurring", metavar="CRON", help="create a recurring run with this cron expression"
    )
    submit.add_argument(
        "--service-account",
        help="run as this ServiceAccount (default: the KFP profile's; the push step uses the pusher's token)",
    )
    submit.set_defaults(func=cmd_submit)

    models = add_command("models", help="list the registry's versions with their metrics")
    models.add_argument("--config", default=DEFAULT_CONFIG, help="dataset config YAML")
    models.add_argument("--registry", help="registry directory or s3://bucket/prefix (default: the config's)")
    models.add_argument(
        "--cluster",
        action="store_true",
        help="also read which version the serving object serves (kubeconfig)",
    )
    models.add_argument("--target", choices=["none", *TARGETS], help="default: the config's")
    models.set_defaults(func=cmd_models)

    rollback = add_command("rollback", help="point serving back at the previous (or a given) version")
    rollback.add_argument("--config", default=DEFAULT_CONFIG, help="dataset config YAML")
    rollback.add_argument("--to", type=int, help="version to serve (default: the one before the serving one)")
    rollback.add_argument(
        "--registry", help="registry directory or s3://bucket/prefix (default: the config's)"
    )
    rollback.add_argument("--target", choices=["none", *TARGETS], help="default: the config's")
    rollback.add_argument("--wait", type=float, help=WAIT_HELP)
    rollback.set_defaults(func=cmd_rollback)

    promote = add_command(
        "promote",
        help="KServe: send 100 %% of the traffic to the canary revision (shadow: serve the shadow's version)",
    )
    promote.add_argument("--config", default=DEFAULT_CONFIG, help="dataset config YAML")
    promote.add_argument(
        "--registry", help="registry directory or s3://bucket/prefix (default: the config's)"
    )
    promote.add_argument("--target", choices=["deployment", "kserve", "shadow"], help="default: the config's")
    promote.add_argument("--wait", type=float, help=WAIT_HELP)
    promote.set_defaults(func=cmd_promote)

    from mlpipe.cli.monitor import add_monitor_command

    add_monitor_command(add_command, DEFAULT_CONFIG)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except UserInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        message = _network_error(exc)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 2


def _network_error(exc: Exception) -> str | None:
    """One line for an object store that cannot be reached where no stage named it already."""
    import urllib3

    from mlpipe.storage.s3 import ENDPOINT, network_reason

    if not isinstance(exc, urllib3.exceptions.HTTPError):
        return None
    return f"cannot reach the object store at {os.environ.get(ENDPOINT, '')}: {network_reason(exc)}"


if __name__ == "__main__":
    sys.exit(main())
