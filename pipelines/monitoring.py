"""The monitoring pipeline: one batch of serving data against the served model, then the action.

monitor -> retrain

Typically a recurring run (`mlpipe submit --pipeline monitoring --recurring CRON`) whose `batch`
names where the serving logs land. `monitor` appends the batch's figures to the served version's
history in the registry and draws the dashboard (an HTML artifact in the KFP UI); `retrain`
submits a training run through the in-cluster KFP API when the decision says so and
`monitoring.retrain` is `auto`, or records it when `manual`.
"""

from kfp import dsl

from mlpipe.components.monitor.component import monitor
from mlpipe.components.retrain.component import retrain
from mlpipe.components.retrain.core import IN_CLUSTER_KFP
from mlpipe.config.dataset import DatasetConfig
from mlpipe.pipelines.platform import object_store_access, resources

PIPELINE_NAME = "mlpipe-monitoring"


def build_monitoring_pipeline(config: DatasetConfig):
    """The monitoring pipeline with `config` (its run input) as the default."""
    default_config = config.run_input()

    @dsl.pipeline(
        name=PIPELINE_NAME,
        description="Drift, data quality, predictions and performance of the served model; retraining.",
    )
    def monitoring_pipeline(
        config: dict = default_config, batch: str = "", labels: str = "", kfp_host: str = IN_CLUSTER_KFP
    ):
        """Args: config (the dataset config mapping), batch (s3:// CSV of serving data), labels
        (s3:// CSV of ids and labels, or empty), kfp_host (where a retraining run is submitted)."""
        monitor_task = monitor(config=config, batch=batch, labels=labels)
        # every batch is new figures for the history: never a cached result
        monitor_task.set_display_name("monitor").set_caching_options(False)
        object_store_access(resources(monitor_task, "data"))

        retrain_task = retrain(config=config, record=monitor_task.outputs["record"], kfp_host=kfp_host)
        retrain_task.set_display_name("retrain").set_caching_options(False)
        object_store_access(resources(retrain_task, "small"))

    return monitoring_pipeline
