"""Process setup shared by every component body: logging to the task's stream."""

from __future__ import annotations

import logging
import os


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
