"""Time registry publishes to a real MinIO started here (tests/servers.py MinioServer).

    .venv/bin/python benchmarks/registry_push.py [--model SAVED_MODEL_DIR] [--repeats 10] [--concurrent 6]

Without --model, publishes a folder shaped like the Adult SavedModel that `make run` trains
(saved_model.pb 305 KB, variables 72 KB + index, fingerprint.pb: 4 files, ~380 KB); with it,
the given folder (e.g. runs/latest/artifacts/*/train/model/saved_model). Prints the serial
publish time (median, min, max of --repeats) and, for --concurrent processes publishing at
once, the wall time, each push's time and the versions they got (all distinct).
MinIO comes from `scripts/build-test-servers.sh minio` (~/.cache/mlpipe).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
ADULT_SHAPE = {
    "saved_model.pb": 305_169,
    "fingerprint.pb": 57,
    "variables/variables.index": 1_310,
    "variables/variables.data-00000-of-00001": 72_097,
}


def adult_shaped(folder: Path) -> Path:
    for name, size in ADULT_SHAPE.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(os.urandom(size))
    return folder


def one_push(uri: str, environ: dict, model: str, barrier) -> tuple[int, float]:
    from mlpipe.registry.access import open_registry

    registry = open_registry(uri, environ)
    barrier.wait()
    start = time.perf_counter()
    version = registry.publish("adult_income", model, {"blessed": True})
    return version, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--concurrent", type=int, default=6)
    args = parser.parse_args()

    from minio import Minio
    from servers import MinioServer

    from mlpipe.registry.access import open_registry

    binary = (
        subprocess.run(
            ["bash", str(REPO / "scripts" / "build-test-servers.sh"), "minio"],
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.split("\t")[-1]
        .strip()
    )
    work = Path(tempfile.mkdtemp(prefix="mlpipe-bench-"))
    server = MinioServer(binary, work / "minio")
    try:
        Minio(server.endpoint, server.access_key, server.secret_key, secure=False).make_bucket("models")
        environ = {
            "MLPIPE_S3_ENDPOINT": server.endpoint,
            "MLPIPE_S3_ACCESS_KEY": server.access_key,
            "MLPIPE_S3_SECRET_KEY": server.secret_key,
        }
        model = args.model or adult_shaped(work / "saved_model")
        files = [p for p in model.rglob("*") if p.is_file()]
        size = sum(p.stat().st_size for p in files)
        print(
            f"model: {model} ({len(files)} files, {size / 1e6:.2f} MB); MinIO at {server.endpoint}, cpus={os.cpu_count()}"
        )
        registry = open_registry("s3://models", environ)
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            registry.publish("adult_income", model, {"blessed": True})
            times.append(time.perf_counter() - start)
        print(
            f"serial publish x{args.repeats}: median {statistics.median(times):.3f} s, "
            f"min {min(times):.3f} s, max {max(times):.3f} s"
        )
        context = multiprocessing.get_context("spawn")
        barrier = context.Manager().Barrier(args.concurrent)
        with context.Pool(args.concurrent) as pool:
            start = time.perf_counter()
            results = pool.starmap(
                one_push, [("s3://models", environ, str(model), barrier)] * args.concurrent
            )
        wall = time.perf_counter() - start  # includes the pool's start-up until the barrier
        versions = sorted(v for v, _ in results)
        per = [s for _, s in results]
        assert len(set(versions)) == len(versions), f"duplicate versions: {versions}"
        print(
            f"{args.concurrent} concurrent publishes: wall {wall:.2f} s (incl. process start), slowest push "
            f"{max(per):.3f} s, per push median {statistics.median(per):.3f} s "
            f"[{', '.join(f'{s:.3f}' for s in sorted(per))}], versions {versions}"
        )
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
