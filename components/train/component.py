"""KFP wrapper of the train stage."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Model, Output

from mlpipe.runtime.images import TF_IMAGE


@dsl.component(base_image=TF_IMAGE, install_kfp_package=False)
def train(
    config: dict,
    examples: Input[Dataset],
    schema: Input[Artifact],
    hyperparameters: Input[Artifact],
    model: Output[Model],
    metrics: Output[Metrics],
    tensorboard: Output[Artifact],
    serving_names: dict,
    worker_image: str,
):
    """Train the Keras model and export a SavedModel with preprocessing inside the graph.

    Args:
        config: Dataset config mapping (the run parameter): features, label, `training` (epochs, batch_size,
            seed; `distributed.workers` > 1: on a cluster, train as a Kubeflow TFJob of that many workers).
        examples: Ingested examples (`Split-train` to fit, `Split-eval` for early stopping).
        schema: The validated schema; its features must match the config's.
        hyperparameters: The tune stage's JSON (tuned values, or the config defaults).
        model: `saved_model/` (signatures `serving_default` over serialized tf.Examples and
            `serving_raw` over raw features; output `probabilities` of the positive class)
            and `model_metadata.json` (hyperparameters, metrics, data fingerprint).
        metrics: Final train and eval loss, AUC and binary accuracy.
        tensorboard: TensorBoard logs of the fit.
        serving_names: The manifests' params.env (registry bucket, endpoint, credentials Secret): where
            a TFJob's workers exchange inputs and the model with this step.
        worker_image: The TFJob workers' image: this step's own, fixed when the pipeline is compiled.
    """
    import os

    from mlpipe.components.train.core import train as run_train
    from mlpipe.components.train.launch import in_cluster, train_as_tfjob
    from mlpipe.config.io import config_from_dict
    from mlpipe.data.artifacts import load_schema, read_hyperparameters
    from mlpipe.runtime.logs import setup_logging

    setup_logging()
    config = config_from_dict(config)
    fingerprint = examples.metadata.get("fingerprint", "")
    if config.training.distributed.workers > 1 and in_cluster():
        from mlpipe.serving.names import ServingNames

        result = train_as_tfjob(
            config,
            examples.path,
            schema.path,
            hyperparameters.path,
            model.path,
            tensorboard.path,
            ServingNames(**serving_names),
            worker_image,
            fingerprint=fingerprint,
        )
    else:
        result = run_train(
            config,
            examples.path,
            load_schema(schema.path),
            model.path,
            tensorboard.path,
            read_hyperparameters(hyperparameters.path, config.training.hyperparameters),
            fingerprint=fingerprint,
            tf_config=os.environ.get("TF_CONFIG"),
        )
    for key, value in result.metrics.items():
        metrics.log_metric(key, value)
    model.metadata.update({"framework": "tensorflow", "epochs_run": result.epochs_run})
    model.metadata["summary"] = {
        "training": {
            "metrics": result.metrics,
            "epochs_run": result.epochs_run,
            "seconds_per_epoch": round(result.seconds_per_epoch, 3),
            "examples_per_second": round(result.examples_per_second, 1),
        },
        "artifacts": {"model": model.path},
    }
