"""Monitoring a served model batch by batch: signals, history, decision, dashboard; every batch
through the monitoring pipeline under kfp.local, step by step.

The served model is the shared one (tests/unit/conftest.py: 16,000 Adult rows, evaluated with
TFMA, pushed with its statistics). Batches are rows of the real Adult test file after the 3,000
its eval split holds, with an `id` column; labels arrive one batch late.
"""

from __future__ import annotations

import itertools
import json
import math
import shutil
import subprocess
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mlpipe.components.monitor.core import history_records
from mlpipe.components.monitor.dashboard import render_dashboard
from mlpipe.config.io import load_config
from mlpipe.errors import UserInputError
from mlpipe.monitoring.history import History
from mlpipe.registry.local import LocalRegistry

BATCH_ROWS = 2_000
FIRST_ROW = 3_000  # the eval split of the served model is the file's first 3,000 rows
LABEL = "Y"
BEFORE = Path(__file__).parents[1] / "data" / "monitoring_before.json"  # the one-step monitor's records
_RUNS = itertools.count()


def monitor_batch(config, batch: str, labels: str | None = None, root: Path | None = None) -> dict:
    """The monitoring pipeline on one batch, as `mlpipe monitor` runs it (its own run folder)."""
    from mlpipe.run.monitoring import monitor_batch as run

    root = root or Path(config.registry.uri).parent
    return run(config, batch, labels, root / "monitor-runs" / str(next(_RUNS)))


def _monitored(tmp_path, served_model, adult_examples, write_config):
    registry = tmp_path / "registry"
    shutil.copytree(served_model.registry, registry)
    sample = adult_examples.sample
    config_path = write_config(
        tmp_path / "config",
        {
            "data": {"train": str(sample.train), "eval": str(sample.eval)},
            "registry.uri": str(registry),
            "training.epochs": 4,
            "tuning.enabled": False,
            "evaluation.max_auc_drop": 0.05,  # the retrained model is judged against the served one
            "monitoring": {"id_column": "id", "consecutive_batches": 2, "min_labelled_rows": 500},
        },
    )
    return config_path, registry


@pytest.fixture
def monitored(tmp_path, served_model, adult_examples, write_config):
    """A config whose registry is a fresh copy of the served model's, with `monitoring.id_column`."""
    return _monitored(tmp_path, served_model, adult_examples, write_config)


@pytest.fixture(scope="module")
def test_rows(adult_test_frame) -> pd.DataFrame:
    frame = adult_test_frame.iloc[FIRST_ROW:].reset_index(drop=True)
    frame.insert(0, "id", [f"r{FIRST_ROW + i}" for i in range(len(frame))])
    return frame


def _write_batch(folder, index: int, rows: pd.DataFrame, change=None):
    """Batch `index`: its rows without the label (serving data) and, apart, its labels."""
    frame = rows.iloc[index * BATCH_ROWS : (index + 1) * BATCH_ROWS].copy()
    if change is not None:
        frame = change(frame)
    folder.mkdir(parents=True, exist_ok=True)
    batch = folder / f"batch{index}.csv"
    frame.drop(columns=[LABEL]).to_csv(batch, index=False)
    labels = folder / f"labels{index}.csv"
    frame[["id", LABEL]].to_csv(labels, index=False)
    return batch, labels


def _older(years: int):
    def change(frame):
        frame["age"] = (frame["age"].astype(int) + years).astype(str)
        return frame

    return change


def _then(*changes):
    def change(frame):
        for c in changes:
            frame = c(frame)
        return frame

    return change


def _new_category(frame):
    chosen = np.random.default_rng(0).random(len(frame)) < 0.2
    frame.loc[chosen, "workclass"] = "Gig-economy"
    return frame


def _no_education_num(frame):
    return frame.drop(columns=["education-num"])


SEQUENCE = [  # (change of the batch, batch whose labels arrive with it)
    (None, None),
    (None, 0),
    (_older(2), None),  # a small shift: within the bound
    (_older(8), 1),  # over the bound: alarm
    (_then(_older(12), _new_category), 2),  # over twice in a row: retrain
    (_then(_older(12), _no_education_num), 3),
]


@pytest.fixture(scope="module")
def sequence(tmp_path_factory, served_model, adult_examples, write_config, test_rows):
    """SEQUENCE monitored in order: `config`, `registry`, `records`, `data` (the batch files)."""
    tmp_path = tmp_path_factory.mktemp("sequence")
    config_path, registry = _monitored(tmp_path, served_model, adult_examples, write_config)
    config = load_config(config_path)
    records = []
    for index, (change, labelled) in enumerate(SEQUENCE):
        batch, _ = _write_batch(tmp_path / "data", index, test_rows, change)
        labels = None if labelled is None else tmp_path / "data" / f"labels{labelled}.csv"
        records.append(monitor_batch(config, str(batch), labels=str(labels) if labels else None))
    snapshot = tmp_path / "registry-after-sequence"  # as the sequence left it; later tests add to `registry`
    shutil.copytree(registry, snapshot)
    return types.SimpleNamespace(
        config=config,
        config_path=config_path,
        registry=registry,
        snapshot=snapshot,
        records=records,
        data=tmp_path / "data",
    )


def test_a_drifting_sequence_alarms_then_decides_to_retrain(sequence):
    config, registry, records = sequence.config, sequence.registry, sequence.records
    verdicts = [r["decision"]["verdict"] for r in records]
    # clean batches and the small shift: no alarm
    assert verdicts[:3] == ["ok", "ok", "ok"], [r["crossed"] for r in records[:3]]
    # the growing shift: an alarm first, the decision when the rule (2 in a row) first holds
    assert verdicts[3] == "alarm" and "drift:age" in [c["signal"] for c in records[3]["crossed"]]
    assert verdicts[4] == "retrain" and records[4]["decision"]["retrain"]
    assert "drift:age" in records[4]["decision"]["signals"]
    assert any("age" in reason and "2 consecutive" in reason for reason in records[4]["decision"]["reasons"])
    crossed4 = {c["signal"] for c in records[4]["crossed"]}
    assert {"unseen:workclass", "schema:workclass"} <= crossed4  # the new category, flagged at once
    crossed5 = {c["signal"] for c in records[5]["crossed"]}
    assert {"missing:education_num", "schema:education_num"} <= crossed5  # the missing column
    assert records[5]["quality"]["missing"]["education_num"] == 1.0
    # labels one batch late: performance against the model card
    assert records[0]["performance"] is None and records[1]["labelled_rows"] == BATCH_ROWS
    performance = records[1]["performance"]
    assert performance["rows"] == BATCH_ROWS
    assert performance["card_auc"] == pytest.approx(served_auc(registry, config))
    assert 0.8 < performance["auc"] <= 1.0 and abs(performance["auc_drop"]) < 0.05
    assert {"overall", "sex:Female", "sex:Male"} <= set(performance["metrics"])
    assert set(performance["fairness"]) == {"sex/auc", "sex/false_positive_rate@0.5", "race/auc"}
    assert records[3]["labelled_rows"] == 2 * BATCH_ROWS  # labels of batches 0 and 1 both joined
    # prediction figures on every batch
    for r in records:
        assert r["predictions"]["bad_fraction"] == 0.0 and 0.0 < r["predictions"]["mean"] < 1.0
        assert sum(r["predictions"]["histogram"]) == BATCH_ROWS
    # the history: one object per batch, in order, never rewritten
    history = History(LocalRegistry(registry), config.model_name, 1)
    assert [r["key"] for r in history.records()] == [r["key"] for r in records]
    assert len(history.names("data")) == len(SEQUENCE) and len(history.names("feedback")) == 4
    assert not history.create(f"batches/{records[0]['key']}.json", b"{}")
    assert history_records(config, {}) == history.records()
    # the dashboard shows every batch
    page = render_dashboard(config, history.records())
    assert 'data-verdict="retrain"' in page and "drift:age" in page
    assert page.count('id="chart-drift-') == len(config.feature_keys)


def _same(before, after, where="record"):
    """Equal, numbers to 1e-6 (the figures of one computation moved from one step to several)."""
    if isinstance(before, dict):
        assert set(before) == set(after), (where, sorted(set(before) ^ set(after)))
        for key in before:
            _same(before[key], after[key], f"{where}.{key}")
    elif isinstance(before, list):
        assert len(before) == len(after), where
        for i, (b, a) in enumerate(zip(before, after, strict=True)):
            _same(b, a, f"{where}[{i}]")
    elif isinstance(before, float) and not isinstance(after, bool):
        assert math.isclose(before, after, rel_tol=1e-6, abs_tol=1e-6), (where, before, after)
    else:
        assert before == after, (where, before, after)


def test_the_pipeline_reaches_the_one_step_monitors_records_on_the_same_batches(sequence):
    """The sequence's records as the single-container monitor wrote them before the monitoring
    pipeline was split into its stages (tests/data/monitoring_before.json): every figure, every
    crossed bound and every decision the same."""
    from mlpipe.evaluation.results import undefined_on

    before = json.loads(BEFORE.read_text())
    assert len(before) == len(sequence.records)
    undefined = 0
    for i, (old, new) in enumerate(zip(before, sequence.records, strict=True)):
        new = {k: v for k, v in new.items() if k not in ("key", "at", "data")}
        # one change on purpose: a slice of one class has no AUC (the one-step monitor wrote TFMA's 0)
        performance = new.get("performance") or {}
        for name, only in performance.pop("one_class_slices", {}).items():
            for metric, value in old["performance"]["metrics"][name].items():
                if undefined_on(metric, only):
                    assert performance["metrics"][name][metric] is None and value is not None
                    old["performance"]["metrics"][name][metric] = None
                    undefined += 1
        # and the unseen-values anomaly now says what to do about it
        for was, now in zip(old.get("anomalies", []), new.get("anomalies", []), strict=True):
            if now["kind"] == "ENUM_TYPE_UNEXPECTED_STRING_VALUES":
                assert now["description"].startswith(was["description"].strip() + " To accept them")
                assert "validation.min_domain_mass" in now["description"]
                now["description"] = was["description"]
        _same(old, new, f"batch {i}")
    assert undefined  # the sequence has such slices: the change above is exercised


def served_auc(registry, config) -> float:
    return LocalRegistry(registry).metadata(config.model_name, 1)["overall_auc"]


def test_nothing_served_is_one_clear_error(tmp_path, write_config, adult):
    config = load_config(write_config(tmp_path / "c", {"registry.uri": str(tmp_path / "empty")}))
    with pytest.raises(UserInputError, match="nothing serves adult_income"):
        monitor_batch(config, str(adult.test), root=tmp_path)


def test_labels_without_an_id_column_are_refused(tmp_path, monitored, test_rows):
    config_path, _ = monitored
    config = load_config(config_path)
    batch, labels = _write_batch(tmp_path / "data", 0, test_rows)
    bad = tmp_path / "bad-labels.csv"
    pd.read_csv(labels).drop(columns=["id"]).to_csv(bad, index=False)
    with pytest.raises(UserInputError, match="column 'id' is not in the labels file"):
        monitor_batch(config, str(batch), labels=str(bad))
    # nothing was appended for the refused batch
    assert History(LocalRegistry(config.registry.uri), config.model_name, 1).records() == []


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, installed by scripts/install-chromium.sh when missing (fails in CI without)."""
    from servers import unavailable

    script = Path(__file__).resolve().parents[2] / "scripts" / "install-chromium.sh"
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        unavailable("chromium", done.stderr.strip()[-800:])
    return done.stdout.strip().splitlines()[-1]


def _browser(chromium: str, *args: str) -> subprocess.CompletedProcess:
    """Headless chromium with every host unresolvable: the page must render with no network."""
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--host-resolver-rules=MAP * ~NOTFOUND"]
    return subprocess.run([chromium, *flags, *args], capture_output=True, text=True, timeout=120)


def test_the_dashboard_renders_every_chart_in_a_headless_browser(tmp_path, sequence, chromium):
    from PIL import Image

    config, records = sequence.config, sequence.records
    page = tmp_path / "dashboard.html"
    page.write_text(render_dashboard(config, records))
    text = page.read_text()
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in text
    dom = _browser(chromium, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert 'data-verdict="retrain"' in html and "RETRAIN" in html
    for kind in config.monitoring.charts:  # every configured chart kind is on the page
        assert f'data-chart="{kind}"' in html, kind
    for feature in config.feature_keys:
        assert f'id="chart-drift-{feature}"' in html
    for chart in ("chart-missing", "chart-prediction-mean", "chart-prediction-distribution",
                  "chart-performance-auc", "chart-performance-false_positive_rate", "chart-fairness-sex-auc"):  # fmt: skip
        assert f'id="{chart}"' in html, chart
    # every batch is on the time axis: one point per batch on the drift line of age
    age_chart = html.split('id="chart-drift-age"', 1)[1].split("</svg>", 1)[0]
    assert age_chart.count("<circle") == len(records)
    shot = tmp_path / "dashboard.png"
    done = _browser(chromium, f"--screenshot={shot}", "--window-size=1400,2600", page.as_uri())
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    colors = image.getcolors(maxcolors=1 << 20)
    assert colors is not None and len(colors) > 20, "the screenshot is blank"
    # the verdict banner on top is drawn in the retrain colour
    assert image.getpixel((40, 20)) == (0xD6, 0x27, 0x28)


def test_mlpipe_monitor_shows_steps_and_the_verdict_and_exits_1_when_retraining_is_due(
    tmp_path, sequence, test_rows, capsys
):
    from mlpipe.cli.main import main

    batch, _ = _write_batch(tmp_path / "data", 6, test_rows, _older(12))
    output = tmp_path / "report"
    args = ["monitor", "--config", str(sequence.config_path), "--data", str(batch), "--output", str(output)]
    code = main(args)
    captured = capsys.readouterr()
    assert code == 1, captured.out + captured.err
    lines = captured.out.splitlines()
    steps = ("served_model", "ingest_batch", "statistics", "schema", "validate_batch", "ingest", "predict")
    for step in (*steps, "performance", "monitor", "retrain"):  # one quiet line per pipeline step
        assert any(line.startswith("✓") and f" {step} " in line for line in lines), (step, lines)
    assert "verdict: retrain" in captured.out and "drift:age" in captured.out
    assert "retraining is due: run again with --retrain" in captured.out
    record = json.loads((output / "record.json").read_text())
    assert record["decision"]["streaks"]["drift:age"] >= 3
    assert (output / "dashboard.html").is_file()
    for step in ("ingest_batch", "validate_batch", "predict", "monitor"):  # each step its own log
        assert (output / "logs" / f"{step}.log").stat().st_size > 0, step


@pytest.mark.slow
def test_mlpipe_monitor_retrain_runs_the_training_pipeline_and_pushes_a_new_version(
    tmp_path, sequence, test_rows, capsys
):
    """After the sequence the rule holds: `mlpipe monitor --retrain` trains on the training data
    plus the labelled feedback, and the new model is pushed and served."""
    from mlpipe.cli.main import main

    batch, _ = _write_batch(tmp_path / "data", 6, test_rows, _older(12))
    runs = tmp_path / "runs"
    args = ["monitor", "--config", str(sequence.config_path), "--data", str(batch), "--runs", str(runs)]
    code = main([*args, "--retrain"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "verdict: retrain" in out and "drift:age" in out
    feedback_rows = 4 * BATCH_ROWS  # the labels of batches 0 to 3
    assert f"({feedback_rows:,} labelled feedback rows)" in out
    registry = LocalRegistry(sequence.registry)
    assert registry.versions(sequence.config.model_name) == [1, 2]
    assert registry.serving_version(sequence.config.model_name) == 2
    (run_dir,) = [p for p in runs.iterdir() if (p / "summary.json").is_file() and not p.is_symlink()]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "succeeded" and summary["push"]["version"] == 2
    assert summary["data"]["train_rows"] == 16_000 + feedback_rows
    (dashboard,) = (runs / "monitoring").glob("*/dashboard.html")
    assert dashboard.read_text().count("<circle") >= len(SEQUENCE) + 1


@pytest.mark.slow
def test_the_monitoring_pipeline_runs_under_kfp_local(tmp_path, sequence, test_rows, write_config):
    """The compiled stages' own code (monitor, retrain) in kfp.local processes, on a copy of the
    sequence's registry: the rule holds, `retrain: manual` records the decision, the dashboard is
    the HTML artifact."""
    from kfp import local

    from mlpipe.pipelines.monitoring import build_monitoring_pipeline

    registry = tmp_path / "registry"
    shutil.copytree(sequence.snapshot, registry)
    raw = yaml.safe_load(sequence.config_path.read_text())
    raw["registry"] = {"uri": str(registry)}
    config = load_config(write_config(tmp_path / "config", raw=raw))
    batch, _ = _write_batch(tmp_path / "data", 6, test_rows, _older(12))
    root = tmp_path / "root"
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root), raise_on_error=True)
    pipeline = build_monitoring_pipeline(config)
    pipeline(config=config.run_input(), batch=str(batch), labels="", kfp_host="http://127.0.0.1:9")
    (record_file,) = root.rglob("record/record.json")
    record = json.loads(record_file.read_text())
    assert record["decision"]["verdict"] == "retrain" and "drift:age" in record["decision"]["signals"]
    (action_file,) = root.rglob("action/action.json")
    action = json.loads(action_file.read_text())
    assert action["action"] == "recorded" and action["reasons"] == record["decision"]["reasons"]
    (dashboard,) = [p for p in root.rglob("dashboard") if p.is_file()]
    assert 'data-verdict="retrain"' in dashboard.read_text()
    history = History(LocalRegistry(registry), config.model_name, 1)
    assert len(history.records()) == len(SEQUENCE) + 1  # the snapshot's batches and this one
