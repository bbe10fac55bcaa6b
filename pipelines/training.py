"""The training pipeline, top to bottom as its DAG.

ingest -> statistics -> schema -> validate -> validation_gate -> tune -> train
       -> evaluate -> infra_validate -> push

The dataset config is the run parameter `config` (a mapping, shown in the KFP
UI and part of every task's cache key); `build_pipeline` bakes a config file's
content in as its default. Checking stages always succeed and upload their
reports; `validation_gate` stops a run on rejected data, and push skips an
unblessed model and says why, as TFX's Pusher does (kfp.local runs no dsl.If).
"""

import dataclasses

from kfp import dsl

from mlpipe.components.evaluate.component import evaluate
from mlpipe.components.infra_validate.component import infra_validate
from mlpipe.components.ingest.component import ingest
from mlpipe.components.push.component import push
from mlpipe.components.schema.component import schema
from mlpipe.components.statistics.component import statistics
from mlpipe.components.train.component import train
from mlpipe.components.tune.component import tune, tune_choose, tune_plan, tune_trial
from mlpipe.components.validate.component import validate, validation_gate
from mlpipe.config.dataset import DatasetConfig
from mlpipe.pipelines.platform import object_store_access, pusher_identity, resources, training_placement
from mlpipe.runtime.images import TF_IMAGE
from mlpipe.serving.names import load_serving_names

PIPELINE_NAME = "mlpipe-training"


def build_pipeline(config: DatasetConfig, parallel_tuning: bool = False):
    """The training pipeline with `config` (its run input) as default.

    `parallel_tuning` (a cluster's IR with `tuning.parallel_trials` > 0): the trials fan out as a
    `dsl.ParallelFor`, `parallel_trials` at once, and `tune_choose` collects them; kfp.local (2.13)
    runs no ParallelFor, so local runs keep the one-pod search."""
    default_config = config.run_input()
    # where a TFJob's workers exchange inputs and the model with the train step (params.env)
    cluster_names = dataclasses.asdict(load_serving_names())
    parallelism = config.tuning.parallel_trials if parallel_tuning else 0
    distributed = config.training.distributed.workers > 1  # a TFJob: its workers use the object store

    @dsl.pipeline(
        name=PIPELINE_NAME,
        description="Tabular training with data validation, fairness-gated evaluation and push.",
    )
    def training_pipeline(
        config: dict = default_config,
        train_data: str = "",
        eval_data: str = "",
        enable_tuning: bool = True,
        use_baseline: bool = True,
    ):
        """Args: config (the dataset config mapping; serving names come from the serving-params
        ConfigMap in its serving.namespace, read by push at run time), train/eval data overrides
        (s3:// on a cluster), tuning switch, registry baseline switch."""
        ingest_task = ingest(config=config, train_data=train_data, eval_data=eval_data)
        object_store_access(resources(ingest_task.set_display_name("ingest"), "data"))

        statistics_task = statistics(config=config, examples=ingest_task.outputs["examples"])
        resources(statistics_task.set_display_name("statistics"), "data")

        schema_task = schema(config=config, statistics=statistics_task.outputs["statistics"])
        resources(schema_task.set_display_name("schema"), "small")

        validate_task = validate(
            config=config,
            statistics=statistics_task.outputs["statistics"],
            schema=schema_task.outputs["schema"],
            use_baseline=use_baseline,
        )
        # The drift baseline is whatever model serves now: never reuse a cached verdict.
        validate_task.set_display_name("validate").set_caching_options(False)
        object_store_access(resources(validate_task, "data"))

        gate_task = validation_gate(anomalies=validate_task.outputs["anomalies"])
        resources(gate_task.set_display_name("validation_gate"), "small").set_caching_options(False)

        if parallelism:
            plan_task = tune_plan(config=config, enable_tuning=enable_tuning)
            resources(plan_task.set_display_name("tune_plan").after(gate_task), "small")
            with dsl.ParallelFor(plan_task.output, parallelism=parallelism) as trial:
                trial_task = tune_trial(config=config, examples=ingest_task.outputs["examples"], trial=trial)
                training_placement(resources(trial_task.set_display_name("tune_trial"), "train"))
            tune_task = tune_choose(config=config, results=dsl.Collected(trial_task.output))
            resources(tune_task.set_display_name("tune"), "small")
        else:
            tune_task = tune(
                config=config, examples=ingest_task.outputs["examples"], enable_tuning=enable_tuning
            )
            tune_task.after(gate_task)
            training_placement(resources(tune_task.set_display_name("tune"), "train"))

        train_task = train(
            config=config,
            examples=ingest_task.outputs["examples"],
            schema=schema_task.outputs["schema"],
            hyperparameters=tune_task.outputs["hyperparameters"],
            serving_names=cluster_names,
            worker_image=TF_IMAGE,  # the TFJob's workers run this step's image
        )
        training_placement(resources(train_task.set_display_name("train"), "train"))
        if distributed:
            object_store_access(train_task)

        evaluate_task = evaluate(
            config=config,
            model=train_task.outputs["model"],
            examples=ingest_task.outputs["examples"],
            use_baseline=use_baseline,
        )
        # The baseline is whatever the registry holds now: never reuse a cached verdict.
        evaluate_task.set_display_name("evaluate").set_caching_options(False)
        object_store_access(resources(evaluate_task, "data"))

        infra_task = infra_validate(
            config=config, model=train_task.outputs["model"], examples=ingest_task.outputs["examples"]
        )
        resources(infra_task.set_display_name("infra_validate"), "small")

        push_task = push(
            config=config,
            model=train_task.outputs["model"],
            statistics=statistics_task.outputs["statistics"],
            blessing=evaluate_task.outputs["blessing"],
            infra_blessing=infra_task.outputs["infra_blessing"],
            run_id=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
        )
        push_task.set_display_name("push").set_caching_options(False).set_retry(
            num_retries=2, backoff_duration="30s"
        )
        pusher_identity(object_store_access(resources(push_task, "small")))

    return training_pipeline
