"""Compile the pipelines to KFP IR, and each stage to its `component.yaml`.

What is compiled must run in a pod that has nothing of this machine: the config travels as the
`config` run parameter and every location in it is an object-store URI (`check_for_cluster`),
checked before anything is written.
"""

from __future__ import annotations

from pathlib import Path

from mlpipe.config.dataset import DatasetConfig
from mlpipe.config.io import check_for_cluster

STAGES = (
    "ingest", "statistics", "schema", "validate", "tune", "train", "evaluate", "infra_validate", "push",
    "monitor", "retrain",
)  # fmt: skip
PIPELINES = ("training", "monitoring")
COMPONENTS_DIR = Path(__file__).resolve().parents[1] / "components"


def compile_pipeline(
    config: DatasetConfig, output: str | Path, for_cluster: bool = True, pipeline: str = "training"
) -> Path:
    """Compile the pipeline (`training` or `monitoring`) with `config` as the default of its
    `config` run parameter."""
    from kfp import compiler

    if for_cluster:
        check_for_cluster(config)
    if pipeline == "monitoring":
        from mlpipe.pipelines.monitoring import build_monitoring_pipeline

        pipeline = build_monitoring_pipeline(config)
    else:
        from mlpipe.pipelines.training import build_pipeline

        pipeline = build_pipeline(config, parallel_tuning=for_cluster)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(pipeline, str(output))
    return output


def compile_components(folder: str | Path = COMPONENTS_DIR) -> list[Path]:
    """Each stage's spec as `<folder>/<stage>/component.yaml`, for `load_component_from_file`."""
    import importlib

    from kfp import compiler

    written = []
    for stage in STAGES:
        module = importlib.import_module(f"mlpipe.components.{stage}.component")
        target = Path(folder) / stage / "component.yaml"
        target.parent.mkdir(parents=True, exist_ok=True)
        compiler.Compiler().compile(getattr(module, stage), str(target))
        written.append(target)
    return written
