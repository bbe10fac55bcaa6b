"""cProfile of the evaluate stage's TFMA run (components/evaluate/core.py run_tfma) on Adult.

    .venv/bin/python benchmarks/profile_evaluate.py RUN_DIR [--baseline MODEL_DIR] [--top 25]

RUN_DIR is an `mlpipe run` folder (e.g. build/bench/<time>/round-1/runs-first/latest): the
train stage's model and the ingest stage's examples are found under its artifacts/. The
profile covers run_tfma only (imports done before), in this process: TFMA's Beam DirectRunner
runs the bundles in the calling thread. Prints the top entries by own time and by cumulative
time and writes RUN_DIR/../evaluate.prof (open with `python -m pstats` or snakeviz).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def find_one(run_dir: Path, pattern: str) -> Path:
    found = sorted(run_dir.glob(pattern))
    if not found:
        raise SystemExit(f"nothing matches {run_dir}/{pattern}")
    return found[0]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--baseline", help="a baseline SavedModel (a registry version folder)")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--output", type=Path, help="where to write the .prof (default: RUN_DIR/../evaluate.prof)"
    )
    args = parser.parse_args(argv)

    from mlpipe.config.io import load_config
    from mlpipe.evaluation.tfma_run import run_tfma

    run_dir = args.run_dir.resolve()
    model = find_one(run_dir, "artifacts/*/train*/model/saved_model")
    examples = find_one(run_dir, "artifacts/*/ingest*/examples")
    config = load_config(REPO / "configs" / "adult.yaml", check_data=False)
    import tensorflow_model_analysis  # noqa: F401  (not part of the profile)

    profile = cProfile.Profile()
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        profile.enable()
        run_tfma(config, str(model), examples, Path(out) / "tfma", args.baseline)
        profile.disable()
        seconds = time.perf_counter() - start
    path = args.output or run_dir.parent / "evaluate.prof"
    profile.dump_stats(str(path))
    print(f"run_tfma: {seconds:.1f} s (under cProfile)   model {model}\nprofile: {path}\n")
    for key in ("tottime", "cumulative"):
        stream = io.StringIO()
        pstats.Stats(profile, stream=stream).strip_dirs().sort_stats(key).print_stats(args.top)
        text = stream.getvalue()
        print(f"--- by {key} ---")
        print(text[text.index("   ncalls") :] if "   ncalls" in text else text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
