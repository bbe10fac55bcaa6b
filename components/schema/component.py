"""KFP wrapper of the schema stage."""

from kfp import dsl
from kfp.dsl import Artifact, Input, Output

from components.images import TF_IMAGE


@dsl.component(base_image=TF_IMAGE, install_kfp_package=False)
def schema(config_path: str, statistics: Input[Artifact], schema: Output[Artifact]):
    """Import the curated schema named in the config, or infer one from the train statistics.

    Args:
        config_path: Dataset config YAML; its `schema_path` names the curated schema.
        statistics: Statistics per split from the statistics stage.
        schema: `schema.pbtxt`, a TFDV Schema with TRAINING and SERVING environments.
            Metadata: `origin` (`curated:<path>` or `inferred`).
    """
    from components.artifacts import load_statistics
    from components.config import load_config
    from components.runtime import setup_logging
    from components.schema.core import resolve_schema

    setup_logging()
    origin = resolve_schema(
        load_config(config_path, check_data=False),
        load_statistics(statistics.path, "train"),
        schema.path,
    )
    schema.metadata["origin"] = origin
