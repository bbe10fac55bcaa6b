"""Folders to and from the object store, for training jobs whose pods share no disk with the step.

A TFJob's workers run in pods of their own: the train step puts the examples, schema and
hyperparameters under an `s3://` prefix, every worker downloads them, the chief uploads the
model there, and the step downloads it into its output artifact. Credentials come from the
environment (`mlpipe.storage.s3`), on the cluster from the registry's Secret.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from mlpipe.errors import UserInputError
from mlpipe.storage.s3 import client_from_env, reaching, split_uri


def upload_tree(folder: str | Path, destination: str, environ: Mapping[str, str] = os.environ) -> int:
    """Every file under `folder` to `destination/<relative path>`; returns the file count."""
    folder = Path(folder)
    bucket, prefix = split_uri(destination)
    client = client_from_env(environ)
    count = 0
    with reaching(environ, destination):
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            key = f"{prefix.rstrip('/')}/{path.relative_to(folder).as_posix()}".lstrip("/")
            client.fput_object(bucket, key, str(path))
            count += 1
    return count


def download_tree(source: str, folder: str | Path, environ: Mapping[str, str] = os.environ) -> int:
    """Every object under the `source` prefix into `folder`, keeping relative paths."""
    folder = Path(folder)
    bucket, prefix = split_uri(source)
    prefix = prefix.rstrip("/") + "/" if prefix else ""
    client = client_from_env(environ)
    count = 0
    with reaching(environ, source):
        for item in client.list_objects(bucket, prefix=prefix, recursive=True):
            relative = item.object_name[len(prefix) :]
            if not relative or ".." in Path(relative).parts:
                continue
            client.fget_object(bucket, item.object_name, str(folder / relative))
            count += 1
    if count == 0:
        raise UserInputError(f"nothing under {source}")
    return count


def remove_tree(prefix_uri: str, environ: Mapping[str, str] = os.environ) -> None:
    """Delete the staging prefix once the step has what it needs."""
    from minio.deleteobjects import DeleteObject

    bucket, prefix = split_uri(prefix_uri)
    client = client_from_env(environ)
    with reaching(environ, prefix_uri):
        names = [
            o.object_name
            for o in client.list_objects(bucket, prefix=prefix.rstrip("/") + "/", recursive=True)
        ]
        for error in client.remove_objects(bucket, [DeleteObject(n) for n in names]):
            raise UserInputError(f"cannot delete {error.name} under {prefix_uri}: {error.message}")
