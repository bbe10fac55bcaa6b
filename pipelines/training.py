"""The training pipeline, top to bottom as its DAG.

ingest -> statistics -> schema -> validate -> tune -> train -> evaluate -> infra_validate -> push

Gates live inside the stages (validate fails the run on bad data; push skips an
unblessed model and says why), because kfp.local runs no dsl.If.
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
from pipelines.platform import object_store_access, resources, training_placement

PIPELINE_NAME = "mlpipe-training"


@dsl.pipeline(
    name=PIPELINE_NAME, description="Tabular training with data validation, fairness gate and push."
)
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
    """Args: config_path (in the image on a cluster), data overrides (path or s3://), baseline
    statistics dir, tuning switch, registry (dir or s3://bucket), baseline switch, serving target."""
    ingest_task = ingest(config_path=config_path, train_data=train_data, eval_data=eval_data)
    ingest_task.set_display_name("ingest")
    object_store_access(resources(ingest_task, "data"))

    statistics_task = statistics(examples=ingest_task.outputs["examples"])
    resources(statistics_task.set_display_name("statistics"), "data")

    schema_task = schema(config_path=config_path, statistics=statistics_task.outputs["statistics"])
    resources(schema_task.set_display_name("schema"), "small")

    validate_task = validate(
        config_path=config_path,
        statistics=statistics_task.outputs["statistics"],
        schema=schema_task.outputs["schema"],
        baseline_statistics=baseline_statistics,
    )
    resources(validate_task.set_display_name("validate"), "data")

    tune_task = tune(
        config_path=config_path, examples=ingest_task.outputs["examples"], enable_tuning=enable_tuning
    )
    tune_task.after(validate_task)
    training_placement(resources(tune_task.set_display_name("tune"), "train"))

    train_task = train(
        config_path=config_path,
        examples=ingest_task.outputs["examples"],
        schema=schema_task.outputs["schema"],
        hyperparameters=tune_task.outputs["hyperparameters"],
    )
    training_placement(resources(train_task.set_display_name("train"), "train"))

    evaluate_task = evaluate(
        config_path=config_path,
        model=train_task.outputs["model"],
        examples=ingest_task.outputs["examples"],
        registry_uri=registry_uri,
        use_baseline=use_baseline,
    )
    # The baseline is whatever the registry holds now: never reuse a cached verdict.
    evaluate_task.set_display_name("evaluate").set_caching_options(False)
    object_store_access(resources(evaluate_task, "data"))

    infra_task = infra_validate(
        config_path=config_path, model=train_task.outputs["model"], examples=ingest_task.outputs["examples"]
    )
    resources(infra_task.set_display_name("infra_validate"), "small")

    push_task = push(
        config_path=config_path,
        model=train_task.outputs["model"],
        blessing=evaluate_task.outputs["blessing"],
        infra_blessing=infra_task.outputs["infra_blessing"],
        registry_uri=registry_uri,
        serving_target=serving_target,
        run_id=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
    )
    push_task.set_display_name("push").set_caching_options(False).set_retry(
        num_retries=2, backoff_duration="30s"
    )
    object_store_access(resources(push_task, "small"))
