"""Names and object keys never lead a read or write out of its root; an object store that cannot be
reached, or a name it refuses, is one line naming the endpoint and location (exit 2 from the CLI)."""

from __future__ import annotations

import io
import socket
import types
from pathlib import Path

import pytest

from mlpipe.cli.main import main
from mlpipe.components.ingest.core import ingest
from mlpipe.config.io import load_config
from mlpipe.errors import UserInputError
from mlpipe.registry.local import LocalRegistry
from mlpipe.registry.s3 import S3Registry

ESCAPES = ["../x", "..", "../../etc", "a/b", "/abs", "", ".", "x/../../y", "Adult", "a\\..", "a\x00"]


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _model(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(b"model")
    return folder


@pytest.mark.parametrize("name", ESCAPES)
def test_local_registry_refuses_names_that_leave_its_root(tmp_path, name):
    root = tmp_path / "area" / "registry"
    registry = LocalRegistry(root)
    version = registry.publish("adult_income", _model(tmp_path / "model"), {"blessed": True})
    before = _tree(tmp_path)
    calls = [
        lambda: registry.publish(name, tmp_path / "model", {"blessed": True}),
        lambda: registry.versions(name),
        lambda: registry.metadata(name, version),
        lambda: registry.local_copy(name, version),
        lambda: registry.uri(name, version),
        lambda: registry.serving_version(name),
        lambda: registry.set_serving(name, version),
        lambda: registry.attachment("adult_income", version, name),
        lambda: registry.publish("adult_income", tmp_path / "model", {}, {name: tmp_path / "model"}),
    ]
    for call in calls:
        with pytest.raises(UserInputError, match="must be lower-case letters") as info:
            call()
        assert repr(name) in str(info.value) and "\n" not in str(info.value)
    assert _tree(tmp_path) == before  # nothing written anywhere


@pytest.mark.parametrize("version", [-1, "1", "../1", 1.0, True])
def test_registry_versions_are_whole_numbers(tmp_path, version):
    registry = LocalRegistry(tmp_path / "registry")
    with pytest.raises(UserInputError, match="registry version"):
        registry.metadata("adult_income", version)
    with pytest.raises(UserInputError, match="registry version"):
        S3Registry("s3://bucket/prefix", client=None).uri("adult_income", version)


def test_local_registry_refuses_a_model_folder_linked_outside_the_root(tmp_path):
    root = tmp_path / "registry"
    root.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (root / "adult_income").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UserInputError, match="leads outside the registry root"):
        LocalRegistry(root).publish("adult_income", _model(tmp_path / "model"), {})
    assert not list((tmp_path / "elsewhere").iterdir())


class _Bucket:
    """The minio calls S3Registry makes, over a dict of keys (S3 keys may hold `..`)."""

    def __init__(self, objects: dict[str, bytes]):
        self.objects = objects

    def get_object(self, bucket, key):
        body = io.BytesIO(self.objects[key])
        return types.SimpleNamespace(read=body.read, close=lambda: None, release_conn=lambda: None)

    def list_objects(self, bucket, prefix="", recursive=False):
        return [types.SimpleNamespace(object_name=k) for k in sorted(self.objects) if k.startswith(prefix)]

    def fget_object(self, bucket, key, path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(self.objects[key])


@pytest.mark.parametrize(
    "evil",
    [
        "../../escaped.txt",
        "../1-evil/x",
        "a/../../../escaped.txt",
        "/etc/escaped",
        "./x",
        "a//b",
        "..",
        "x/..",
    ],
)
@pytest.mark.parametrize("what", ["local_copy", "attachment"])
def test_s3_download_refuses_keys_that_leave_the_temporary_directory(tmp_path, monkeypatch, evil, what):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    folder = (
        "reg/adult_income/1/1/" if what == "local_copy" else "reg/adult_income/_attachments/1/statistics/"
    )
    bucket = _Bucket(
        {
            "reg/adult_income/_published/1.json": b'{"version": 1}',
            folder + "saved_model.pb": b"model",
            folder + evil: b"evil",
        }
    )
    registry = S3Registry("s3://models/reg", bucket)
    with pytest.raises(UserInputError, match="would be written outside its folder") as info:
        if what == "local_copy":
            registry.local_copy("adult_income", 1)
        else:
            registry.attachment("adult_income", 1, "statistics")
    assert repr(folder + evil) in str(info.value)
    assert _tree(tmp_path) == {"tmp"}  # nothing written, the temporary directory removed


def test_s3_download_keeps_folders_and_skips_folder_markers(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    prefix = "adult_income/1/1/"  # the serving prefix 1/ holds the SavedModel folder 1/
    bucket = _Bucket(
        {
            "adult_income/_published/1.json": b"{}",
            prefix + "variables/": b"",
            prefix + "variables/variables.index": b"i",
            prefix + "saved_model.pb": b"m",
        }
    )
    local = S3Registry("s3://models", bucket).local_copy("adult_income", 1)
    assert _tree(local) == {"saved_model.pb", "variables", "variables/variables.index"}


@pytest.mark.parametrize("key", ["adult/", "", "adult/.."])
def test_an_s3_data_location_must_name_an_object(tmp_path, adult_subsample, key):
    sample = adult_subsample(tmp_path / "data", 20, 20)
    config = load_config(sample.config)
    location = f"s3://bucket/{key}"
    with pytest.raises(UserInputError, match="names no object") as info:
        ingest(config, tmp_path / "out", environ={}, sources={"train": location})
    assert location in str(info.value)
    assert not (tmp_path / "out").exists()


# --- an object store that cannot be reached -----------------------------------------------------


def _closed_endpoint() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"  # nothing listens there once closed


def _environ(endpoint: str) -> dict[str, str]:
    return {"MLPIPE_S3_ENDPOINT": endpoint, "MLPIPE_S3_ACCESS_KEY": "a", "MLPIPE_S3_SECRET_KEY": "b"}


def test_unreachable_endpoint_fails_ingest_naming_endpoint_and_location(tmp_path, adult_subsample):
    sample = adult_subsample(tmp_path / "data", 20, 20)
    config = load_config(sample.config)
    endpoint = _closed_endpoint()
    location = "s3://datasets/adult/adult.test.csv.gz"
    with pytest.raises(UserInputError, match="cannot reach the object store") as info:
        ingest(config, tmp_path / "out", environ=_environ(endpoint), sources={"eval": location})
    message = str(info.value)
    assert endpoint in message and location in message and "\n" not in message
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["models", "--registry", "s3://models/reg"], "cannot reach the object store at {endpoint}"),
        (["upload", "README.md", "s3://x/data/"], "s3://x/data/: invalid bucket name x"),
        (["models", "--registry", "s3://models/reg"], "MLPIPE_S3_ENDPOINT 'http://h:1/path' is not a valid"),
    ],
)
def test_cli_object_store_errors_exit_2_with_one_line(capsys, monkeypatch, repo_root, argv, expected):
    endpoint = "http://h:1/path" if "not a valid" in expected else _closed_endpoint()
    for key, value in _environ(endpoint).items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(repo_root)
    assert main(argv) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in err
    assert expected.format(endpoint=endpoint) in errors[0]
