"""What a stage's output says, read by the local runner: its progress marks
(`mlpipe.runtime.logs.progress` lines), its error (the last exception line, whether it is one
of ours that names what to fix, the end of its traceback) and its key figure for the stage line.
Pure functions over lines and summary parts; `terminal.py` shows what they find."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

PROGRESS_LINE = re.compile(
    r"\bmlpipe\.progress: (?P<unit>[\w-]+) (?P<done>\d+)/(?P<total>\d+|\?)(?: (?P<note>.*))?$"
)
ERROR_LINE = re.compile(r"^\s*(?:[\w.]+\.)?(\w*(?:Error|Exception)): (.+)$")
NAME_WIDTH = 16
TAIL_LINES = 8


@dataclasses.dataclass(frozen=True)
class ProgressMark:
    unit: str
    done: int
    total: int | None
    note: str = ""

    def __str__(self) -> str:
        total = "?" if self.total is None else self.total
        return f"{self.unit} {self.done}/{total}" + (f" {self.note}" if self.note else "")


def parse_progress(line: str) -> ProgressMark | None:
    """The progress mark in a line of a stage's output, if it is one."""
    match = PROGRESS_LINE.search(line.rstrip())
    if not match:
        return None
    total = match.group("total")
    return ProgressMark(
        match.group("unit"),
        int(match.group("done")),
        None if total == "?" else int(total),
        match.group("note") or "",
    )


def last_error_index(lines: list[str]) -> int | None:
    """Index of the last exception line a task printed, skipping TF's interpreter-exit noise
    ("Exception ignored in ... __del__") and kfp.local's own "RuntimeError: Task" line."""
    for index in range(len(lines) - 1, -1, -1):
        match = ERROR_LINE.match(lines[index])
        noise = any("Exception ignored" in ln or "__del__" in ln for ln in lines[max(0, index - 4) : index])
        if match and not noise and "RuntimeError: Task" not in lines[index]:
            return index
    return None


def error_message(lines: list[str]) -> str | None:
    """The message of the last exception (our errors name file, column or value)."""
    index = last_error_index(lines)
    if index is None:
        return None
    match = ERROR_LINE.match(lines[index])
    assert match is not None
    return match.group(2) if match.group(1) == "UserInputError" else f"{match.group(1)}: {match.group(2)}"


_FRAMING = re.compile(r"^\d\d:\d\d:\d\d\.\d+ - (INFO|ERROR) - |^-{20,}$")


USER_ERRORS = ("UserInputError", "RowError")  # mlpipe.errors: what the user can fix, said in one line


def is_user_error(lines: list[str]) -> bool:
    """Whether the last exception a task printed is one of ours that names what to fix."""
    index = last_error_index(lines)
    if index is None:
        return False
    match = ERROR_LINE.match(lines[index])
    return match is not None and match.group(1) in USER_ERRORS


def negative_outcome(name: str, part: dict[str, Any]) -> bool:
    """A stage that succeeded with a verdict against the model: not blessed, not pushed."""
    if name == "evaluate":
        return part.get("blessing", {}).get("blessed") is False
    if name == "infra_validate":
        return part.get("infra", {}).get("blessed") is False
    if name == "push":
        return part.get("push", {}).get("pushed") is False
    return False


def error_tail(lines: list[str], count: int = TAIL_LINES) -> list[str]:
    """The last lines of a failed task's error: the traceback's end up to the exception line,
    else the last lines it printed (without kfp.local's framing)."""
    index = last_error_index(lines)
    if index is None:
        kept = [ln for ln in lines if ln.strip() and not _FRAMING.search(ln)]
        chosen = kept[-count:]
    else:
        chosen = [ln for ln in lines[max(0, index - count + 1) : index + 1] if ln.strip()]
    # kfp.local indents a task's output by 4 spaces
    return [ln[4:] if ln.startswith("    ") else ln for ln in chosen]


# ---- the key figure of each stage --------------------------------------------------------------


def _number(value: Any, digits: int = 4) -> str:
    return f"{value:.{digits}f}" if isinstance(value, int | float) else "n/a"


def shorten(text: str, width: int = 70) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def stage_figure(name: str, part: dict[str, Any], metadata: dict[str, dict]) -> str:
    """One short phrase for a finished stage, from what it adds to summary.json (`part`) and its
    output artifacts' metadata (`metadata`: output name -> metadata)."""
    if name == "ingest" and "data" in part:
        data = part["data"]
        return f"train {data.get('train_rows', 0):,} rows, eval {data.get('eval_rows', 0):,} rows"
    if name == "statistics":
        counts = {
            k.removesuffix("_examples"): v
            for k, v in metadata.get("statistics", {}).items()
            if k.endswith("_examples")
        }
        order = sorted(counts, key=lambda split: (split != "train", split != "eval", split))
        return ", ".join(f"{split} {int(counts[split]):,} examples" for split in order)
    if name == "schema":
        origin = str(metadata.get("schema", {}).get("origin", ""))
        if origin.startswith("curated:"):
            return f"curated {Path(origin.removeprefix('curated:')).name}"
        return {"curated": "curated (the config's)", "inferred": "inferred from the train statistics"}.get(
            origin, origin
        )
    if name == "validate" and "validation" in part:
        counts = part["validation"]
        found, blocking = counts.get("anomalies", 0), counts.get("blocking_anomalies", 0)
        warnings = found - blocking
        kinds = [f"{blocking} blocking"] * bool(blocking) + [
            f"{warnings} warning{'s' * (warnings != 1)}"
        ] * bool(warnings)
        text = f"{found} anomal{'y' if found == 1 else 'ies'}" + (f" ({', '.join(kinds)})" if kinds else "")
        return f"{text}, max drift {_number(counts.get('max_drift'), 3)}"
    if name == "validation_gate":
        return "passed"
    if name == "tune" and "tuning" in part:
        tuning = part["tuning"]
        if not tuning.get("tuned"):
            why = f" ({tuning['off_because']})" if tuning.get("off_because") else ""
            return f"off{why}: the config's hyperparameters"
        return f"{tuning.get('trials')} trials, best val AUC {_number(tuning.get('best_score'))}"
    if name == "train" and "training" in part:
        training = part["training"]
        return (
            f"eval AUC {_number(training.get('metrics', {}).get('eval_auc'))}, "
            f"{training.get('epochs_run')} epochs"
        )
    if name == "evaluate" and "blessing" in part:
        blessing = part["blessing"]
        auc = _number(part.get("metrics", {}).get("overall", {}).get("auc"))
        if blessing.get("blessed"):
            return f"AUC {auc}, blessed"
        reasons = blessing.get("reasons") or []
        return shorten(f"AUC {auc}, NOT blessed: " + "; ".join(reasons))
    if name == "infra_validate" and "infra" in part:
        infra = part["infra"]
        if not infra.get("blessed"):
            return shorten("NOT blessed: " + "; ".join(infra.get("reasons") or []))
        latency = infra.get("latency", {})
        return f"blessed, p99 {_number(latency.get('batch_1_p99_ms'), 1)} ms at batch 1"
    if name == "push" and "push" in part:
        push = part["push"]
        if push.get("pushed"):
            line = f"pushed version {push.get('version')}" + (" (reused)" if push.get("reused") else "")
            shadow = (push.get("serving") or {}).get("target") == "shadow"
            return line + (" to the shadow (mlpipe promote serves it)" if shadow else "")
        return shorten("not pushed: " + "; ".join(push.get("reasons") or []))
    # any other step (the monitoring pipeline's) names its own figure in an output's metadata
    return next((str(m["figure"]) for m in metadata.values() if m.get("figure")), "")


# ---- reporters ---------------------------------------------------------------------------------
