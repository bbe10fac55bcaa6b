"""KFP wrapper of the ingest stage."""

from kfp import dsl
from kfp.dsl import Dataset, Output

from mlpipe.runtime.images import TF_IMAGE


@dsl.component(base_image=TF_IMAGE, install_kfp_package=False)
def ingest(config: dict, train_data: str, eval_data: str, examples: Output[Dataset]):
    """Read the dataset's CSV files and write them as tf.Examples.

    Args:
        config: Dataset config mapping (the run parameter): `data`, `csv`, `label`, `features`, `split`.
        train_data: Overrides the config's `data.train` (s3:// on a cluster); empty keeps it.
        eval_data: Overrides the config's `data.eval`; empty keeps it.
        examples: Directory with `Split-train/` and `Split-eval/`, GZIP TFRecord tf.Examples.
            Metadata: `train_rows`, `eval_rows`, `fingerprint` (sha256 of the input files).
    """
    import os

    from mlpipe.components.ingest.core import ingest as run_ingest
    from mlpipe.config.io import config_from_dict, with_overrides
    from mlpipe.runtime.logs import setup_logging

    setup_logging()
    dataset = with_overrides(config_from_dict(config), train=train_data, eval=eval_data)
    result = run_ingest(dataset, examples.path, os.environ)
    examples.metadata.update(
        {
            "train_rows": result.train_rows,
            "eval_rows": result.eval_rows,
            "fingerprint": result.fingerprint,
            "split_method": result.split_method,
            "summary": {"data": result.summary()},
        }
    )


@dsl.component(base_image=TF_IMAGE, install_kfp_package=False)
def ingest_batch(config: dict, batch: str, examples: Output[Dataset], rows: Output[Dataset]):
    """Read a batch of serving data (monitoring) and write it as tf.Examples.

    Args:
        config: Dataset config mapping (the run parameter): `csv`, `label`, `features`.
        batch: The batch: a CSV location (s3:// on a cluster); its label and some features may
            be missing (validation reports them).
        examples: `Split-batch/`, GZIP TFRecord tf.Examples. Metadata: `rows`.
        rows: The batch file itself, gzip (the monitoring history keeps it, labels join it).
    """
    import os

    from mlpipe.components.ingest.core import ingest_batch as run_ingest_batch
    from mlpipe.config.io import config_from_dict
    from mlpipe.runtime.logs import setup_logging

    setup_logging()
    count = run_ingest_batch(config_from_dict(config), batch, os.environ, examples.path, rows.path)
    examples.metadata.update({"rows": count, "figure": f"{count:,} rows"})
