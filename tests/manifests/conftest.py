"""Render the kustomize trees once per session with `kubectl kustomize` (offline, no cluster)."""

from __future__ import annotations

import pytest

from .objects import KUSTOMIZATIONS, kustomize


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict]]:
    """Rendered objects per kustomization: `base` and each overlay."""
    return {name: kustomize(path) for name, path in KUSTOMIZATIONS.items()}
