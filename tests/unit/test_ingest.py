"""Ingest on the real Adult files: counts, missing values, labels, hash split, fingerprint, atomic output;
and the TensorFlow-free TFRecord framing it writes."""

from __future__ import annotations

import collections
import gzip
import os

import pandas as pd
import pytest

from mlpipe.components.ingest.core import ingest
from mlpipe.config.io import load_config
from mlpipe.data.tfrecord import read_records, split_files, write_records
from mlpipe.errors import UserInputError

FEATURES = 14


def _records(examples_dir, split) -> list[bytes]:
    return [r for path in split_files(examples_dir, split) for r in read_records(path)]


def _decode(examples_dir, split):
    from tfx_bsl.coders.example_coder import ExamplesToRecordBatchDecoder

    return ExamplesToRecordBatchDecoder().DecodeBatch(_records(examples_dir, split))


def _rows(examples_dir, split) -> list[tuple]:
    """Each example as a tuple of its values in column-name order.

    Compared by content, not bytes: the encoder's feature order inside a serialized
    tf.Example varies from call to call (a protobuf map), the values do not.
    """
    batch = _decode(examples_dir, split)
    names = sorted(batch.schema.names)
    columns = [batch.column(batch.schema.get_field_index(n)).to_pylist() for n in names]
    return [tuple(None if v is None else v[0] for v in row) for row in zip(*columns, strict=True)]


def _pandas(path) -> pd.DataFrame:
    """An independent reading of a raw Adult file, for the expected figures."""
    return pd.read_csv(path, skipinitialspace=True, dtype=str, na_filter=False)


@pytest.fixture(scope="module")
def full_ingest(tmp_path_factory, adult):
    """Ingest of the complete real Adult files, done once for the module."""
    config = load_config(adult.config)
    out = tmp_path_factory.mktemp("full") / "examples"
    result = ingest(config, out, environ={})
    return config, out, result


def test_full_adult_counts_and_layout(full_ingest, adult):
    config, out, result = full_ingest
    raw_train, raw_test = _pandas(adult.train), _pandas(adult.test)
    assert (len(raw_train), len(raw_test)) == (32_561, 16_281)
    assert result.rows == {"train": 32_561, "eval": 16_281}
    assert (result.train_rows, result.eval_rows) == (32_561, 16_281)
    assert result.split_method == "files"
    assert sorted(p.name for p in out.iterdir()) == ["Split-eval", "Split-train"]
    assert [p.name for p in (out / "Split-train").iterdir()] == ["data.tfrecord.gz"]
    assert result.summary()["train_rows"] == 32_561


def test_missing_values_are_kept_as_missing(full_ingest, adult):
    _, out, _ = full_ingest
    raw = _pandas(adult.train)
    assert (raw["workclass"] == "?").sum() == 1836  # the figure, read independently
    batch = _decode(out, "train")
    assert batch.num_rows == 32_561
    assert batch.column(batch.schema.get_field_index("workclass")).null_count == 1836
    assert (
        batch.column(batch.schema.get_field_index("occupation")).null_count
        == (raw["occupation"] == "?").sum()
    )
    assert batch.column(batch.schema.get_field_index("age")).null_count == 0
    # no '?' survives as a category, and values are stripped of the ", " separator's space
    workclass = set(batch.column(batch.schema.get_field_index("workclass")).flatten().to_pylist())
    assert b"?" not in workclass
    assert b"State-gov" in workclass


def test_features_and_label_types(full_ingest, adult):
    import pyarrow as pa

    config, out, _ = full_ingest
    batch = _decode(out, "eval")
    assert sorted(batch.schema.names) == sorted([*config.feature_keys, "y"])
    types = {name: batch.schema.field(name).type.value_type for name in batch.schema.names}
    assert all(types[name] == pa.float32() for name in config.features.numeric)
    assert all(types[name] in (pa.binary(), pa.large_binary()) for name in config.features.categorical)
    assert types["y"] == pa.int64()
    raw = _pandas(adult.test)
    ages = batch.column(batch.schema.get_field_index("age")).flatten().to_numpy()
    assert ages.sum() == pytest.approx(raw["age"].astype(float).sum())


def test_label_mapping_with_trailing_dot_quirk(full_ingest, adult):
    _, out, _ = full_ingest
    raw_train, raw_test = _pandas(adult.train), _pandas(adult.test)
    assert raw_train["Y"].value_counts().to_dict() == {"<=50K": 24_720, ">50K": 7841}
    assert raw_test["Y"].value_counts().to_dict() == {"<=50K.": 12_435, ">50K.": 3846}
    for split, positives, total in (("train", 7841, 32_561), ("eval", 3846, 16_281)):
        batch = _decode(out, split)
        labels = batch.column(batch.schema.get_field_index("y")).flatten().to_pylist()
        assert len(labels) == total
        assert set(labels) == {0, 1}
        assert sum(labels) == positives


def test_hash_split_is_deterministic_and_complete(tmp_path, adult_subsample):
    sample = adult_subsample(tmp_path / "data", 2000)  # no eval file: split train by hash
    config = load_config(sample.config)
    assert config.data.eval is None
    first = ingest(config, tmp_path / "a", environ={})
    second = ingest(config, tmp_path / "b", environ={})
    assert first.rows == second.rows
    assert first.fingerprint == second.fingerprint
    assert first.split_method.startswith("hash(row)") and "eval_fraction=0.3" in first.split_method
    for split in ("train", "eval"):
        assert _rows(tmp_path / "a", split) == _rows(tmp_path / "b", split)
    assert first.train_rows + first.eval_rows == 2000
    assert abs(first.eval_rows / 2000 - config.split.eval_fraction) < 0.05
    train, evaluation = _rows(tmp_path / "a", "train"), _rows(tmp_path / "a", "eval")
    assert (len(train), len(evaluation)) == (first.train_rows, first.eval_rows)
    assert not set(train) & set(evaluation)  # identical rows always land in the same split
    whole = ingest(config, tmp_path / "whole", environ={}, sources={"train": str(sample.train)})
    assert whole.rows == {"train": 2000}
    assert collections.Counter(train + evaluation) == collections.Counter(_rows(tmp_path / "whole", "train"))


def test_hash_split_on_key_columns_follows_the_fraction(tmp_path, adult_subsample):
    sample = adult_subsample(
        tmp_path / "data", 2000, changes={"split": {"eval_fraction": 0.5, "hash_key": ["fnlwgt", "age"]}}
    )
    result = ingest(load_config(sample.config), tmp_path / "out", environ={})
    assert result.split_method == "hash(fnlwgt, age) eval_fraction=0.5"
    assert abs(result.eval_rows / 2000 - 0.5) < 0.05


def test_fingerprint_is_stable_and_follows_the_data(tmp_path, adult_subsample):
    sample = adult_subsample(tmp_path / "data", 300, 200)
    config = load_config(sample.config)
    fingerprints = [ingest(config, tmp_path / f"run{i}", environ={}).fingerprint for i in range(2)]
    assert fingerprints[0] == fingerprints[1]
    assert len(fingerprints[0]) == 64
    text = sample.eval.read_text()
    sample.eval.write_text(text.replace(", 40, United-States", ", 41, United-States", 1))
    changed = ingest(config, tmp_path / "run-changed", environ={})
    assert changed.rows == {"train": 300, "eval": 200}
    assert changed.fingerprint != fingerprints[0]


def test_failed_ingest_leaves_no_output(tmp_path, adult_subsample):
    sample = adult_subsample(tmp_path / "data", 300, 200)
    config = load_config(sample.config)
    lines = sample.eval.read_text().splitlines()
    lines[-1] = lines[-1].replace("<=50K.", "maybe").replace(">50K.", "maybe")  # fails after train is written
    sample.eval.write_text("\n".join(lines) + "\n")
    parent = tmp_path / "outputs"
    parent.mkdir()
    with pytest.raises(UserInputError, match="'maybe'"):
        ingest(config, parent / "examples", environ={})
    assert list(parent.iterdir()) == []  # neither the output nor a `.examples.tmp-*` scratch dir


def test_existing_output_is_not_overwritten(tmp_path, adult_subsample):
    sample = adult_subsample(tmp_path / "data", 100, 100)
    out = tmp_path / "examples"
    out.mkdir()
    (out / "keep.txt").write_text("previous")
    with pytest.raises(FileExistsError):
        ingest(load_config(sample.config), out, environ={})
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


# --- TFRecord framing -------------------------------------------------------------------------

RECORDS = [b"first", b"", bytes(range(256)) * 40, b"\x00" * 7]


def test_tfrecord_round_trip(tmp_path):
    path = tmp_path / "data.tfrecord.gz"
    assert write_records(path, iter(RECORDS)) == len(RECORDS)
    assert list(read_records(path)) == RECORDS
    assert gzip.decompress(path.read_bytes())[:8] == len(RECORDS[0]).to_bytes(8, "little")


def test_tfrecord_empty_file(tmp_path):
    path = tmp_path / "empty.tfrecord.gz"
    assert write_records(path, []) == 0
    assert list(read_records(path)) == []


@pytest.mark.parametrize(
    ("position", "match"),
    [
        (3, "corrupt TFRecord header"),
        (9, "corrupt TFRecord header"),
        (14, "corrupt TFRecord data"),
        (-1, "data"),
    ],
)
def test_tfrecord_corrupted_byte_raises(tmp_path, position, match):
    path = tmp_path / "data.tfrecord.gz"
    write_records(path, RECORDS[:1])
    raw = bytearray(gzip.decompress(path.read_bytes()))
    raw[position] ^= 0x01
    path.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(ValueError, match=match):
        list(read_records(path))


def test_tfrecord_truncated_raises(tmp_path):
    path = tmp_path / "data.tfrecord.gz"
    write_records(path, RECORDS)
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-3]))
    with pytest.raises(ValueError, match="corrupt TFRecord"):
        list(read_records(path))


def test_tensorflow_reads_the_same_records(tmp_path, adult_subsample):
    """The framing is TensorFlow's: tf.data reads ingest's files back record for record."""
    import tensorflow as tf

    sample = adult_subsample(tmp_path / "data", 50, 20)
    out = tmp_path / "examples"
    ingest(load_config(sample.config), out, environ={})
    for split in ("train", "eval"):
        (path,) = split_files(out, split)
        ours = list(read_records(path))
        theirs = [r.numpy() for r in tf.data.TFRecordDataset(str(path), compression_type="GZIP")]
        assert theirs == ours
    example = tf.train.Example.FromString(theirs[0])
    first = sample.eval.read_text().splitlines()[1].split(", ")
    assert example.features.feature["age"].float_list.value[0] == float(first[0])
    assert example.features.feature["workclass"].bytes_list.value[0] == first[1].encode()
    assert example.features.feature["y"].int64_list.value[0] == (1 if first[-1] == ">50K." else 0)
    plain = tmp_path / "mixed.tfrecord.gz"
    write_records(plain, RECORDS)
    assert [r.numpy() for r in tf.data.TFRecordDataset(str(plain), compression_type="GZIP")] == RECORDS
    assert os.path.getsize(plain) > 0


def test_named_batch_without_label(tmp_path, adult_subsample):
    """What `mlpipe validate` ingests: one split named `batch`, no label column, label not required."""
    sample = adult_subsample(tmp_path / "data", 100, 100)
    header, *rows = sample.eval.read_text().splitlines()
    batch_file = tmp_path / "batch.csv"
    batch_file.write_text("\n".join(line.rsplit(", ", 1)[0] for line in [header, *rows]) + "\n")
    config = load_config(sample.config)
    with pytest.raises(UserInputError, match="label column 'y'"):
        ingest(config, tmp_path / "required", environ={}, sources={"batch": str(batch_file)})
    result = ingest(
        config, tmp_path / "out", environ={}, sources={"batch": str(batch_file)}, require_label=False
    )
    assert result.rows == {"batch": 100}
    assert "y" not in _decode(tmp_path / "out", "batch").schema.names
