"""The training pipeline, top to bottom as its DAG.

ingest -> statistics -> schema -> validate -> tune -> train -> evaluate -> infra_validate -> push
"""

from kfp import dsl

from components.evaluate.component import evaluate
from components.infra_validate.component import infra_validate
from components.ingest.component import ingest
from components.push.component import push
from components.schema.component import schema
from components.statistics.component import statistics
from components.train.component import train
from components.tune.component import tune
from components.validate.component import validate

PIPELINE_NAME = "mlpipe-training"


@dsl.pipeline(name=PIPELINE_NAME, description="Tabular training with data validation, fairness gate and push.")
def training_pipeline(
    config_path: str = "configs/adult.yaml",
    train_data: str = "",
    eval_data: str = "",
    baseline_statistics: str = "",
    enable_tuning: bool = True,
    registry_uri: str = "",
    use_baseline: bool = True,
    serving_target: str = "",
):
    ingest_task = ingest(config_path=config_path, train_data=train_data, eval_data=eval_data)
    ingest_task.set_display_name("ingest")

    statistics_task = statistics(examples=ingest_task.outputs["examples"])
    statistics_task.set_display_name("statistics")

    schema_task = schema(config_path=config_path, statistics=statistics_task.outputs["statistics"])
    schema_task.set_display_name("schema")

    validate_task = validate(
        config_path=config_path,
        statistics=statistics_task.outputs["statistics"],
        schema=schema_task.outputs["schema"],
        baseline_statistics=baseline_statistics,
    )
    validate_task.set_display_name("validate")

    tune_task = tune(config_path=config_path, examples=ingest_task.outputs["examples"], enable_tuning=enable_tuning)
    tune_task.set_display_name("tune")
    tune_task.after(validate_task)

    train_task = train(
        config_path=config_path,
        examples=ingest_task.outputs["examples"],
        schema=schema_task.outputs["schema"],
        hyperparameters=tune_task.outputs["hyperparameters"],
    )
    train_task.set_display_name("train")

    evaluate_task = evaluate(
        config_path=config_path,
        model=train_task.outputs["model"],
        examples=ingest_task.outputs["examples"],
        registry_uri=registry_uri,
        use_baseline=use_baseline,
    )
    evaluate_task.set_display_name("evaluate")

    infra_task = infra_validate(
        config_path=config_path, model=train_task.outputs["model"], examples=ingest_task.outputs["examples"]
    )
    infra_task.set_display_name("infra_validate")

    push_task = push(
        config_path=config_path,
        model=train_task.outputs["model"],
        blessing=evaluate_task.outputs["blessing"],
        infra_blessing=infra_task.outputs["infra_blessing"],
        registry_uri=registry_uri,
        serving_target=serving_target,
        run_id=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
    )
    push_task.set_display_name("push")
