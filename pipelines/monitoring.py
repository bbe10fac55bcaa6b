"""The monitoring pipeline: one batch of serving data against the served model, then the action.

served_model ─┬─> schema ──────────────┐
              │  ingest_batch -> statistics -> validate_batch ─┐
              │  ingest (the reference: the config's eval data) -> predict ─┤
              └─> performance (when labels come) ──────────────┴─> monitor -> retrain

The same stages as training (ingest, statistics, schema, validate) check the batch against what
the served version was trained and evaluated on; the monitor stage scores it, evaluates labelled
rows with TFMA, and its `monitor` step only decides and appends the figures to the served
version's history in the registry (the dashboard is its HTML artifact). `retrain` submits the
training pipeline (compiled here, carried as its input) through the in-cluster KFP API when the
decision says so and `monitoring.retrain` is `auto`, or records it when `manual`. Typically a
recurring run (`mlpipe submit --pipeline monitoring --recurring CRON`) whose `batch` names
where the serving logs land; `mlpipe monitor` runs it on this machine.
"""

import base64
import gzip
import tempfile
from pathlib import Path

from kfp import compiler, dsl

from mlpipe.components.ingest.component import ingest, ingest_batch
from mlpipe.components.monitor.component import monitor, performance, predict, served_model
from mlpipe.components.retrain.component import retrain
from mlpipe.components.retrain.core import IN_CLUSTER_KFP
from mlpipe.components.schema.component import schema
from mlpipe.components.statistics.component import statistics
from mlpipe.components.validate.component import validate_batch
from mlpipe.config.dataset import DatasetConfig
from mlpipe.pipelines.platform import object_store_access, resources
from mlpipe.pipelines.training import build_pipeline

PIPELINE_NAME = "mlpipe-monitoring"


def training_ir(config: DatasetConfig) -> str:
    """The training pipeline's cluster IR with `config` as its default, as retrain submits it:
    gzip, base64 (about 18 KB for 74 KB of YAML; a task's inputs travel as one command-line
    argument, which Linux caps at 128 KB)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "training_pipeline.yaml"
        compiler.Compiler().compile(build_pipeline(config, parallel_tuning=True), str(path))
        return base64.b64encode(gzip.compress(path.read_bytes(), mtime=0)).decode("ascii")


def build_monitoring_pipeline(config: DatasetConfig):
    """The monitoring pipeline with `config` (its run input) as the default."""
    default_config = config.run_input()
    training_pipeline = training_ir(config)

    @dsl.pipeline(
        name=PIPELINE_NAME,
        description="Drift, data quality, predictions and performance of the served model; retraining.",
    )
    def monitoring_pipeline(
        config: dict = default_config, batch: str = "", labels: str = "", kfp_host: str = IN_CLUSTER_KFP
    ):
        """Args: config (the dataset config mapping), batch (s3:// CSV of serving data), labels
        (s3:// CSV of ids and labels, or empty), kfp_host (where a retraining run is submitted;
        empty: the decision is only recorded)."""
        served = served_model(config=config).set_display_name("served_model")
        batch_examples = ingest_batch(config=config, batch=batch).set_display_name("ingest_batch")
        batch_statistics = statistics(config=config, examples=batch_examples.outputs["examples"])
        served_schema = schema(config=config, statistics=served.outputs["statistics"])
        checked = validate_batch(
            config=config,
            statistics=batch_statistics.outputs["statistics"],
            schema=served_schema.outputs["schema"],
            served_statistics=served.outputs["statistics"],
            rows=batch_examples.outputs["rows"],
            batch=batch,
        )
        # the reference scores' data: the same every batch, so the one task a cluster may cache
        reference = ingest(config=config, train_data="", eval_data="").set_display_name("ingest_reference")
        scored = predict(
            config=config,
            served=served.outputs["served"],
            model=served.outputs["model"],
            examples=batch_examples.outputs["examples"],
            reference=reference.outputs["examples"],
        )
        labelled = performance(
            config=config,
            served=served.outputs["served"],
            model=served.outputs["model"],
            rows=batch_examples.outputs["rows"],
            labels=labels,
        )
        decided = monitor(
            config=config,
            batch=batch,
            served=served.outputs["served"],
            rows=batch_examples.outputs["rows"],
            validation=checked.outputs["validation"],
            predictions=scored.outputs["predictions"],
            performance=labelled.outputs["performance"],
        ).set_display_name("monitor")
        action = retrain(
            config=config,
            record=decided.outputs["record"],
            kfp_host=kfp_host,
            training_pipeline=training_pipeline,
        ).set_display_name("retrain")
        # every batch is new figures for the history: nothing but the reference from the cache
        for task in (served, batch_examples, batch_statistics, served_schema, checked, scored, labelled):
            object_store_access(resources(task.set_caching_options(False), "data"))
        object_store_access(resources(reference, "data"))
        object_store_access(resources(decided.set_caching_options(False), "data"))
        object_store_access(resources(action.set_caching_options(False), "small"))

    return monitoring_pipeline
