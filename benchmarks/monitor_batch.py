"""Time the monitoring pipeline (as `mlpipe monitor` runs it) on one batch of 16,000 Adult rows.

    .venv/bin/python benchmarks/monitor_batch.py [--rows 16000] [--repeats 3] [--labels]

Setup (not timed): the first 16,000 rows of Adult's train file ingested, a model trained on them
(2 epochs), statistics computed, published to a temporary local registry and served. Each timed
round monitors a fresh batch of `--rows` rows of the test file (sampled with replacement when more
rows are asked than the file has) through the monitoring pipeline under kfp.local: the served
model fetched, the batch ingested, its statistics, the schema, validation (drift, skew, schema,
data quality), the reference data ingested, scoring, performance (with --labels: the labels join
and the TFMA evaluation), the decision and the history append. The first round also computes the
served model's reference scores on its eval data (kept in the history); later rounds read them.
Prints each round's seconds and the steps' (each step's own process, from `summary.json`).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=16_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--labels", action="store_true")
    args = parser.parse_args()

    import pandas as pd
    from conftest import ADULT_TEST, ADULT_TRAIN, adult_config_dict, adult_lines

    from mlpipe.components.ingest.core import ingest
    from mlpipe.components.push.core import push
    from mlpipe.components.statistics.core import compute_statistics
    from mlpipe.components.train.core import train
    from mlpipe.config.io import load_config
    from mlpipe.evaluation.gates import blessing
    from mlpipe.registry.local import LocalRegistry
    from mlpipe.run.monitoring import monitor_batch
    from mlpipe.serving.names import load_serving_names

    tmp = Path(tempfile.mkdtemp(prefix="mlpipe-bench-monitor-"))
    (tmp / "train.csv").write_text("\n".join(adult_lines(ADULT_TRAIN, 16_000)) + "\n")
    (tmp / "eval.csv").write_text("\n".join(adult_lines(ADULT_TEST, 3_000)) + "\n")
    raw = adult_config_dict(tmp)
    raw["data"] = {"train": str(tmp / "train.csv"), "eval": str(tmp / "eval.csv")}
    raw["training"]["epochs"] = 2
    raw["monitoring"] = {"id_column": "id"}
    (tmp / "config.yaml").write_text(yaml.safe_dump(raw))
    config = load_config(tmp / "config.yaml")
    start = time.perf_counter()
    ingest(config, tmp / "examples", environ={})
    compute_statistics(tmp / "examples", tmp / "statistics")
    from mlpipe.data.artifacts import load_schema

    train(config, tmp / "examples", load_schema(raw["schema_path"]), tmp / "model", tmp / "tb",
          config.training.hyperparameters, fingerprint="bench")  # fmt: skip
    verdict = blessing(True, [], [], {"overall": {"auc": 0.9}}, None, min_slice_size=30)
    registry = LocalRegistry(tmp / "registry")
    push(config, tmp / "model", verdict, {"blessed": True}, registry, "none", load_serving_names(),
         statistics_dir=tmp / "statistics")  # fmt: skip
    print(f"setup (ingest, statistics, 2-epoch training, push): {time.perf_counter() - start:.1f} s")

    test = pd.read_csv(ADULT_TEST, skipinitialspace=True, dtype=str, na_filter=False)
    for round_ in range(args.repeats):
        batch = test.sample(args.rows, replace=args.rows > len(test), random_state=round_).reset_index(
            drop=True
        )
        batch.insert(0, "id", [f"b{round_}-{i}" for i in range(len(batch))])
        batch_path, labels_path = tmp / f"batch{round_}.csv", tmp / f"labels{round_}.csv"
        batch.drop(columns=["Y"]).to_csv(batch_path, index=False)
        batch[["id", "Y"]].to_csv(labels_path, index=False)
        began = time.perf_counter()
        run_dir = tmp / "runs" / str(round_)
        record = monitor_batch(config, str(batch_path), str(labels_path) if args.labels else None, run_dir)
        seconds = time.perf_counter() - began
        summary = json.loads((run_dir / "summary.json").read_text())
        steps = {stage["name"]: stage["seconds"] for stage in summary["stages"]}
        shown = ", ".join(f"{k} {v:.2f}" for k, v in steps.items())
        print(f"round {round_ + 1}: {record['rows']:,} rows monitored in {seconds:.2f} s ({shown}); "
              f"verdict {record['decision']['verdict']}")  # fmt: skip


if __name__ == "__main__":
    main()
