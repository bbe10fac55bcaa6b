"""TF Serving's REST request and response shapes, for the `kserve-python` runtime (server.py):
rows (`instances`) or columns (`inputs`) in, `predictions` or `outputs` back, as TF Serving
answers them, so a client cannot tell the two runtimes apart.

Needs TensorFlow and numpy only.
"""

from __future__ import annotations

from typing import Any


def _columns(specs: dict, payload: dict) -> dict[str, list]:
    if "instances" in payload:
        rows = payload["instances"]
        if not isinstance(rows, list) or not rows:
            raise ValueError("'instances' must be a non-empty list of rows")
        if len(specs) == 1 and not isinstance(rows[0], dict):
            return {next(iter(specs)): rows}
        missing = sorted({name for name in specs for row in rows if name not in row})
        if missing:
            raise ValueError(f"every instance needs the inputs {sorted(specs)}; missing: {missing}")
        return {name: [row[name] for row in rows] for name in specs}
    if "inputs" in payload:
        columns = payload["inputs"]
        if len(specs) == 1 and not isinstance(columns, dict):
            return {next(iter(specs)): columns}
        missing = sorted(set(specs) - set(columns))
        if missing:
            raise ValueError(f"'inputs' needs {sorted(specs)}; missing: {missing}")
        return {name: columns[name] for name in specs}
    raise ValueError("the request needs 'instances' (rows) or 'inputs' (columns)")


def batch_inputs(specs: dict, payload: dict) -> dict[str, Any]:
    """One tensor per signature input, with the input's dtype and rank (a row's scalar becomes
    `[n, 1]` where the signature takes `[None, 1]`)."""
    import tensorflow as tf

    tensors = {}
    for name, values in _columns(specs, payload).items():
        spec = specs[name]
        try:
            tensor = tf.constant(values, dtype=spec.dtype)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"input {name!r}: cannot make a {spec.dtype.name} tensor ({exc})") from exc
        rank = spec.shape.rank
        if rank is not None and tensor.shape.rank == rank - 1:
            tensor = tf.expand_dims(tensor, -1)
        tensors[name] = tensor
    return tensors


def _text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _plain(value) -> Any:
    """JSON-ready: numpy arrays as lists, byte strings as text (as TF Serving answers them)."""
    if getattr(value, "dtype", None) is not None and value.dtype.kind in "OS":
        import numpy as np

        return np.vectorize(_text, otypes=[object])(value).tolist()
    return value.tolist() if hasattr(value, "tolist") else _text(value)


def predictions(outputs: dict[str, Any], payload: dict) -> dict:
    """TF Serving's answer: rows in, `predictions` (one value per row, or one dict per row where
    the signature has several outputs); columns in, `outputs`."""
    plain = {key: _plain(value) for key, value in outputs.items()}
    if "inputs" in payload:
        return {"outputs": next(iter(plain.values())) if len(plain) == 1 else plain}
    if len(plain) == 1:
        return {"predictions": next(iter(plain.values()))}
    rows = len(next(iter(plain.values())))
    return {"predictions": [{key: column[i] for key, column in plain.items()} for i in range(rows)]}
