"""Ingest through Beam (inputs over `beam.in_memory_max_bytes`) against the in-memory path: the
same examples per split, counts and fingerprint, and the same error for the same bad file, with
the file cut into many chunks so that errors land in later chunks and multi-line records span
chunk boundaries."""

from __future__ import annotations

import csv
import gzip
import io

import pytest

from mlpipe.components.ingest import beam_path
from mlpipe.components.ingest.core import ingest
from mlpipe.config.dataset import BeamConfig
from mlpipe.config.io import load_config
from mlpipe.data.tfrecord import read_records, split_files
from mlpipe.errors import UserInputError

N_ROWS = 1200


def _rows(examples_dir, split) -> list[tuple]:
    """Each example's values in column-name order, sorted (by content: a serialized tf.Example's
    feature order varies from process to process)."""
    from tfx_bsl.coders.example_coder import ExamplesToRecordBatchDecoder

    records = [r for path in split_files(examples_dir, split) for r in read_records(path)]
    batch = ExamplesToRecordBatchDecoder().DecodeBatch(records)
    names = sorted(batch.schema.names)
    columns = [batch.column(batch.schema.get_field_index(n)).to_pylist() for n in names]
    return sorted(
        (tuple(None if v is None else v[0] for v in row) for row in zip(*columns, strict=True)), key=repr
    )


@pytest.fixture(scope="module")
def sample(tmp_path_factory, adult_subsample):
    s = adult_subsample(tmp_path_factory.mktemp("sample"), N_ROWS)  # no eval file: split by hash
    s.config_mem = load_config(s.config)
    s.config_beam = s.config_mem.model_copy(update={"beam": BeamConfig(in_memory_max_bytes=0)})
    s.header, *s.lines = s.train.read_text().splitlines()
    return s


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    monkeypatch.setattr(beam_path, "CHUNK_ROWS", 97)
    monkeypatch.setattr(beam_path.chunks, "__defaults__", (97,))


def test_beam_ingest_equals_the_in_memory_path(sample, tmp_path):
    gz = tmp_path / "train.csv.gz"  # gzip input through the Beam path
    gz.write_bytes(gzip.compress(sample.train.read_bytes()))
    mem = ingest(sample.config_mem, tmp_path / "mem", environ={})
    config = sample.config_beam.model_copy(
        update={"data": sample.config_beam.data.model_copy(update={"train": str(gz)})}
    )
    via_beam = ingest(config, tmp_path / "beam", environ={})
    assert via_beam.rows == mem.rows and sum(mem.rows.values()) == N_ROWS
    assert via_beam.split_method == mem.split_method
    for split in ("train", "eval"):
        assert _rows(tmp_path / "beam", split) == _rows(tmp_path / "mem", split)
    assert len(list((tmp_path / "beam" / "Split-train").glob("data-*-of-*.tfrecord.gz"))) >= 1
    plain = ingest(sample.config_beam, tmp_path / "beam-plain", environ={})
    assert plain.rows == mem.rows and plain.fingerprint == mem.fingerprint


def _broken(sample, tmp_path, edits: dict[int, str], raw: bytes | None = None):
    lines = list(sample.lines)
    for index, text in edits.items():
        lines[index] = text
    path = tmp_path / "bad.csv"
    path.write_bytes(raw if raw is not None else ("\n".join([sample.header, *lines]) + "\n").encode())
    return path


def _field(line: str, index: int, value: str) -> str:
    fields = line.split(", ")
    fields[index] = value
    return ", ".join(fields)


def _both(sample, tmp_path, bad) -> str:
    messages = []
    for name, config in (("mem", sample.config_mem), ("beam", sample.config_beam)):
        out = tmp_path / name / "examples"
        with pytest.raises(UserInputError) as info:
            ingest(config, out, environ={}, sources={"train": str(bad), "eval": str(sample.train)})
        assert not out.exists()
        assert not (tmp_path / name).exists() or not list((tmp_path / name).iterdir())
        messages.append(str(info.value))
    assert messages[0] == messages[1]
    return messages[1]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("numeric", "line 901: column 'age' is numeric but has value 'old'"),
        ("two_columns", "line 1001: column 'age' is numeric"),  # an earlier column wins over an earlier line
        ("fields", "wrong number of fields in line 501: expected 15, saw 14"),
        ("label", "line 700: label column 'y' has value 'maybe'"),
        ("utf8", "not UTF-8 text (line 1100"),
    ],
)
def test_beam_ingest_errors_equal_the_in_memory_ones(sample, tmp_path, case, expected):
    lines = sample.lines
    edits = {
        "numeric": {899: _field(lines[899], 0, "old")},
        "two_columns": {300: _field(lines[300], 2, "x"), 999: _field(lines[999], 0, "y")},
        "fields": {499: lines[499].rsplit(", ", 1)[0], 1000: _field(lines[1000], 0, "z")},
        "label": {698: _field(lines[698], 14, "maybe"), 1100: _field(lines[1100], 14, "no")},
    }.get(case, {})
    raw = None
    if case == "utf8":
        text = ("\n".join([sample.header, *lines]) + "\n").encode()
        cut = text.index(lines[1098].encode())
        raw = text[:cut] + b"\xff" + text[cut:]
        edits = {}
    if case == "two_columns":
        expected = "line 1001: column 'age' is numeric but has value 'y'"
    message = _both(sample, tmp_path, _broken(sample, tmp_path, edits, raw))
    assert expected in message


def test_chunks_keep_quoted_records_whole(sample, tmp_path):
    """A quoted field spanning lines never straddles a chunk; line numbers stay physical."""
    rows = [["a", "b"]] + [[str(i), f"two\nlines {i}" if i % 5 == 0 else "x"] for i in range(400)]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    path = tmp_path / "q.csv"
    path.write_text(buffer.getvalue())
    text = path.read_bytes()
    seen, lines = [], []
    for start, end, first_line in beam_path.chunks(path, sample.config_mem, rows=7):
        got, at = beam_path._rows(text[start:end].decode(), sample.config_mem.csv, 2, "q", first_line)
        seen += got
        lines += at
    whole, whole_lines = beam_path._rows(buffer.getvalue(), sample.config_mem.csv, 2, "q")
    assert seen == whole and lines == whole_lines and len(seen) == 400
