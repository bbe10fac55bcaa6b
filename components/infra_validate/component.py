"""KFP wrapper of the infra_validate stage."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Model, Output

from mlpipe.runtime.images import TF_IMAGE


@dsl.component(base_image=TF_IMAGE, install_kfp_package=False)
def infra_validate(
    config: dict,
    model: Input[Model],
    examples: Input[Dataset],
    infra_blessing: Output[Artifact],
    metrics: Output[Metrics],
):
    """Load the SavedModel in a fresh process and send canary requests through both signatures.

    Args:
        config: Dataset config mapping (the run parameter): feature lists for the canaries).
        model: The trained model (`saved_model/`).
        examples: Ingested examples; canaries are eval rows with every feature present.
        infra_blessing: `infra_blessing.json`: `{blessed, reasons[], latency, canaries}`.
        metrics: Latency p50/p99 in milliseconds at batch 1 and batch 64, and model load seconds.
    """
    import json
    import os

    from mlpipe.components.infra_validate.core import infra_validate as run_infra_validate
    from mlpipe.config.io import config_from_dict
    from mlpipe.runtime.logs import setup_logging
    from mlpipe.storage.atomic import atomic_write_text

    setup_logging()
    result = run_infra_validate(config_from_dict(config), model.path, examples.path)
    os.makedirs(infra_blessing.path, exist_ok=True)
    atomic_write_text(os.path.join(infra_blessing.path, "infra_blessing.json"), json.dumps(result, indent=2))
    for key, value in result["latency"].items():
        metrics.log_metric(key, value)
    if "load_seconds" in result:
        metrics.log_metric("load_seconds", result["load_seconds"])
    infra_blessing.metadata["blessed"] = result["blessed"]
    infra_blessing.metadata["summary"] = {"infra": result}
