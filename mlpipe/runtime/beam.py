"""Beam pipeline options from the config's `beam` section, for every Beam-based stage.

One place turns `beam.runner` and `beam.options` into `PipelineOptions`, so ingest,
statistics and evaluate run on the same runner with the same flags.
"""

from __future__ import annotations

import os

from mlpipe.config.dataset import BeamConfig, DatasetConfig


def beam_args(beam: BeamConfig, small: bool = False) -> list[str]:
    """The command-line flags; `small` (an input under `in_memory_max_bytes`) runs DirectRunner in
    process with one worker, since starting worker processes costs more than they save there."""
    options = dict(beam.options)
    if beam.runner == "DirectRunner":
        if small:
            options = {**options, "direct_running_mode": "in_memory", "direct_num_workers": 1}
        else:
            options.setdefault("direct_running_mode", "multi_processing")
            options.setdefault("direct_num_workers", os.cpu_count() or 1)
    else:
        # The portable runner watches a job through gRPC streams that carry this deadline
        # (default 300 s): a longer job fails with DEADLINE_EXCEEDED (seen with TFMA on 300k rows).
        options.setdefault("job_server_timeout", 7 * 24 * 3600)
    if beam.runner == "PrismRunner":
        # Python SDK workers in the submitting process's environment (no Docker image).
        options.setdefault("environment_type", "LOOPBACK")
    # Beam 2.72's DirectRunner first tries Prism, downloading it from GitHub (offline: a failed
    # fetch per pipeline, and a broken Prism server cached for the process); its batch engine,
    # the FnApiRunner, is what runs the pipeline in the end and what honours the two flags above.
    args = [f"--runner={'FnApiRunner' if beam.runner == 'DirectRunner' else beam.runner}"]
    for name, value in options.items():
        if isinstance(value, bool):  # Beam's boolean flags are switches
            args += [f"--{name}"] if value else []
        else:
            args.append(f"--{name}={value}")
    return args


def beam_options(config: DatasetConfig | BeamConfig, small: bool = False):
    """`PipelineOptions` for a stage (see `beam_args`)."""
    from apache_beam.options.pipeline_options import PipelineOptions

    beam = config.beam if isinstance(config, DatasetConfig) else config
    return PipelineOptions(beam_args(beam, small))


def data_size(path) -> int:
    """Bytes of a file's data: a gzip file's uncompressed size (its trailer, modulo 4 GiB, so
    never less than the compressed size), else the file's size."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        if size < 18 or f.read(2) != b"\x1f\x8b":
            return size
        f.seek(-4, os.SEEK_END)
        return max(size, int.from_bytes(f.read(4), "little"))


def is_small(paths, beam: BeamConfig) -> bool:
    """Whether the input files (their data, uncompressed) fit the in-memory path."""
    return sum(data_size(p) for p in paths) <= beam.in_memory_max_bytes
