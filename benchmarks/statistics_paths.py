"""Time TFDV's two statistics paths on Adult (32k rows) and on ~1M rows made by repeating it.

    .venv/bin/python benchmarks/statistics_paths.py [--rows 1000000] [--skip-beam-large]

Prints wall seconds and rows/s per path and size, and checks that both paths agree
(example counts and numeric means), so "fastest" only counts when it is correct.
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import tempfile
import time
from pathlib import Path

from mlpipe.components.ingest.core import TRAIN, ingest
from mlpipe.components.statistics.core import split_statistics
from mlpipe.config.io import load_config

REPO = Path(__file__).resolve().parents[1]


def repeated_csv(source: Path, target: Path, rows: int) -> None:
    lines = gzip.open(source, "rt").read().splitlines()
    header, body = lines[0], [line for line in lines[1:] if line.strip()]
    with open(target, "w") as out:
        out.write(header + "\n")
        for i in range(rows):
            out.write(body[i % len(body)] + "\n")


def means(stats) -> dict[str, float]:
    return {
        f.path.step[0]: round(f.num_stats.mean, 4)
        for f in stats.datasets[0].features
        if f.HasField("num_stats")
    }


def measure(examples: Path, label: str, rows: int, methods: list[str]) -> None:
    results = {}
    for method in methods:
        start = time.perf_counter()
        stats = split_statistics(examples, TRAIN, method)
        seconds = time.perf_counter() - start
        results[method] = stats
        print(
            f"{label:>10} {method:>10}: {seconds:8.2f} s  {rows / seconds:12,.0f} rows/s  "
            f"({stats.datasets[0].num_examples} examples)"
        )
    if len(results) == 2:
        a, b = (results[m] for m in methods)
        same = a.datasets[0].num_examples == b.datasets[0].num_examples and means(a) == means(b)
        print(f"{label:>10} paths agree on counts and means: {same}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--skip-beam-large", action="store_true", help="only the in-memory path at the large size"
    )
    args = parser.parse_args()
    config = load_config(REPO / "configs/adult.yaml", check_data=False)
    import tensorflow_data_validation  # noqa: F401  (import cost is not part of either path)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        small = tmp / "small"
        ingest(config, small, os.environ, sources={TRAIN: config.data.train})
        measure(small, "32k", 32_561, ["in_memory", "beam"])
        csv = tmp / "large.csv"
        repeated_csv(Path(config.data.train), csv, args.rows)
        large = tmp / "large"
        start = time.perf_counter()
        ingest(config, large, os.environ, sources={TRAIN: str(csv)})
        print(f"{'ingest':>10} {args.rows:,} rows: {time.perf_counter() - start:.2f} s")
        measure(
            large,
            f"{args.rows // 1000}k",
            args.rows,
            ["in_memory"] if args.skip_beam_large else ["in_memory", "beam"],
        )
        shutil.rmtree(large)


if __name__ == "__main__":
    main()
