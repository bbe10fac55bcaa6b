"""Time a keras-tuner search and the final training on Adult (full train/eval files).

    .venv/bin/python benchmarks/tune_search.py [--trials 5] [--epochs-per-trial 2]

Prints the search's wall seconds and seconds per trial, then trains with the best
hyperparameters and prints seconds per epoch and examples/s.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from mlpipe.components.ingest.core import ingest
from mlpipe.components.train.core import train
from mlpipe.components.tune.core import tune
from mlpipe.config.io import load_config
from mlpipe.data.artifacts import load_schema

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--epochs-per-trial", type=int, default=2)
    args = parser.parse_args()
    config = load_config(REPO / "configs/adult.yaml", check_data=False)
    config = config.model_copy(
        update={
            "tuning": config.tuning.model_copy(
                update={"max_trials": args.trials, "epochs_per_trial": args.epochs_per_trial}
            )
        }
    )
    import keras  # noqa: F401  (import cost is not part of the search)

    with tempfile.TemporaryDirectory() as tmp:
        examples = Path(tmp) / "examples"
        ingest(config, examples, os.environ)
        start = time.perf_counter()
        result = tune(config, examples)
        seconds = time.perf_counter() - start
        print(
            f"{config.tuning.algorithm} search: {len(result.trials)} trials x {args.epochs_per_trial} epochs: "
            f"{seconds:.1f} s ({seconds / max(len(result.trials), 1):.1f} s/trial); best eval AUC {result.best_score:.4f}"
        )
        print(f"best: {result.best.model_dump()}")
        trained = train(
            config,
            examples,
            load_schema(config.schema_path),
            Path(tmp) / "model",
            Path(tmp) / "tb",
            result.best,
        )
        print(
            f"train: {trained.epochs_run} epochs, {trained.seconds_per_epoch:.2f} s/epoch, "
            f"{trained.examples_per_second:,.0f} examples/s, eval AUC {trained.metrics['eval_auc']:.4f}"
        )


if __name__ == "__main__":
    main()
