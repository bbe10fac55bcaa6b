"""benchmarks/side_by_side.py and benchmarks/tfx_pipeline.py without TFX: arguments, the CSV
conversion, the temp config, the process-tree sampling and the result table on made-up timings."""

from __future__ import annotations

import csv
import importlib.util
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


side = _load("side_by_side")
tfx_pipeline = _load("tfx_pipeline")


def _run(round_, system, wall, run, stages, status="succeeded", rss=2**30):
    return {
        "round": round_,
        "system": system,
        "wall_seconds": wall,
        "run_seconds": run,
        "stages": stages,
        "status": status,
        "peak_rss_bytes": rss,
    }


FAKE = [
    _run(1, "tfx", 120.0, 100.0, {"CsvExampleGen": 8.0, "Evaluator": 40.0}),
    _run(1, "mlpipe-first", 72.0, 70.0, {"ingest": 5.0, "evaluate": 20.0}),
    _run(1, "mlpipe-later", 105.0, 103.0, {"ingest": 5.0, "evaluate": 44.0}),
    _run(2, "tfx", 100.0, 90.0, {"Evaluator": 50.0}),
    _run(2, "mlpipe-first", 80.0, 78.0, {"evaluate": 25.0}, status="failed", rss=0),
]


def test_side_by_side_arguments(tmp_path):
    args = side.parse_args([])
    assert args.rounds == 3 and not args.skip_tfx and args.interval == 0.2
    assert args.output.parent == REPO / "build" / "bench"
    args = side.parse_args(["--rounds", "1", "--output", str(tmp_path / "o"), "--skip-later"])
    assert args.rounds == 1 and args.output == tmp_path / "o" and args.skip_later
    assert side.parse_args(["--output", "rel"]).output == Path.cwd() / "rel"
    with pytest.raises(SystemExit):
        side.parse_args(["--rounds", "0"])


def test_tfx_pipeline_arguments(tmp_path):
    args = tfx_pipeline.parse_args(["--root", str(tmp_path), "--prepare-only"])
    assert args.root == tmp_path and args.prepare_only and args.config == REPO / "configs" / "adult.yaml"
    with pytest.raises(SystemExit):
        tfx_pipeline.parse_args([])


def test_ratios_per_round():
    rows = side.ratios(FAKE)
    assert rows[0] == {
        "round": 1,
        "first_over_tfx_wall": 0.6,
        "later_over_tfx_wall": 0.875,
        "evaluate_over_tfx_evaluator": 0.5,
        "later_evaluate_over_tfx_evaluator": 1.1,
    }
    assert rows[1]["first_over_tfx_wall"] == 0.8 and rows[1]["later_over_tfx_wall"] is None


def test_table_lists_every_run_and_the_median_ratio():
    table = side.format_table(FAKE, side.ratios(FAKE))
    lines = table.splitlines()
    assert sum(" tfx " in line for line in lines) == 2
    assert any("mlpipe-later" in line and "evaluate=44.0" in line and "1024" in line for line in lines)
    assert any("mlpipe-first" in line and "failed" in line for line in lines)
    first = next(line for line in lines if line.strip().startswith("mlpipe first / TFX wall"))
    assert first.split()[-3:] == ["0.60", "0.80", "0.70"]  # round 1, round 2, median
    later = next(line for line in lines if line.strip().startswith("mlpipe later / TFX wall"))
    assert later.split()[-3:] == ["0.88", "-", "0.88"]


def test_mlpipe_config_turns_tuning_off_and_uses_the_rounds_registry(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = side.mlpipe_config(Path("round-1"), REPO / "configs" / "adult.yaml")
    raw = yaml.safe_load(path.read_text())
    assert raw == {
        "base": str(REPO / "configs" / "adult.yaml"),
        "tuning": {"enabled": False},
        "registry": {"uri": str(tmp_path / "round-1" / "registry")},
    }
    from mlpipe.config.io import load_config

    config = load_config(str(path))
    assert not config.tuning.enabled and config.registry.uri == str(tmp_path / "round-1" / "registry")


def test_run_measured_samples_the_process_tree(tmp_path):
    command = [
        sys.executable,
        "-c",
        "import subprocess, sys; subprocess.run([sys.executable, '-c', 'import time; time.sleep(0.5)'])",
    ]
    result = side.run_measured(command, tmp_path / "log", 0.05)
    assert result["returncode"] == 0 and result["wall_seconds"] >= 0.5
    assert result["peak_rss_bytes"] > 2**20  # two interpreters at least
    assert 2**20 < result["peak_pss_bytes"] <= result["peak_rss_bytes"]


def test_prepare_converts_adult_for_csv_example_gen(tmp_path):
    settings = tfx_pipeline.load_settings()
    assert settings["trainer"]["label"] == "y" and "education_num" in settings["trainer"]["numeric"]
    out = tfx_pipeline.prepare(settings, tmp_path / "csv")
    counts = {}
    for split in ("train", "eval"):
        with (out / split / "adult.csv").open(newline="") as f:
            rows = list(csv.DictReader(f))
        counts[split] = len(rows)
        assert {r["y"] for r in rows} == {"0", "1"}
        assert not any(v == "?" or v.startswith(" ") for r in rows for v in r.values())
        assert any(r["workclass"] == "" for r in rows)  # `?` became missing
    assert counts == {"train": 32561, "eval": 16281}
    assert tfx_pipeline.prepare(settings, tmp_path / "csv") == out  # idempotent
