"""Run the monitoring pipeline on this machine with `kfp.local`, step by step as a cluster runs it
(each step's log in `<run>/logs/<step>.log`), and hand back the batch's record.

No KFP host is passed, so the pipeline's retrain step only records a due retraining;
`mlpipe monitor --retrain` then runs the training pipeline here itself.
"""

from __future__ import annotations

import json
from pathlib import Path

from mlpipe.config.dataset import DatasetConfig
from mlpipe.errors import UserInputError
from mlpipe.run import preimported
from mlpipe.run.local import LOGS_DIR, PREIMPORT_LOG, run_and_summarize
from mlpipe.run.terminal import Reporter
from mlpipe.storage.atomic import atomic_write_text


def monitor_batch(
    config: DatasetConfig,
    batch: str,
    labels: str | None,
    run_dir: str | Path,
    reporter: Reporter | None = None,
    title: str | None = None,
) -> dict:
    """Monitor one batch (a CSV as ingest reads it, local or s3://); returns the record appended
    to the served version's history, with `decision`. `labels`: a CSV of the id column and the
    label, for rows of this or any earlier batch. A failed step raises its error, and nothing
    is appended to the history."""
    from kfp import local

    from mlpipe.pipelines.monitoring import build_monitoring_pipeline

    run_dir = Path(run_dir).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    if preimported.enabled():  # it imports while the pipeline is built
        (run_dir / LOGS_DIR).mkdir(exist_ok=True)
        preimported.start(run_dir / LOGS_DIR / PREIMPORT_LOG)
    local.init(
        runner=local.SubprocessRunner(use_venv=False),
        pipeline_root=str(run_dir / "artifacts"),
        raise_on_error=False,
    )
    pipeline = build_monitoring_pipeline(config)
    args = {"config": config.run_input(), "batch": batch, "labels": labels or "", "kfp_host": ""}
    summary = run_and_summarize(
        pipeline, args, run_dir, config.name, docker=False, reporter=reporter, title=title
    )
    atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=2, default=str) + "\n")
    if summary["status"] != "succeeded":
        raise UserInputError(summary.get("error") or f"monitoring failed; see {run_dir / LOGS_DIR}")
    return json.loads(Path(summary["monitoring"]["record"]).read_text())
