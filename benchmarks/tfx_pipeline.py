"""The same job as `mlpipe run` (tuning off), as a TFX 1.16 pipeline, on the bundled UCI Adult data.

    ~/.cache/mlpipe/bench/tfx-venv/bin/python benchmarks/tfx_pipeline.py --root DIR [--timings FILE]

Runs in its own virtual environment (benchmarks/tfx-env.sh creates it), never in mlpipe's.
CsvExampleGen -> StatisticsGen -> SchemaGen -> ExampleValidator -> Trainer (the Keras model
of mlpipe/model/keras_model.py, benchmarks/tfx_trainer/adult_trainer.py) -> Evaluator (the slices and
metrics of components/evaluate/core.py, FairnessIndicators at the config's thresholds) ->
Pusher (to DIR/serving), with LocalDagRunner and a fresh pipeline root DIR/pipeline.

The data: CsvExampleGen reads plain CSV, so the gzipped Adult files (", " separators, `?` for
missing, label `<=50K`/`>50K` with a trailing dot in the test file) are converted once into
DIR/../tfx-csv/{train,eval}/adult.csv (lower_snake_case header, empty for missing, label 0/1):
`prepare` below. The conversion is outside the timed region (it takes well under a second;
mlpipe's ingest does the same parsing inside its timed run, so this favours TFX slightly).

`--timings FILE` writes {"run_seconds": the LocalDagRunner.run call, "components": [{name,
seconds}] from the MLMD executions' create and last-update times}.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "adult.yaml"
# In a folder of its own: TFX packages the module file's whole folder into the Trainer's wheel.
MODULE_FILE = Path(__file__).resolve().parent / "tfx_trainer" / "adult_trainer.py"
PIPELINE_NAME = "adult_tfx"


def normalize(name: str) -> str:
    """Column names as mlpipe writes them: lower_snake_case (education-num -> education_num)."""
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


def load_settings(config_path: Path = CONFIG) -> dict:
    """What the TFX side needs from the dataset config (plain YAML; no mlpipe import)."""
    import yaml

    raw = yaml.safe_load(config_path.read_text())
    base = config_path.parent
    training = raw["training"]
    return {
        "train": str((base / raw["data"]["train"]).resolve()),
        "eval": str((base / raw["data"]["eval"]).resolve()),
        "missing": raw["csv"]["missing_value"],
        "label_column": raw["label"]["column"],
        "positive": list(raw["label"]["positive"]),
        "negative": list(raw["label"]["negative"]),
        "trainer": {
            "numeric": [normalize(n) for n in raw["features"]["numeric"]],
            "categorical": [normalize(n) for n in raw["features"]["categorical"]],
            "label": normalize(raw["label"]["column"]),
            "epochs": training["epochs"],
            "batch_size": training["batch_size"],
            "seed": training["seed"],
            "early_stopping_patience": training["early_stopping_patience"],
            "hyperparameters": training["hyperparameters"],
        },
        "slicing": {
            "features": [normalize(f) for f in raw["slicing"]["features"]],
            "crosses": [[normalize(f) for f in cross] for cross in raw["slicing"]["crosses"]],
        },
        "evaluation": raw["evaluation"],
    }


def prepare(settings: dict, csv_dir: Path) -> Path:
    """Convert the gzipped CSVs into csv_dir/{train,eval}/adult.csv for CsvExampleGen (idempotent)."""
    for split in ("train", "eval"):
        target = csv_dir / split / "adult.csv"
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        positive, negative = set(settings["positive"]), set(settings["negative"])
        tmp = target.with_suffix(".tmp")
        with gzip.open(settings[split], "rt", newline="") as src, tmp.open("w", newline="") as dst:
            reader = csv.reader(src, skipinitialspace=True)
            writer = csv.writer(dst)
            header = next(reader)
            label_index = header.index(settings["label_column"])
            writer.writerow([normalize(h) for h in header])
            for row in reader:
                if not row:
                    continue
                row = ["" if v == settings["missing"] else v for v in row]
                label = row[label_index]
                if label not in positive and label not in negative:
                    raise ValueError(f"{settings[split]}: unknown label {label!r}")
                row[label_index] = "1" if label in positive else "0"
                writer.writerow(row)
        tmp.rename(target)
    return csv_dir


def eval_config(settings: dict):
    """components/evaluate/core.py's EvalConfig for a first run (no baseline)."""
    import tensorflow_model_analysis as tfma

    evaluation = settings["evaluation"]
    thresholds = [round(t, 4) for t in evaluation["fairness_thresholds"]]
    auc = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": evaluation["min_auc"]})
    )
    accuracy = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(
            lower_bound={"value": evaluation.get("min_binary_accuracy", 0.0)}
        )
    )
    metrics = [
        tfma.MetricConfig(class_name="ExampleCount"),
        tfma.MetricConfig(class_name="AUC", threshold=auc),
        tfma.MetricConfig(class_name="AUCPrecisionRecall", config='{"name": "auc_pr"}'),
        tfma.MetricConfig(class_name="BinaryAccuracy", threshold=accuracy),
        tfma.MetricConfig(class_name="Precision"),
        tfma.MetricConfig(class_name="Recall"),
        tfma.MetricConfig(class_name="Calibration"),
        tfma.MetricConfig(class_name="ConfusionMatrixPlot", config='{"num_thresholds": 100}'),
        tfma.MetricConfig(
            class_name="FairnessIndicators",
            module="fairness_indicators.fairness_indicators_metrics",
            config=f'{{"thresholds": {thresholds}}}',
        ),
    ]
    slicing = [tfma.SlicingSpec()]
    slicing += [tfma.SlicingSpec(feature_keys=[f]) for f in settings["slicing"]["features"]]
    slicing += [tfma.SlicingSpec(feature_keys=list(c)) for c in settings["slicing"]["crosses"]]
    return tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(signature_name="serving_default", label_key=settings["trainer"]["label"])
        ],
        metrics_specs=[tfma.MetricsSpec(metrics=metrics)],
        slicing_specs=slicing,
    )


def build_pipeline(settings: dict, csv_dir: Path, root: Path):
    from tfx import v1 as tfx

    example_gen = tfx.components.CsvExampleGen(
        input_base=str(csv_dir),
        input_config=tfx.proto.Input(
            splits=[
                tfx.proto.Input.Split(name="train", pattern="train/*"),
                tfx.proto.Input.Split(name="eval", pattern="eval/*"),
            ]
        ),
    )
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = tfx.components.SchemaGen(
        statistics=statistics_gen.outputs["statistics"], infer_feature_shape=True
    )
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    )
    trainer = tfx.components.Trainer(
        module_file=str(MODULE_FILE),
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        # run_fn trains by epochs with early stopping, as mlpipe does; steps are not used.
        train_args=tfx.proto.TrainArgs(num_steps=0),
        eval_args=tfx.proto.EvalArgs(num_steps=0),
        custom_config=settings["trainer"],
    )
    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        eval_config=eval_config(settings),
    )
    pusher = tfx.components.Pusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=str(root / "serving"))
        ),
    )
    return tfx.dsl.Pipeline(
        pipeline_name=PIPELINE_NAME,
        pipeline_root=str(root / "pipeline"),
        components=[example_gen, statistics_gen, schema_gen, example_validator, trainer, evaluator, pusher],
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            str(root / "metadata.sqlite")
        ),
        enable_cache=False,
    )


def component_timings(metadata_path: Path) -> list[dict]:
    """Per component: seconds between the MLMD execution's creation and its last update."""
    import ml_metadata as mlmd
    from ml_metadata.proto import metadata_store_pb2

    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = str(metadata_path)
    connection.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    store = mlmd.MetadataStore(connection)
    types = {t.id: t.name for t in store.get_execution_types()}
    rows = []
    for execution in sorted(store.get_executions(), key=lambda e: e.create_time_since_epoch):
        rows.append(
            {
                "name": types.get(execution.type_id, "?").rsplit(".", 1)[-1],
                "seconds": round(
                    (execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000, 2
                ),
                "state": metadata_store_pb2.Execution.State.Name(execution.last_known_state),
            }
        )
    return rows


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", required=True, type=Path, help="fresh folder: pipeline root, MLMD, serving")
    parser.add_argument(
        "--csv-dir", type=Path, help="converted CSV folder (default: ROOT/../tfx-csv); made when missing"
    )
    parser.add_argument("--config", type=Path, default=CONFIG, help="dataset config YAML")
    parser.add_argument("--timings", type=Path, help="write run and per-component seconds here (JSON)")
    parser.add_argument("--prepare-only", action="store_true", help="convert the CSVs and stop")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    settings = load_settings(args.config)
    csv_dir = prepare(settings, (args.csv_dir or args.root.parent / "tfx-csv").resolve())
    if args.prepare_only:
        return 0
    root = args.root.resolve()
    if (root / "pipeline").exists():
        sys.exit(f"{root / 'pipeline'} exists: each run needs a fresh pipeline root")
    root.mkdir(parents=True, exist_ok=True)
    from tfx import v1 as tfx

    pipeline = build_pipeline(settings, csv_dir, root)
    start = time.perf_counter()
    tfx.orchestration.LocalDagRunner().run(pipeline)
    run_seconds = time.perf_counter() - start
    result = {"run_seconds": round(run_seconds, 2), "components": component_timings(root / "metadata.sqlite")}
    pushed = sorted(p.name for p in (root / "serving").glob("*")) if (root / "serving").exists() else []
    result["pushed"] = pushed
    if args.timings:
        args.timings.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
