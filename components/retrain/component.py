"""KFP wrapper of the retrain stage: act on the monitor's decision."""

from kfp import dsl
from kfp.dsl import Artifact, Input, Output

from mlpipe.runtime.images import PUSH_IMAGE


@dsl.component(base_image=PUSH_IMAGE, install_kfp_package=False)
def retrain(
    config: dict, record: Input[Artifact], kfp_host: str, training_pipeline: str, action: Output[Artifact]
):
    """Submit a training run when the monitor decided to retrain (`monitoring.retrain: auto`), or
    record the decision (`manual`).

    Args:
        config: Dataset config mapping (the run parameter): `monitoring.retrain`, the training
            data and `registry.uri` (where the retraining data is written, s3://).
        record: The monitor stage's `record.json` (its `decision`).
        kfp_host: The KFP API endpoint the training run is submitted to (the in-cluster one by
            default); the pod's own ServiceAccount token authenticates. Empty: record only.
        training_pipeline: The training pipeline's compiled IR (YAML, gzip, base64), submitted
            as it is.
        action: `action.json`: `{action: none|recorded|submitted, reasons, run}`.
    """
    import base64
    import gzip
    import json
    import os
    import tempfile
    from pathlib import Path

    from mlpipe.components.retrain.core import act
    from mlpipe.config.io import config_from_dict
    from mlpipe.runtime.logs import setup_logging
    from mlpipe.storage.atomic import atomic_write_text

    setup_logging()
    with open(os.path.join(record.path, "record.json")) as handle:
        monitored = json.load(handle)
    with tempfile.TemporaryDirectory() as tmp:
        package = Path(tmp) / "training_pipeline.yaml"
        package.write_bytes(gzip.decompress(base64.b64decode(training_pipeline)))
        result = act(config_from_dict(config), monitored, os.environ, kfp_host, Path(tmp), package)
    os.makedirs(action.path, exist_ok=True)
    atomic_write_text(os.path.join(action.path, "action.json"), json.dumps(result, indent=2))
    action.metadata.update(
        {"action": result["action"], "run": result["run"] or "", "figure": result["run"] or result["action"]}
    )
