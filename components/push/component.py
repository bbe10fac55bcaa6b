"""KFP wrapper of the push stage."""

from kfp import dsl
from kfp.dsl import Artifact, Input, Model, Output

from components.images import PUSH_IMAGE


@dsl.component(base_image=PUSH_IMAGE, install_kfp_package=False)
def push(
    config_path: str,
    model: Input[Model],
    blessing: Input[Artifact],
    infra_blessing: Input[Artifact],
    registry_uri: str,
    serving_target: str,
    run_id: str,
    pushed_model: Output[Artifact],
):
    """Publish the model to the registry and roll it out, only when both blessings are positive.

    Args:
        config_path: Dataset config YAML (model name, registry, serving target, canary percent).
        model: The trained model (`saved_model/`, `model_metadata.json`).
        blessing: The evaluate stage's `blessing.json`.
        infra_blessing: The infra_validate stage's `infra_blessing.json`.
        registry_uri: Registry directory or s3://bucket/prefix; empty uses the config's.
            S3 credentials come from MLPIPE_S3_* environment variables (a Kubernetes Secret).
        serving_target: `none`, `deployment` or `kserve`; empty uses the config's.
        run_id: The pipeline run, recorded in the version's metadata.
        pushed_model: `push.json`: `{pushed, version, uri, reasons[], serving}`.
    """
    import json
    import os

    from components.atomic import atomic_write_text
    from components.config import load_config
    from components.push.core import push as run_push
    from components.registry import open_registry
    from components.runtime import setup_logging
    from components.serving import load_serving_names

    setup_logging()
    config = load_config(config_path, check_data=False)
    with open(os.path.join(blessing.path, "blessing.json")) as handle:
        model_blessing = json.load(handle)
    with open(os.path.join(infra_blessing.path, "infra_blessing.json")) as handle:
        infra = json.load(handle)
    result = run_push(
        config,
        model.path,
        model_blessing,
        infra,
        open_registry(registry_uri or config.resolve(config.registry.uri), os.environ),
        serving_target or config.serving.target,
        load_serving_names(),
        run_id=run_id,
    )
    os.makedirs(pushed_model.path, exist_ok=True)
    atomic_write_text(os.path.join(pushed_model.path, "push.json"), json.dumps(result, indent=2))
    pushed_model.metadata.update({"pushed": result["pushed"], "version": result["version"] or 0})
    pushed_model.metadata["summary"] = {"push": result}
