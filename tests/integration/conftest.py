"""The `backend` fixture: every registry test runs on a directory and on a real MinIO bucket."""

from __future__ import annotations

import uuid

import pytest
from registry_backends import BACKENDS, Backend

from mlpipe.registry.access import S3Registry, open_registry


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path) -> Backend:
    if request.param == "local":
        uri = str(tmp_path / "registry")
        return Backend(kind="local", uri=uri, registry=open_registry(uri, {}), environ={})
    server = request.getfixturevalue("s3_server")
    bucket = f"registry-{uuid.uuid4().hex[:12]}"
    server.client().make_bucket(bucket)
    uri = f"s3://{bucket}/team-a"
    environ = server.environ()
    registry = open_registry(uri, environ)
    assert isinstance(registry, S3Registry)
    return Backend(kind="s3", uri=uri, registry=registry, environ=environ)
