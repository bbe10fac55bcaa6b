"""Scale benchmark: Adult repeated to N rows through ingest -> statistics -> validate -> evaluate,
on the multi-process DirectRunner and on Prism (Beam's portable runner), with the wall time,
rows/s and peak RSS of the whole process tree of each stage (Beam's worker processes and the
Prism server included).

    .venv/bin/python benchmarks/scale.py --rows 1000000 [--runners direct prism] [--in-memory-ingest]

Each stage runs in its own process; a sampler sums the RSS of that process and all its
descendants every 0.2 s (from /proc: Linux only; no psutil in the lock). `--in-memory-ingest`
also measures the in-memory ingest path (the code path every input took before ingest went
through Beam) for the memory comparison. Data, examples and the model are cached under
`--cache` (default ~/.cache/mlpipe/bench/scale), outside the repository.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAGES = ("ingest", "statistics", "validate", "evaluate")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(ppid, []).append(int(entry))
    return tree


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return 0


def tree_rss(root: int) -> int:
    """Resident bytes of `root` and every descendant."""
    tree, total, todo = _children(), 0, [root]
    while todo:
        pid = todo.pop()
        total += _rss(pid)
        todo += tree.get(pid, [])
    return total


def measured(command: list[str], log: Path) -> tuple[float, int]:
    """(wall seconds, peak tree RSS bytes) of a command; fails when it fails."""
    peak, done = 0, threading.Event()
    start = time.perf_counter()
    with open(log, "w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)

        def sample():
            nonlocal peak
            while not done.is_set():
                peak = max(peak, tree_rss(process.pid))
                done.wait(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = process.wait()
        done.set()
        sampler.join()
    wall = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"{' '.join(command)} failed ({code}); see {log}")
    return wall, peak


def repeated_csv(source: Path, target: Path, rows: int) -> None:
    """Adult's train rows repeated to `rows` data rows, streamed (plain CSV)."""
    if target.exists():
        return
    lines = gzip.open(source, "rt").read().splitlines()
    header, body = lines[0], [line for line in lines[1:] if line.strip()]
    partial = target.with_suffix(".partial")
    with open(partial, "w") as out:
        out.write(header + "\n")
        for start in range(0, rows, len(body)):
            out.write("\n".join(body[: min(len(body), rows - start)]) + "\n")
    partial.rename(target)


def prism_binary() -> str:
    """Prism as `make test-servers` builds it (cached in ~/.cache/mlpipe)."""
    done = subprocess.run(
        ["bash", str(REPO / "scripts/build-test-servers.sh"), "prism"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().split("\t", 1)[1]


def _config(runner: str, data: Path, in_memory: bool):
    from mlpipe.config.dataset import BeamConfig
    from mlpipe.config.io import load_config

    config = load_config(REPO / "configs/adult.yaml", check_data=False)
    options = {"prism_location": prism_binary()} if runner == "prism" else {}
    beam = BeamConfig(
        runner="PrismRunner" if runner == "prism" else "DirectRunner",
        options=options,
        in_memory_max_bytes=2**62 if in_memory else 0,
    )
    data_section = config.data.model_copy(update={"train": str(data), "eval": None})
    return config.model_copy(update={"beam": beam, "data": data_section})


def run_stage(stage: str, runner: str, data: Path, work: Path, model: Path) -> None:
    """One stage in this process (the child the parent measures)."""
    from mlpipe.data.artifacts import load_statistics

    config = _config(runner, data, in_memory=stage == "ingest-in-memory")
    examples, stats, schema = work / "examples", work / "statistics", work / "schema"
    if stage.startswith("ingest"):
        from mlpipe.components.ingest.core import ingest

        shutil.rmtree(examples, ignore_errors=True)
        print(json.dumps(ingest(config, examples, os.environ).summary()))
    elif stage == "statistics":
        from mlpipe.components.statistics.core import compute_statistics

        shutil.rmtree(stats, ignore_errors=True)
        print(compute_statistics(examples, stats, beam=config.beam))
    elif stage == "validate":
        from mlpipe.components.schema.core import resolve_schema
        from mlpipe.components.validate.core import validate_run

        shutil.rmtree(schema, ignore_errors=True)
        resolve_schema(config, load_statistics(stats, "train"), schema)
        result = validate_run(config, stats, schema)
        print(len(result.anomalies), "anomalies")
    elif stage == "evaluate":
        from mlpipe.components.evaluate.core import evaluate

        shutil.rmtree(work / "evaluation", ignore_errors=True)
        result = evaluate(config, model, examples, work / "evaluation")
        print(json.dumps(result.overall_scalars()))
    elif stage == "model":
        train_model(config, model, work)


def train_model(config, model: Path, work: Path) -> None:
    """A model for the evaluate stage: one epoch on Adult itself (the figures are not its point)."""
    from mlpipe.components.ingest.core import ingest
    from mlpipe.components.schema.core import resolve_schema
    from mlpipe.components.statistics.core import compute_statistics
    from mlpipe.components.train.core import train
    from mlpipe.data.artifacts import load_schema

    adult = load_config_adult()
    ingest(adult, work / "adult-examples", os.environ)
    compute_statistics(work / "adult-examples", work / "adult-stats")
    from mlpipe.data.artifacts import load_statistics

    resolve_schema(adult, load_statistics(work / "adult-stats", "train"), work / "adult-schema")
    hyper = adult.training.hyperparameters
    adult = adult.model_copy(update={"training": adult.training.model_copy(update={"epochs": 1})})
    partial = model.with_name(model.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    train(adult, work / "adult-examples", load_schema(work / "adult-schema"), partial, work / "tb", hyper)
    partial.rename(model)


def load_config_adult():
    from mlpipe.config.io import load_config

    return load_config(REPO / "configs/adult.yaml")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--runners", nargs="+", default=["direct", "prism"], choices=["direct", "prism"])
    parser.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES)
    parser.add_argument("--in-memory-ingest", action="store_true")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache/mlpipe/bench/scale")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("--runner", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    model = args.cache / "model"
    if args.stage:
        return run_stage(args.stage, args.runner, args.data, args.work, model)

    args.cache.mkdir(parents=True, exist_ok=True)
    me = [sys.executable, str(Path(__file__).resolve())]
    if not model.exists():
        measured(
            [*me, "--stage", "model", "--runner", "direct", "--work", str(args.cache)],
            args.cache / "model.log",
        )
    print(f"{'rows':>11} {'runner':>7} {'stage':>17} {'wall s':>8} {'rows/s':>10} {'peak RSS MiB':>13}")
    for rows in args.rows:
        data = args.cache / f"adult-{rows}.csv"
        repeated_csv(REPO / "data/adult/adult.data.csv.gz", data, rows)
        plan = [(r, s) for r in args.runners for s in args.stages]
        if args.in_memory_ingest:
            plan.insert(0, ("direct", "ingest-in-memory"))
        for runner, stage in plan:
            work = args.cache / f"work-{rows}-{runner}"
            work.mkdir(exist_ok=True)
            command = [*me, "--stage", stage, "--runner", runner, "--data", str(data), "--work", str(work)]
            wall, peak = measured(command, work / f"{stage}.log")
            print(
                f"{rows:>11,} {runner:>7} {stage:>17} {wall:>8.1f} {rows / wall:>10,.0f} {peak / 2**20:>13,.0f}",
                flush=True,
            )
            if stage == "ingest-in-memory":
                shutil.rmtree(work / "examples", ignore_errors=True)


if __name__ == "__main__":
    main()
