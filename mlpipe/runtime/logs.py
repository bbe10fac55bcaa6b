"""Process setup shared by every component body: logging to the task's stream, and
progress lines that the local runner turns into a progress bar."""

from __future__ import annotations

import logging
import os

# `mlpipe run` reads these lines from a stage's output (mlpipe/run/terminal.py parses them);
# on a cluster they are plain log lines of the step.
PROGRESS_LOGGER = "mlpipe.progress"
_progress = logging.getLogger(PROGRESS_LOGGER)
_progress.setLevel(logging.INFO)


def setup_logging() -> None:
    """INFO logs with the stage's module name, so the run log says what each stage did."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TF's C++ start-up chatter hides our logs
    logging.basicConfig(
        level=os.environ.get("MLPIPE_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        force=True,
    )
    for noisy in ("absl", "tensorflow", "apache_beam"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def progress(unit: str, done: int, total: int | None = None, note: str = "") -> None:
    """Log `<unit> <done>/<total> <note>` on the `mlpipe.progress` logger, e.g.
    `epoch 3/10 val_auc=0.9102`: `done` units of `total` are complete (total None: unknown)."""
    _progress.info("%s %d/%s%s", unit, done, "?" if total is None else total, f" {note}" if note else "")
