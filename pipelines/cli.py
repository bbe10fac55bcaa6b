"""`mlpipe`: the command line of the package.

Each subcommand is a thin shell over a function elsewhere; user errors print
one line and exit 2, so scripts and people both see the cause at once.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from components.errors import UserInputError

DEFAULT_CONFIG = "configs/adult.yaml"


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
            print(f"{key}: {json.dumps(summary[key], default=str)}")
    if summary["status"] != "succeeded":
        print(f"\nFAILED at stage {summary['failed_stage']}: {summary['error']}")
        for anomaly in summary.get("anomalies", []):
            print(f"  - {anomaly['feature']}: {anomaly['kind']}: {anomaly['description']}")


def cmd_run(args: argparse.Namespace) -> int:
    from pipelines.local_run import run_pipeline

    arguments = {}
    if args.train_data:
        arguments["train_data"] = str(Path(args.train_data).resolve())
    if args.eval_data:
        arguments["eval_data"] = str(Path(args.eval_data).resolve())
    summary, run_dir = run_pipeline(args.config, runs_root=args.output, runner=args.runner, arguments=arguments)
    _print_summary_table(summary)
    print(f"\nrun directory: {run_dir}\nsummary: {run_dir / 'summary.json'}")
    return 0 if summary["status"] == "succeeded" else 1


def cmd_schema(args: argparse.Namespace) -> int:
    from pipelines.data_checks import generate_schema

    if not args.write:
        print("nothing written: pass --write to (re)generate the curated schema", file=sys.stderr)
        return 2
    print(f"wrote {generate_schema(args.config, args.output)}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    import datetime as dt

    from pipelines.data_checks import validate_batch

    output = Path(args.output or Path(args.runs) / "validations" / dt.datetime.now().strftime("%Y%m%d-%H%M%S"))
    result = validate_batch(args.config, args.data, output, runs_root=args.runs, baseline=args.baseline)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlpipe", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the training pipeline locally (kfp.local)")
    run.add_argument("--config", default=DEFAULT_CONFIG, help="dataset config YAML")
    run.add_argument("--output", default="runs", help="runs root; each run gets a folder, `latest` links the newest")
    run.add_argument("--runner", choices=["subprocess", "docker"], default="subprocess", help="kfp.local runner")
    run.add_argument("--train-data", help="override the config's train data location")
    run.add_argument("--eval-data", help="override the config's eval data location")
    run.set_defaults(func=cmd_run)

    schema = sub.add_parser("schema", help="generate a curated schema starting point from the train data")
    schema.add_argument("--config", default=DEFAULT_CONFIG, help="dataset config YAML")
    schema.add_argument("--write", action="store_true", help="write the schema (to the config's schema_path)")
    schema.add_argument("--output", help="write here instead of the config's schema_path")
    schema.set_defaults(func=cmd_schema)

    validate = sub.add_parser("validate", help="validate a new data batch against the schema and training baseline")
    validate.add_argument("--config", default=DEFAULT_CONFIG, help="dataset config YAML")
    validate.add_argument("--data", required=True, help="the new batch: CSV path or s3:// location")
    validate.add_argument("--baseline", help="run directory to compare with (default: newest validated run)")
    validate.add_argument("--runs", default="runs", help="runs root to look for the baseline in")
    validate.add_argument("--output", help="where to write the report (default: <runs>/validations/<time>)")
    validate.set_defaults(func=cmd_validate)
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


if __name__ == "__main__":
    sys.exit(main())
