"""`mlpipe monitor`: the monitoring pipeline run on one batch on this machine, each step shown
with its own log, the dashboard written, and with `--retrain` the training pipeline run on the
training data plus the labelled feedback when the decision says so (on a cluster, the
pipeline's retrain step submits that run).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
from pathlib import Path


def add_monitor_command(add_command, default_config: str) -> None:
    monitor = add_command("monitor", help="monitor a batch of serving data; decide whether to retrain")
    monitor.add_argument("--config", default=default_config, help="dataset config YAML")
    monitor.add_argument("--data", required=True, help="the batch: CSV path or s3:// location")
    monitor.add_argument(
        "--labels", help="labels for this or earlier batches: CSV of the id column and the label"
    )
    monitor.add_argument(
        "--retrain", action="store_true", help="run the training pipeline when the decision says retrain"
    )
    monitor.add_argument("--runs", default="runs", help="runs root (monitoring reports, retraining runs)")
    monitor.add_argument(
        "--output", help="report folder: dashboard, record, steps' logs (default: <runs>/monitoring/<time>)"
    )
    monitor.set_defaults(func=cmd_monitor)


def cmd_monitor(args: argparse.Namespace) -> int:
    from mlpipe.components.monitor.core import history_records
    from mlpipe.components.monitor.dashboard import render_dashboard
    from mlpipe.config.io import load_config
    from mlpipe.run.monitoring import monitor_batch
    from mlpipe.run.terminal import TerminalReporter, terminal_stream
    from mlpipe.storage.atomic import atomic_write_text

    config = load_config(args.config)
    output = Path(args.output or Path(args.runs) / "monitoring" / dt.datetime.now().strftime("%Y%m%d-%H%M%S"))
    reporter = TerminalReporter(file=terminal_stream(), verbose=args.verbose, live=False)
    record = monitor_batch(
        config, args.data, args.labels, output, reporter=reporter, title=f"mlpipe monitor: {args.data}"
    )
    atomic_write_text(
        output / "dashboard.html", render_dashboard(config, history_records(config, os.environ))
    )
    atomic_write_text(output / "record.json", json.dumps(record, indent=2))
    decision = record["decision"]
    print(
        f"verdict: {decision['verdict']} (batch {record['index']}, model version {record['model_version']})"
    )
    for line in decision["reasons"] or decision["alarms"]:
        print(f"  - {line}")
    print(f"dashboard: {output / 'dashboard.html'}")
    print(f"steps' logs: {output / 'logs'}")
    if not decision["retrain"]:
        return 0
    if not args.retrain:
        print("retraining is due: run again with --retrain, or `mlpipe run` on the data with the feedback")
        return 1
    return _retrain(args, config)


def _retrain(args: argparse.Namespace, config) -> int:
    """The training pipeline on the configured training data plus the labelled feedback."""
    from mlpipe.cli.main import _print_summary_table, run_exit_status
    from mlpipe.monitoring.feedback import retraining_data
    from mlpipe.registry.access import open_registry
    from mlpipe.run.local import run_pipeline
    from mlpipe.run.terminal import TerminalReporter

    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    data = Path(args.runs).resolve() / "monitoring" / f"retrain-{stamp}.csv"
    counts = retraining_data(config, open_registry(config.registry.uri, os.environ), os.environ, data)
    print(
        f"retraining on {counts['rows']:,} rows ({counts['feedback_rows']:,} labelled feedback rows): {data}"
    )
    summary, run_dir = run_pipeline(
        args.config,
        runs_root=args.runs,
        arguments={"train_data": str(data)},
        reporter=TerminalReporter(verbose=args.verbose),
    )
    _print_summary_table(summary)
    print(f"\nrun directory: {run_dir}")
    return run_exit_status(summary)  # as `mlpipe run`'s: 0 pushed, 3 not pushed, 2 user error
