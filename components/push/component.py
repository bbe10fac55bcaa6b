"""KFP wrapper of the push stage."""

from kfp import dsl
from kfp.dsl import Artifact, Input, Model, Output

from mlpipe.runtime.images import PUSH_IMAGE


@dsl.component(base_image=PUSH_IMAGE, install_kfp_package=False)
def push(
    config: dict,
    model: Input[Model],
    statistics: Input[Artifact],
    blessing: Input[Artifact],
    infra_blessing: Input[Artifact],
    run_id: str,
    pushed_model: Output[Artifact],
):
    """Publish the model to the registry and roll it out, only when both blessings are positive.

    Args:
        config: Dataset config mapping (the run parameter): `model_name`, `registry.uri`
            (S3 credentials from MLPIPE_S3_* environment variables, i.e. a Kubernetes Secret),
            `serving` (target, strategy, canary percent, and `namespace`, where the deployed
            overlay's `serving-params` ConfigMap gives the serving names at run time).
        model: The trained model (`saved_model/`, `model_metadata.json`).
        statistics: The run's statistics, published with the version as the drift baseline
            of later runs.
        blessing: The evaluate stage's `blessing.json` and `evaluation_record.json` (stored with
            the version: later runs reuse it instead of re-evaluating this model as their baseline).
        infra_blessing: The infra_validate stage's `infra_blessing.json`.
        run_id: The pipeline run, recorded in the version's metadata.
        pushed_model: `push.json`: `{pushed, version, uri, reasons[], serving}`.
    """
    import json
    import os

    from mlpipe.components.push.core import push as run_push
    from mlpipe.config.io import config_from_dict
    from mlpipe.data.artifacts import EVALUATION_RECORD_FILE as RECORD_FILE
    from mlpipe.registry.access import open_registry
    from mlpipe.runtime.logs import setup_logging
    from mlpipe.serving.live import read_serving_names
    from mlpipe.storage.atomic import atomic_write_text

    setup_logging()
    dataset = config_from_dict(config)
    target = dataset.serving.rollout_target
    # the names of what is deployed, read before anything is published
    names = read_serving_names(dataset.serving.namespace) if target != "none" else None
    with open(os.path.join(blessing.path, "blessing.json")) as handle:
        model_blessing = json.load(handle)
    with open(os.path.join(infra_blessing.path, "infra_blessing.json")) as handle:
        infra = json.load(handle)
    record = os.path.join(blessing.path, RECORD_FILE)  # evaluate's; stored with the version
    result = run_push(
        dataset,
        model.path,
        model_blessing,
        infra,
        open_registry(dataset.registry.uri, os.environ),
        target,
        names,
        run_id=run_id,
        statistics_dir=statistics.path,
        evaluation_record=record if os.path.isfile(record) else None,
    )
    os.makedirs(pushed_model.path, exist_ok=True)
    atomic_write_text(os.path.join(pushed_model.path, "push.json"), json.dumps(result, indent=2))
    pushed_model.metadata.update({"pushed": result["pushed"], "version": result["version"] or 0})
    pushed_model.metadata["summary"] = {"push": result}
