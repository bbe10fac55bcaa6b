"""Runs in a fresh process, as a model server would: load the SavedModel, send canaries, time them.

Usage: python -m mlpipe.components.infra_validate.probe SAVED_MODEL CANARIES.json OUT.json
"""

from __future__ import annotations

import json
import sys
import time


def main(saved_model: str, canaries_path: str, out_path: str) -> None:
    import numpy as np
    import tensorflow as tf

    canaries = json.loads(open(canaries_path).read())
    started = time.perf_counter()
    model = tf.saved_model.load(saved_model)
    load_seconds = time.perf_counter() - started
    examples = [bytes.fromhex(e) for e in canaries["examples"]]
    raw_spec = model.signatures["serving_raw"].structured_input_signature[1]
    raw = {name: tf.constant(values, dtype=raw_spec[name].dtype) for name, values in canaries["raw"].items()}
    by_example = model.signatures["serving_default"](examples=tf.constant(examples))
    by_raw = model.signatures["serving_raw"](**raw)
    result = {"load_seconds": load_seconds, "signatures": sorted(model.signatures.keys())}
    for name, outputs in (("serving_default", by_example), ("serving_raw", by_raw)):
        (key,) = outputs.keys()
        values = outputs[key].numpy()
        result[name] = {
            "output_key": key,
            "shape": list(values.shape),
            "values": values.astype(float).tolist(),
        }
    latency = {}
    for batch in (1, 64):
        batch_examples = tf.constant((examples * (batch // len(examples) + 1))[:batch])
        model.signatures["serving_default"](examples=batch_examples)  # warm up
        timings = []
        for _ in range(200 if batch == 1 else 50):
            start = time.perf_counter()
            model.signatures["serving_default"](examples=batch_examples)
            timings.append((time.perf_counter() - start) * 1000)
        latency[f"batch_{batch}_p50_ms"] = float(np.percentile(timings, 50))
        latency[f"batch_{batch}_p99_ms"] = float(np.percentile(timings, 99))
    result["latency"] = latency
    with open(out_path, "w") as handle:
        json.dump(result, handle)


if __name__ == "__main__":
    main(*sys.argv[1:4])
