"""The `beam` config section: defaults, options passed through, minimal validation."""

from __future__ import annotations

import os

import pytest

from mlpipe.config.dataset import BeamConfig, DatasetConfig
from mlpipe.config.io import load_config
from mlpipe.runtime.beam import beam_args, beam_options


def test_default_is_direct_runner_multi_processing_one_worker_per_core():
    args = beam_args(BeamConfig())
    assert args == [
        "--runner=FnApiRunner",
        "--direct_running_mode=multi_processing",
        f"--direct_num_workers={os.cpu_count()}",
    ]
    assert beam_args(BeamConfig(), small=True)[1:] == [
        "--direct_running_mode=in_memory",
        "--direct_num_workers=1",
    ]


def test_runner_options_pass_through():
    flink = BeamConfig(runner="FlinkRunner", options={"flink_master": "flink:8081", "parallelism": 8})
    options = beam_options(flink).get_all_options()
    assert (options["runner"], options["flink_master"], options["parallelism"]) == (
        "FlinkRunner",
        "flink:8081",
        8,
    )
    prism = beam_args(
        BeamConfig(runner="PrismRunner", options={"prism_location": "/p", "save_main_session": True})
    )
    assert prism == [
        "--runner=PrismRunner",
        "--prism_location=/p",
        "--save_main_session",
        "--job_server_timeout=604800",  # Beam's 300 s would end any longer job
        "--environment_type=LOOPBACK",
    ]


@pytest.mark.parametrize(
    ("beam", "message"),
    [
        (
            {"runner": "DataflowRunner", "options": {"project": "p", "region": "r"}},
            "needs option 'temp_location'",
        ),
        ({"options": {"--runner": "x"}}, "without dashes"),
        ({"runner": "NoSuchRunner"}, "beam.runner"),
    ],
)
def test_bad_beam_sections_fail_on_load(adult, beam, message):
    raw = load_config(adult.config).model_dump()
    with pytest.raises(Exception, match=message):
        DatasetConfig.model_validate({**raw, "beam": beam})


def test_size_of_gzip_data_is_uncompressed(tmp_path):
    import gzip

    from mlpipe.runtime.beam import data_size, is_small

    plain, packed = tmp_path / "a.csv", tmp_path / "a.csv.gz"
    plain.write_bytes(b"x,y\n" * 10_000)
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert data_size(packed) == data_size(plain) == 40_000 > packed.stat().st_size
    assert is_small([packed], BeamConfig(in_memory_max_bytes=40_000))
    assert not is_small([packed], BeamConfig(in_memory_max_bytes=39_999))
