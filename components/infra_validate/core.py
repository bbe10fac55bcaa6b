"""Infra validation: does the exported model load and answer like a server would?

The model is loaded in a fresh Python process (`probe.py`), never in this one,
so a model that only works with the trainer's state in memory fails here, not
in production. Canaries are real eval rows, sent through both signatures.
"""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys
import tempfile
from pathlib import Path

from mlpipe.config.dataset import DatasetConfig
from mlpipe.data.examples import column_values, load_examples, read_split_records

log = logging.getLogger(__name__)

AGREEMENT_TOLERANCE = 1e-6
PROBE_TIMEOUT_SECONDS = 600


def canaries(config: DatasetConfig, examples_dir: str | Path, count: int = 64) -> dict:
    """Eval rows with every feature present, as serialized tf.Examples and as raw columns."""
    batch = load_examples(examples_dir, "eval")
    records = read_split_records(examples_dir, "eval")
    columns = {name: column_values(batch, name) for name in config.feature_keys}
    rows = [i for i in range(batch.num_rows) if all(columns[n][i] is not None for n in config.feature_keys)][
        :count
    ]
    raw = {}
    for name in config.feature_keys:
        values = [columns[name][i] for i in rows]
        raw[name] = (
            [v.decode("utf-8") for v in values]
            if name in config.features.categorical
            else [float(v) for v in values]
        )
    return {"examples": [records[i].hex() for i in rows], "raw": raw}


def check(result: dict, expected: int) -> list[str]:
    """Reasons the model is not fit to serve; empty when it is."""
    reasons = []
    for name in ("serving_default", "serving_raw"):
        if name not in result.get("signatures", []):
            reasons.append(f"signature {name} is missing")
            continue
        shape, values = result[name]["shape"], result[name]["values"]
        if shape != [expected]:
            reasons.append(f"{name}: output shape {shape}, expected [{expected}]")
        bad = [v for v in values if not (math.isfinite(v) and 0.0 <= v <= 1.0)]
        if bad:
            reasons.append(f"{name}: {len(bad)} outputs are not probabilities in [0, 1] (e.g. {bad[0]})")
    if not reasons:
        diff = max(
            abs(a - b)
            for a, b in zip(result["serving_default"]["values"], result["serving_raw"]["values"], strict=True)
        )
        if diff > AGREEMENT_TOLERANCE:
            reasons.append(f"signatures disagree: max difference {diff:.2e} > {AGREEMENT_TOLERANCE:g}")
    return reasons


def infra_validate(config: DatasetConfig, model_dir: str | Path, examples_dir: str | Path) -> dict:
    """`{blessed, reasons, latency, canaries}` from a fresh-process probe of the SavedModel."""
    saved_model = Path(model_dir) / "saved_model"
    requests = canaries(config, examples_dir)
    expected = len(requests["examples"])
    if not expected:
        return {
            "blessed": False,
            "reasons": ["no eval row has every feature present: no canaries"],
            "latency": {},
        }
    with tempfile.TemporaryDirectory(prefix="mlpipe-infra-") as tmp:
        request_path, out_path = Path(tmp) / "canaries.json", Path(tmp) / "result.json"
        request_path.write_text(json.dumps(requests))
        command = [
            sys.executable,
            "-m",
            "mlpipe.components.infra_validate.probe",
            str(saved_model),
            str(request_path),
            str(out_path),
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=PROBE_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            return {
                "blessed": False,
                "reasons": [f"model did not answer within {PROBE_TIMEOUT_SECONDS} s"],
                "latency": {},
            }
        if done.returncode != 0 or not out_path.is_file():
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return {
                "blessed": False,
                "reasons": [f"model failed to load or serve in a fresh process: {last}"],
                "latency": {},
            }
        result = json.loads(out_path.read_text())
    reasons = check(result, expected)
    log.info("infra validation: %d canaries, reasons=%s, latency=%s", expected, reasons, result["latency"])
    return {
        "blessed": not reasons,
        "reasons": reasons,
        "latency": result["latency"],
        "canaries": expected,
        "load_seconds": result["load_seconds"],
    }
