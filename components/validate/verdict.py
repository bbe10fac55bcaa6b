"""The validation gate: stop the run when validate rejected the data.

A step of its own after validate, because KFP's launcher uploads no outputs of
a failed step: validate always succeeds with its report, and this step fails.
Standard library only, so it runs in the slim image.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from mlpipe.errors import UserInputError

log = logging.getLogger(__name__)

VERDICT_FILE = "summary.json"


def enforce(anomalies_dir: str | Path) -> dict:
    """Raise naming every offending feature when the verdict did not pass; return it otherwise."""
    path = Path(anomalies_dir) / VERDICT_FILE
    try:
        verdict = json.loads(path.read_text())["verdict"]
    except (OSError, KeyError, ValueError) as exc:
        raise UserInputError(f"{path}: no validation verdict ({exc})") from None
    for warning in verdict.get("warnings", []):
        log.warning("drift/skew warning: %s", warning)
    if not verdict["passed"]:
        raise UserInputError("data validation failed: " + "; ".join(verdict["reasons"]))
    log.info("validation passed")
    return verdict
