"""KFP wrapper of the schema stage."""

from kfp import dsl
from kfp.dsl import Artifact, Input, Output

from mlpipe.runtime.images import TF_IMAGE


@dsl.component(base_image=TF_IMAGE, install_kfp_package=False)
def schema(config: dict, statistics: Input[Artifact], schema: Output[Artifact]):
    """Import the curated schema named in the config, or infer one from the train statistics.

    Args:
        config: Dataset config mapping (the run parameter): its `schema_path` names the curated schema.
        statistics: Statistics per split from the statistics stage.
        schema: `schema.pbtxt`, a TFDV Schema with TRAINING and SERVING environments.
            Metadata: `origin` (`curated:<path>` or `inferred`).
    """
    from mlpipe.components.schema.core import resolve_schema
    from mlpipe.config.io import config_from_dict
    from mlpipe.data.artifacts import load_statistics
    from mlpipe.runtime.logs import setup_logging

    setup_logging()
    origin = resolve_schema(
        config_from_dict(config),
        load_statistics(statistics.path, "train"),
        schema.path,
    )
    schema.metadata["origin"] = origin
