"""Time the evaluate stage's TFMA run on the Adult eval split (16,281 rows), several ways.

    .venv/bin/python benchmarks/evaluate_paths.py MODEL_DIR EXAMPLES_DIR [BASELINE_MODEL_DIR]

MODEL_DIR is a train output (`saved_model/` inside), EXAMPLES_DIR an ingest output;
`runs/latest/artifacts/*/train/model` and `.../ingest/examples` after `make run`;
BASELINE_MODEL_DIR may also be a registry version (`registry/adult_income/1`).
Measured: TFMA's Beam path with model inference (the stage's path), with and without a
baseline model; and batch predictions followed by `tfma.analyze_raw_data` (same metric semantics, but no
baseline model comparison in TFMA 0.47). Prints wall seconds and checks that overall AUC
agrees between paths.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from mlpipe.config.io import load_config
from mlpipe.data.examples import column_values, load_examples, read_split_records
from mlpipe.evaluation.results import OVERALL, sliced_metrics
from mlpipe.evaluation.tfma_run import eval_config, run_tfma

REPO = Path(__file__).resolve().parents[1]


def raw_data_path(config, model_dir: str, examples_dir: str) -> tuple[float, float]:
    import numpy as np
    import pandas as pd
    import tensorflow as tf
    import tensorflow_model_analysis as tfma

    start = time.perf_counter()
    records = read_split_records(examples_dir, "eval")
    signature = tf.saved_model.load(str(Path(model_dir) / "saved_model")).signatures["serving_default"]
    predictions = np.concatenate(
        [
            signature(examples=tf.constant(records[i : i + 4096]))["probabilities"].numpy()
            for i in range(0, len(records), 4096)
        ]
    )
    batch = load_examples(examples_dir, "eval")
    frame = pd.DataFrame(
        {config.label_key: column_values(batch, config.label_key).astype(float), "prediction": predictions}
    )
    for feature in config.slicing.features:
        frame[feature] = [v.decode() if v is not None else "" for v in column_values(batch, feature)]
    cfg = eval_config(config, with_baseline=False)
    del cfg.model_specs[:]
    cfg.model_specs.add(label_key=config.label_key, prediction_key="prediction")
    with tempfile.TemporaryDirectory() as out:
        result = tfma.analyze_raw_data(frame, cfg, output_path=out)
    return time.perf_counter() - start, sliced_metrics(result)[OVERALL]["auc"]


def saved_model(path: str) -> str:
    """A train output (`saved_model/` inside) or a registry version (the SavedModel itself)."""
    return str(Path(path) / "saved_model") if (Path(path) / "saved_model").is_dir() else path


def main() -> None:
    model_dir, examples_dir = sys.argv[1], sys.argv[2]
    baseline = sys.argv[3] if len(sys.argv) > 3 else None
    config = load_config(REPO / "configs/adult.yaml", check_data=False)
    import tensorflow_model_analysis  # noqa: F401  (import cost is paid by every path)

    rows = []
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        result = run_tfma(config, str(Path(model_dir) / "saved_model"), examples_dir, Path(out) / "a", None)
        rows.append(
            (
                "run_model_analysis (stage path)",
                time.perf_counter() - start,
                sliced_metrics(result)[OVERALL]["auc"],
            )
        )
        if baseline:
            start = time.perf_counter()
            result = run_tfma(
                config,
                str(Path(model_dir) / "saved_model"),
                examples_dir,
                Path(out) / "b",
                saved_model(baseline),
            )
            rows.append(
                (
                    "run_model_analysis + baseline",
                    time.perf_counter() - start,
                    sliced_metrics(result)[OVERALL]["auc"],
                )
            )
    seconds, auc = raw_data_path(config, model_dir, examples_dir)
    rows.append(("predict + analyze_raw_data", seconds, auc))
    for name, seconds, auc in rows:
        print(f"{name:<36} {seconds:8.2f} s   overall auc {auc:.6f}")


if __name__ == "__main__":
    main()
