"""KFP wrapper of the ingest stage."""

from kfp import dsl
from kfp.dsl import Dataset, Output

from components.images import TF_IMAGE


@dsl.component(base_image=TF_IMAGE, install_kfp_package=False)
def ingest(config_path: str, train_data: str, eval_data: str, examples: Output[Dataset]):
    """Read the dataset's CSV files and write them as tf.Examples.

    Args:
        config_path: Dataset config YAML (a path inside the image on a cluster).
        train_data: Overrides the config's train location (local path or s3://); empty keeps it.
        eval_data: Overrides the config's eval location; empty keeps it.
        examples: Directory with `Split-train/` and `Split-eval/`, GZIP TFRecord tf.Examples.
            Metadata: `train_rows`, `eval_rows`, `fingerprint` (sha256 of the input files).
    """
    import os

    from components.config import load_config, with_data_overrides
    from components.ingest.core import ingest as run_ingest
    from components.runtime import setup_logging

    setup_logging()
    config = with_data_overrides(load_config(config_path), train_data, eval_data)
    result = run_ingest(config, examples.path, os.environ)
    examples.metadata.update(
        {
            "train_rows": result.train_rows,
            "eval_rows": result.eval_rows,
            "fingerprint": result.fingerprint,
            "split_method": result.split_method,
            "summary": {"data": result.summary()},
        }
    )
