"""KFP wrapper of the statistics stage."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Output

from mlpipe.runtime.images import TF_IMAGE


@dsl.component(base_image=TF_IMAGE, install_kfp_package=False)
def statistics(
    config: dict, examples: Input[Dataset], statistics: Output[Artifact], statistics_html: Output[HTML]
):
    """Compute TFDV statistics of every split.

    Args:
        config: Dataset config mapping (the run parameter): its `beam` runner and options.
        examples: Ingested examples (`Split-<name>/` folders of GZIP TFRecords).
        statistics: `Split-<name>/FeatureStats.pb`, binary `DatasetFeatureStatisticsList` per split.
            Metadata: example count per split.
        statistics_html: TFDV's statistics view (train vs eval), renders in the KFP UI.
    """
    from mlpipe.components.statistics.core import compute_statistics, write_html
    from mlpipe.config.io import config_from_dict
    from mlpipe.runtime.logs import setup_logging

    setup_logging()
    counts = compute_statistics(examples.path, statistics.path, beam=config_from_dict(config).beam)
    write_html(statistics.path, statistics_html.path)
    statistics.metadata.update({f"{split}_examples": n for split, n in counts.items()})
    statistics.metadata["summary"] = {
        "artifacts": {"statistics": statistics.path, "statistics_html": statistics_html.path}
    }
