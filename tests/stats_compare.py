"""Comparing TFDV statistics protos from two paths or runners, numbers up to a tolerance."""

from __future__ import annotations

import math


def stats_differences(a, b, rel: float = 1e-6, abs_: float = 1e-6) -> list[str]:
    """Where two `DatasetFeatureStatisticsList`s differ: every field compared, floats up to `rel`
    (sums over shards add in a different order); an empty list when they agree."""
    from google.protobuf.json_format import MessageToDict

    def walk(x, y, where: str, out: list[str]) -> None:
        if isinstance(x, dict) and isinstance(y, dict):
            for key in sorted(set(x) | set(y)):
                walk(x.get(key), y.get(key), f"{where}.{key}", out)
        elif isinstance(x, list) and isinstance(y, list):
            if len(x) != len(y):
                out.append(f"{where}: {len(x)} vs {len(y)} items")
            for i, (u, v) in enumerate(zip(x, y, strict=False)):
                walk(u, v, f"{where}[{i}]", out)
        elif isinstance(x, float | int) and isinstance(y, float | int) and not isinstance(x, bool):
            if not math.isclose(x, y, rel_tol=rel, abs_tol=abs_):
                out.append(f"{where}: {x} vs {y}")
        elif isinstance(x, str) and isinstance(y, str) and _number(x) is not None and _number(y) is not None:
            walk(_number(x), _number(y), where, out)  # int64 fields come out as strings
        elif x != y:
            out.append(f"{where}: {x!r} vs {y!r}")

    def by_name(stats) -> dict:
        d = MessageToDict(stats, preserving_proto_field_name=True)
        for dataset in d.get("datasets", []):
            dataset.pop("name", None)
            dataset["features"] = {f["path"]["step"][0]: f for f in dataset.get("features", [])}
        return d

    out: list[str] = []
    walk(by_name(a), by_name(b), "stats", out)
    return out


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
