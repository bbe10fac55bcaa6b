"""mlpipe against TFX 1.16 on the same Adult data, side by side, in one command (`make bench`).

    .venv/bin/python benchmarks/side_by_side.py [--rounds 3] [--output DIR]

Each round, cold runs, alternating:
  tfx            benchmarks/tfx_pipeline.py in the TFX venv (benchmarks/tfx-env.sh), fresh
                 pipeline root and MLMD;
  mlpipe-first   `mlpipe run` with tuning off (a temp config: `base: configs/adult.yaml`,
                 `tuning: {enabled: false}`), fresh runs folder and registry: no baseline;
  mlpipe-later   a second `mlpipe run` into the same registry: evaluate compares with the
                 first run's model as the baseline, as every run after the first does
                 (on the same eval data and config: with the baseline's stored metrics,
                 TFMA evaluating only the candidate).
Per run: wall seconds of the command (process start to exit, imports included), seconds inside
the run (TFX: the LocalDagRunner.run call; mlpipe: summary.json's wall_seconds), stage by stage
(TFX: MLMD execution times; mlpipe: summary.json's stages) and the peak RSS and PSS of the whole process
tree (sum over the command and its descendants, sampled from /proc every --interval seconds).
Then the ratios: mlpipe first / TFX wall, mlpipe later / TFX wall, mlpipe evaluate / TFX Evaluator.
The table is printed and everything is written to OUTPUT/results.json.

The Adult CSV conversion that CsvExampleGen needs is done once before the first round, outside
every timed region (benchmarks/tfx_pipeline.py explains why that is fair enough).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "adult.yaml"
TFX_SCRIPT = REPO / "benchmarks" / "tfx_pipeline.py"
DEFAULT_TFX_VENV = Path(os.environ.get("MLPIPE_TFX_VENV", Path.home() / ".cache/mlpipe/bench/tfx-venv"))
SYSTEMS = ("tfx", "mlpipe-first", "mlpipe-later")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of cold runs (default 3)")
    parser.add_argument(
        "--output", type=Path, help="results folder (default: build/bench/<UTC time>); must not exist"
    )
    parser.add_argument(
        "--config", type=Path, default=CONFIG, help="dataset config (default: configs/adult.yaml)"
    )
    parser.add_argument(
        "--tfx-python", type=Path, default=DEFAULT_TFX_VENV / "bin" / "python", help="the TFX venv's python"
    )
    parser.add_argument(
        "--mlpipe", type=Path, default=Path(sys.executable).parent / "mlpipe", help="the mlpipe command"
    )
    parser.add_argument("--skip-tfx", action="store_true", help="run only the mlpipe side")
    parser.add_argument("--skip-later", action="store_true", help="no second mlpipe run per round")
    parser.add_argument("--interval", type=float, default=0.2, help="RSS sampling period, seconds")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.output is None:
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
        args.output = REPO / "build" / "bench" / stamp
    # absolute: the temp config's registry path is resolved against the config's own folder
    args.output = args.output.resolve()
    return args


# --- measuring -------------------------------------------------------------------------------

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # the command name may hold spaces and parentheses: fields follow the last ')'
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def tree_memory(root: int) -> tuple[int, int]:
    """(RSS, PSS) bytes of `root` and all its descendants now. PSS splits each shared page
    among the processes mapping it: with stages forked from a pre-imported server, RSS would
    count the server's imported modules once per stage."""
    children = _children_map()
    rss = pss = 0
    stack = [root]
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, []))
        try:
            with open(f"/proc/{pid}/statm", "rb") as f:
                rss += int(f.read().split()[1]) * PAGE
            with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
                pss += next(int(line.split()[1]) * 1024 for line in f if line.startswith(b"Pss:"))
        except (OSError, StopIteration):
            continue
    return rss, pss


def run_measured(command: list[str], log_path: Path, interval: float, env=None) -> dict:
    """Run `command` (output to log_path); wall seconds, exit code, peak tree RSS and PSS."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=env)
        peak = peak_pss = 0
        while process.poll() is None:
            rss, pss = tree_memory(process.pid)
            peak, peak_pss = max(peak, rss), max(peak_pss, pss)
            time.sleep(interval)
        wall = time.perf_counter() - start
    return {
        "wall_seconds": round(wall, 2),
        "returncode": process.returncode,
        "peak_rss_bytes": peak,
        "peak_pss_bytes": peak_pss,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],  # other work on the machine?
    }


def mlpipe_config(round_dir: Path, config: Path) -> Path:
    """A config over `config` with tuning off and the round's own registry."""
    round_dir = round_dir.resolve()
    path = round_dir / "mlpipe.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"base: {json.dumps(str(config.resolve()))}\n"
        "tuning: {enabled: false}\n"
        f"registry: {{uri: {json.dumps(str(round_dir / 'registry'))}}}\n"
    )
    return path


def run_mlpipe(args, round_dir: Path, name: str, config_path: Path) -> dict:
    runs = round_dir / name
    command = [str(args.mlpipe), "run", "--config", str(config_path), "--output", str(runs)]
    result = run_measured(command, round_dir / f"{name}.log", args.interval)
    summary_path = runs / "latest" / "summary.json"
    if summary_path.exists():
        summary = json.loads(summary_path.read_text())
        result["run_seconds"] = summary.get("wall_seconds")
        result["status"] = summary.get("status")
        result["stages"] = {s["name"]: s["seconds"] for s in summary.get("stages", [])}
        result["blessing"] = summary.get("blessing")
    return result


def run_tfx(args, round_dir: Path, csv_dir: Path) -> dict:
    timings = round_dir / "tfx-timings.json"
    command = [
        str(args.tfx_python),
        str(TFX_SCRIPT),
        "--root",
        str(round_dir / "tfx"),
        "--csv-dir",
        str(csv_dir),
        "--config",
        str(args.config),
        "--timings",
        str(timings),
    ]
    result = run_measured(command, round_dir / "tfx.log", args.interval)
    if timings.exists():
        data = json.loads(timings.read_text())
        result["run_seconds"] = data["run_seconds"]
        result["status"] = "succeeded" if result["returncode"] == 0 else "failed"
        result["stages"] = {c["name"]: c["seconds"] for c in data["components"]}
        result["pushed"] = data.get("pushed")
    else:
        result["status"] = "failed"
    return result


# --- reporting (pure; tested on fabricated timings) ------------------------------------------


def ratios(runs: list[dict]) -> list[dict]:
    """Per round: mlpipe first / TFX wall, mlpipe later / TFX wall, mlpipe evaluate / TFX Evaluator."""

    def div(a, b):
        return round(a / b, 3) if a is not None and b else None

    by_round: dict[int, dict[str, dict]] = {}
    for run in runs:
        by_round.setdefault(run["round"], {})[run["system"]] = run
    rows = []
    for number in sorted(by_round):
        r = by_round[number]
        tfx, first, later = r.get("tfx", {}), r.get("mlpipe-first", {}), r.get("mlpipe-later", {})
        rows.append(
            {
                "round": number,
                "first_over_tfx_wall": div(first.get("wall_seconds"), tfx.get("wall_seconds")),
                "later_over_tfx_wall": div(later.get("wall_seconds"), tfx.get("wall_seconds")),
                "evaluate_over_tfx_evaluator": div(
                    first.get("stages", {}).get("evaluate"), tfx.get("stages", {}).get("Evaluator")
                ),
                "later_evaluate_over_tfx_evaluator": div(
                    later.get("stages", {}).get("evaluate"), tfx.get("stages", {}).get("Evaluator")
                ),
            }
        )
    return rows


def _fmt(value, spec=".1f") -> str:
    return "-" if value is None else format(value, spec)


def format_table(runs: list[dict], ratio_rows: list[dict]) -> str:
    lines = [
        f"{'round':<6}{'system':<14}{'status':<11}{'wall s':>8}{'in run s':>10}{'RSS/PSS MiB':>14}  stages (s)",
        "-" * 100,
    ]
    for run in runs:
        rss, pss = run.get("peak_rss_bytes"), run.get("peak_pss_bytes")
        memory = f"{_fmt(rss / 2**20 if rss else None, '.0f')}/{_fmt(pss / 2**20 if pss else None, '.0f')}"
        stages = " ".join(f"{k}={_fmt(v)}" for k, v in run.get("stages", {}).items())
        lines.append(
            f"{run['round']:<6}{run['system']:<14}{run.get('status') or '-':<11}"
            f"{_fmt(run.get('wall_seconds')):>8}{_fmt(run.get('run_seconds')):>10}"
            f"{memory:>14}  {stages}"
        )
    columns = [
        ("first_over_tfx_wall", "mlpipe first / TFX wall"),
        ("later_over_tfx_wall", "mlpipe later / TFX wall"),
        ("evaluate_over_tfx_evaluator", "mlpipe evaluate / TFX Evaluator (first run)"),
        ("later_evaluate_over_tfx_evaluator", "mlpipe evaluate / TFX Evaluator (later run)"),
    ]
    lines += [
        "",
        "ratios" + "".join(f"{'round ' + str(r['round']):>10}" for r in ratio_rows) + f"{'median':>10}",
    ]
    for key, label in columns:
        values = [r[key] for r in ratio_rows]
        present = [v for v in values if v is not None]
        median = statistics.median(present) if present else None
        lines.append(
            f"  {label:<46}" + "".join(f"{_fmt(v, '.2f'):>10}" for v in values) + f"{_fmt(median, '.2f'):>10}"
        )
    return "\n".join(lines)


def machine() -> dict:
    cpu = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        )
        if Path("/proc/cpuinfo").exists()
        else platform.processor()
    )
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpu": cpu,
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.output.exists():
        sys.exit(f"{args.output} exists: give a fresh --output")
    if not args.skip_tfx and not args.tfx_python.exists():
        sys.exit(f"{args.tfx_python} missing: run benchmarks/tfx-env.sh first")
    args.output.mkdir(parents=True)
    csv_dir = args.output / "tfx-csv"
    if not args.skip_tfx:  # the conversion CsvExampleGen needs, once, outside the timed runs
        subprocess.run(
            [
                str(args.tfx_python),
                str(TFX_SCRIPT),
                "--root",
                str(args.output / "prepare"),
                "--csv-dir",
                str(csv_dir),
                "--config",
                str(args.config),
                "--prepare-only",
            ],
            check=True,
        )
    results = {"machine": machine(), "rounds": args.rounds, "runs": []}
    for number in range(1, args.rounds + 1):
        round_dir = args.output / f"round-{number}"
        if not args.skip_tfx:
            print(f"round {number}: tfx ...", flush=True)
            results["runs"].append({"round": number, "system": "tfx", **run_tfx(args, round_dir, csv_dir)})
        config_path = mlpipe_config(round_dir, args.config)
        print(f"round {number}: mlpipe first run ...", flush=True)
        results["runs"].append(
            {
                "round": number,
                "system": "mlpipe-first",
                **run_mlpipe(args, round_dir, "runs-first", config_path),
            }
        )
        if not args.skip_later:
            print(f"round {number}: mlpipe later run ...", flush=True)
            results["runs"].append(
                {
                    "round": number,
                    "system": "mlpipe-later",
                    **run_mlpipe(args, round_dir, "runs-later", config_path),
                }
            )
        (args.output / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    results["ratios"] = ratios(results["runs"])
    (args.output / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    m = results["machine"]
    print(f"\n{m['date']}  {m['host']}  {m['cpu']}  {m['cpus']} CPUs  python {m['python']}\n")
    print(format_table(results["runs"], results["ratios"]))
    print(f"\nresults: {args.output / 'results.json'}")
    return 0 if all(r.get("status") == "succeeded" for r in results["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
