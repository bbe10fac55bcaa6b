"""The pipeline's data stages in the project's images through kfp.local's DockerRunner.

ingest -> statistics -> schema -> validate runs once in containers and once as
subprocesses on the same Adult subsample; both must produce the same outputs.
The full pipeline in containers is measured by benchmarks/docker_vs_subprocess.py.
"""

import gzip
from pathlib import Path

import pytest
from kfp import dsl

from components.ingest.component import ingest
from components.schema.component import schema
from components.statistics.component import statistics
from components.validate.component import validate
from pipelines.local_run import REPO_ROOT, run_pipeline

from .dockerutil import Images

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1800)]


@dsl.pipeline(name="data-stages")
def data_stages(config_path: str, train_data: str, eval_data: str):
    examples = ingest(config_path=config_path, train_data=train_data, eval_data=eval_data).outputs["examples"]
    stats = statistics(examples=examples).outputs["statistics"]
    inferred = schema(config_path=config_path, statistics=stats).outputs["schema"]
    validate(config_path=config_path, statistics=stats, schema=inferred, baseline_statistics="")


def _subsample(source: Path, target: Path, rows: int) -> str:
    lines = gzip.open(source, "rt").read().splitlines()[: rows + 1]
    target.write_text("\n".join(lines) + "\n")
    return str(target)


def _statistics(summary: dict) -> dict[str, tuple]:
    from components.artifacts import load_statistics

    out = {}
    for split in ("train", "eval"):
        dataset = load_statistics(summary["artifacts"]["statistics"], split).datasets[0]
        means = {
            f.path.step[0]: round(f.num_stats.mean, 5) for f in dataset.features if f.HasField("num_stats")
        }
        uniques = {
            f.path.step[0]: f.string_stats.unique for f in dataset.features if f.HasField("string_stats")
        }
        out[split] = (dataset.num_examples, means, uniques)
    return out


def test_data_stages_in_containers_match_subprocess(images: Images, tmp_path: Path) -> None:
    summaries = {}
    for runner in ("docker", "subprocess"):
        root = tmp_path / runner
        inputs = root / "inputs"
        inputs.mkdir(parents=True)
        arguments = {
            "train_data": _subsample(REPO_ROOT / "data/adult/adult.data.csv.gz", inputs / "train.csv", 3000),
            "eval_data": _subsample(REPO_ROOT / "data/adult/adult.test.csv.gz", inputs / "eval.csv", 1500),
        }
        summary, _ = run_pipeline(
            str(REPO_ROOT / "configs/adult.yaml"), root, runner, arguments, pipeline=data_stages
        )
        assert summary["status"] == "succeeded", summary["error"]
        assert [s["name"] for s in summary["stages"]] == ["ingest", "statistics", "schema", "validate"]
        summaries[runner] = summary

    docker, local = summaries["docker"], summaries["subprocess"]
    assert docker["runner"] == "docker"
    assert docker["data"] == local["data"]
    assert docker["data"]["train_rows"] == 3000 and docker["data"]["eval_rows"] == 1500
    assert docker["anomalies"] == local["anomalies"] == []
    assert docker["validation"] == local["validation"]
    assert _statistics(docker) == _statistics(local)
    # The container's artifacts were written by the image's non-root user into the mounted runs root.
    assert Path(docker["artifacts"]["statistics_html"]).stat().st_uid == 1000
