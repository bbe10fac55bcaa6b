"""The training pipeline, top to bottom as its DAG.

ingest -> statistics -> schema -> validate -> tune -> train -> evaluate -> infra_validate -> push
"""

from kfp import dsl

from components.ingest.component import ingest

PIPELINE_NAME = "mlpipe-training"


@dsl.pipeline(name=PIPELINE_NAME, description="Tabular training with data validation, fairness gate and push.")
def training_pipeline(
    config_path: str = "configs/adult.yaml",
    train_data: str = "",
    eval_data: str = "",
):
    ingest_task = ingest(config_path=config_path, train_data=train_data, eval_data=eval_data)
    ingest_task.set_display_name("ingest")
