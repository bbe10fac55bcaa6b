"""Ingest from `s3://` locations against a real S3-protocol server (moto) through the minio client."""

from __future__ import annotations

import io

import pytest

from mlpipe.components.ingest.core import ingest
from mlpipe.config.io import load_config
from mlpipe.data.tfrecord import read_records, split_files
from mlpipe.errors import UserInputError

pytestmark = pytest.mark.s3

BUCKET = "mlpipe-data"
TRAIN_KEY = "adult/v1/adult.data.csv.gz"
EVAL_KEY = "adult/v1/test/adult.test.csv.gz"


@pytest.fixture(scope="module")
def bucket(s3_server, adult):
    """The real Adult files uploaded to a bucket on the server."""
    client = s3_server.client()
    if not client.bucket_exists(BUCKET):
        client.make_bucket(BUCKET)
    for key, path in ((TRAIN_KEY, adult.train), (EVAL_KEY, adult.test)):
        data = path.read_bytes()
        client.put_object(BUCKET, key, io.BytesIO(data), length=len(data))
    return BUCKET


@pytest.fixture(scope="module")
def local_result(tmp_path_factory, adult):
    config = load_config(adult.config)
    return ingest(config, tmp_path_factory.mktemp("local") / "examples", environ={})


def _s3_config(tmp_path, write_config, train=f"s3://{BUCKET}/{TRAIN_KEY}", eval=f"s3://{BUCKET}/{EVAL_KEY}"):
    return load_config(write_config(tmp_path, {"data": {"train": train, "eval": eval}}))


def _assert_secret_absent(secret: str, *texts: str, folder=None) -> None:
    for text in texts:
        assert secret not in text
    if folder is not None and folder.exists():
        for path in folder.rglob("*"):
            if path.is_file():
                raw = path.read_bytes()
                assert secret.encode() not in raw, path
                if path.suffix == ".gz":
                    import gzip

                    assert secret.encode() not in gzip.decompress(raw), path


def test_ingest_from_s3_matches_local(tmp_path, s3_server, bucket, write_config, local_result, caplog):
    config = _s3_config(tmp_path, write_config)
    assert config.data.train == f"s3://{bucket}/{TRAIN_KEY}"
    out = tmp_path / "examples"
    with caplog.at_level("DEBUG"):
        result = ingest(config, out, environ=s3_server.environ())
    assert result.rows == {"train": 32_561, "eval": 16_281} == local_result.rows
    assert result.split_method == "files"
    # same bytes in, same data version out: the fingerprint hashes content, not location
    assert result.fingerprint == local_result.fingerprint
    assert sum(1 for _ in read_records(split_files(out, "eval")[0])) == 16_281
    _assert_secret_absent(s3_server.secret_key, caplog.text, folder=out)


def _rows(examples_dir, split) -> list[tuple]:
    """Decoded examples as tuples in column-name order (serialized feature order may vary)."""
    from tfx_bsl.coders.example_coder import ExamplesToRecordBatchDecoder

    records = [r for path in split_files(examples_dir, split) for r in read_records(path)]
    batch = ExamplesToRecordBatchDecoder().DecodeBatch(records)
    names = sorted(batch.schema.names)
    columns = [batch.column(batch.schema.get_field_index(n)).to_pylist() for n in names]
    return [tuple(None if v is None else v[0] for v in row) for row in zip(*columns, strict=True)]


def test_single_s3_file_hash_split_matches_local(tmp_path, s3_server, bucket, adult, write_config):
    """One `s3://` train file split by hash gives the very examples a local copy gives;
    the endpoint may carry an `http://` scheme."""
    text = "\n".join(adult.lines(adult.train, 1500)) + "\n"
    local = tmp_path / "small.csv"
    local.write_text(text)
    key = "adult/small/train.csv"
    s3_server.client().put_object(bucket, key, io.BytesIO(text.encode()), length=len(text.encode()))
    s3_config = load_config(write_config(tmp_path / "s3", {"data": {"train": f"s3://{bucket}/{key}"}}))
    local_config = load_config(write_config(tmp_path / "local", {"data": {"train": str(local)}}))
    environ = s3_server.environ(MLPIPE_S3_ENDPOINT=f"http://{s3_server.endpoint}")
    from_s3 = ingest(s3_config, tmp_path / "from-s3", environ=environ)
    from_disk = ingest(local_config, tmp_path / "from-disk", environ={})
    assert from_s3.rows == from_disk.rows
    assert from_s3.train_rows + from_s3.eval_rows == 1500
    assert from_s3.fingerprint == from_disk.fingerprint
    for split in ("train", "eval"):
        assert _rows(tmp_path / "from-s3", split) == _rows(tmp_path / "from-disk", split)
    _assert_secret_absent(s3_server.secret_key, folder=tmp_path / "from-s3")


def test_missing_environment_variable_is_named(tmp_path, s3_server, bucket, write_config):
    config = _s3_config(tmp_path, write_config)
    for missing in ("MLPIPE_S3_ENDPOINT", "MLPIPE_S3_ACCESS_KEY", "MLPIPE_S3_SECRET_KEY"):
        environ = s3_server.environ()
        del environ[missing]
        out = tmp_path / f"out-{missing}"
        with pytest.raises(UserInputError, match=missing) as info:
            ingest(config, out, environ=environ)
        assert not out.exists()
        _assert_secret_absent(s3_server.secret_key, str(info.value))


@pytest.mark.parametrize(
    ("location", "code"),
    [
        (f"s3://{BUCKET}/adult/v1/no-such-file.csv.gz", "NoSuchKey"),
        ("s3://no-such-bucket-mlpipe/adult.csv", "NoSuchBucket"),
    ],
)
def test_missing_object_names_the_location(tmp_path, s3_server, bucket, write_config, location, code):
    config = _s3_config(tmp_path, write_config, eval=location)
    out = tmp_path / "examples"
    with pytest.raises(UserInputError) as info:
        ingest(config, out, environ=s3_server.environ())
    message = str(info.value)
    assert location in message and code in message
    assert not out.exists()
    _assert_secret_absent(s3_server.secret_key, message)


def test_errors_never_echo_the_secret_key(tmp_path, s3_server, bucket, write_config, caplog):
    """moto accepts any key pair, so a wrong secret cannot be rejected here; what is checked is
    that the secret in use never reaches the message or the log on the error path."""
    config = _s3_config(tmp_path, write_config, eval=f"s3://{BUCKET}/absent.csv")
    secret = "another-SECRET-value-7d1e"
    with caplog.at_level("DEBUG"), pytest.raises(UserInputError) as info:
        ingest(config, tmp_path / "examples", environ=s3_server.environ(MLPIPE_S3_SECRET_KEY=secret))
    _assert_secret_absent(secret, str(info.value), repr(info.value), caplog.text)


def test_bad_s3_location(tmp_path, s3_server, write_config):
    config = _s3_config(tmp_path, write_config, train="s3:///no-bucket.csv")
    with pytest.raises(UserInputError, match="not an s3:// location: s3:///no-bucket.csv"):
        ingest(config, tmp_path / "examples", environ=s3_server.environ())
