"""Bad input files: each gives ONE UserInputError naming the file, column, line or value, and no output."""

from __future__ import annotations

import gzip
import re

import pytest

from mlpipe.components.ingest.core import ingest
from mlpipe.config.io import load_config
from mlpipe.errors import UserInputError

N_ROWS = 20


@pytest.fixture(scope="module")
def good(tmp_path_factory, adult_subsample):
    """A valid small Adult config and files; each test swaps one split for a broken file."""
    sample = adult_subsample(tmp_path_factory.mktemp("good"), N_ROWS, N_ROWS)
    sample.loaded = load_config(sample.config)
    sample.header, *sample.rows = sample.train.read_text().splitlines()
    return sample


def _text(header: str, rows: list[str]) -> str:
    return "\n".join([header, *rows]) + "\n"


def _expect_failure(good, tmp_path, bad_file, *, split="train", match) -> str:
    """Ingest with `bad_file` as `split`; returns the message after checking there is no output."""
    parent = tmp_path / "outputs"
    out = parent / "examples"
    sources = {"train": str(good.train), "eval": str(good.eval), split: str(bad_file)}
    with pytest.raises(UserInputError, match=match) as info:
        ingest(good.loaded, out, environ={}, sources=sources)
    assert not out.exists()
    assert not parent.exists() or not list(parent.iterdir())  # no `.tmp-` leftovers either
    message = str(info.value)
    assert "\n" not in message  # one line
    return message


def _replace_field(row: str, index: int, value: str) -> str:
    fields = row.split(", ")
    fields[index] = value
    return ", ".join(fields)


def test_missing_file(good, tmp_path):
    missing = tmp_path / "nope" / "adult.csv"
    message = _expect_failure(good, tmp_path, missing, match="not found")
    assert str(missing) in message


@pytest.mark.parametrize(("name", "content"), [("empty.csv", b""), ("empty.csv.gz", gzip.compress(b""))])
def test_empty_file(good, tmp_path, name, content):
    bad = tmp_path / name
    bad.write_bytes(content)
    message = _expect_failure(good, tmp_path, bad, match="empty file")
    assert str(bad) in message


def test_truncated_gzip(good, tmp_path):
    bad = tmp_path / "cut.csv.gz"
    bad.write_bytes(gzip.compress(good.train.read_bytes())[:40])
    message = _expect_failure(good, tmp_path, bad, match="not a readable gzip file")
    assert str(bad) in message


@pytest.mark.parametrize("split", ["train", "eval"])
def test_header_only(good, tmp_path, split):
    bad = tmp_path / "header.csv"
    bad.write_text(good.header + "\n")
    message = _expect_failure(good, tmp_path, bad, split=split, match="header but no data rows")
    assert str(bad) in message


def test_label_column_absent(good, tmp_path):
    bad = tmp_path / "nolabel.csv"
    bad.write_text(_text(good.header.removesuffix(", Y"), [r.rsplit(", ", 1)[0] for r in good.rows]))
    message = _expect_failure(good, tmp_path, bad, match="label column 'y'")
    assert str(bad) in message


@pytest.mark.parametrize("value", ["maybe", ">50k", "1"])
def test_label_value_in_neither_class(good, tmp_path, value):
    rows = list(good.rows)
    rows[6] = _replace_field(rows[6], 14, value)
    bad = tmp_path / "label.csv"
    bad.write_text(_text(good.header, rows))
    message = _expect_failure(good, tmp_path, bad, match=re.escape(f"value '{value}'"))
    assert "line 8" in message and str(bad) in message and "'y'" in message


def test_missing_label_value(good, tmp_path):
    rows = list(good.rows)
    rows[2] = _replace_field(rows[2], 14, "?")
    bad = tmp_path / "label.csv"
    bad.write_text(_text(good.header, rows))
    message = _expect_failure(good, tmp_path, bad, match="missing value")
    assert "line 4" in message


@pytest.mark.parametrize(
    ("replacement", "named"),
    [("age", "age"), ("Age", "Age"), ("Education Num", "education-num")],  # equal once normalized
)
def test_duplicated_column_names(good, tmp_path, write_config, replacement, named):
    bad = tmp_path / "dup.csv"
    bad.write_text(_text(good.header.replace("fnlwgt", replacement), good.rows))
    message = _expect_failure(good, tmp_path, bad, match=f"duplicated column name '{named}'")
    assert str(bad) in message
    # the config loader reads the header too, and says the same
    config_path = write_config(tmp_path / "config", {"data": {"train": str(bad)}})
    with pytest.raises(UserInputError, match=f"duplicated column name '{named}'"):
        load_config(config_path)


@pytest.mark.parametrize(
    ("row_index", "change", "saw"),
    [
        (0, ", extra", 16),  # first data row: pandas would silently take it as an index column
        (9, ", extra", 16),
        (9, None, 14),  # a field short
        (19, None, 14),
    ],
)
def test_wrong_number_of_fields(good, tmp_path, row_index, change, saw):
    rows = list(good.rows)
    rows[row_index] = rows[row_index] + change if change else rows[row_index].rsplit(", ", 1)[0]
    bad = tmp_path / "fields.csv"
    bad.write_text(_text(good.header, rows))
    message = _expect_failure(good, tmp_path, bad, match="wrong number of fields")
    assert f"line {row_index + 2}" in message
    assert f"saw {saw}" in message and "expected 15" in message
    assert str(bad) in message


def test_trailing_delimiter_is_a_wrong_field_count(good, tmp_path):
    bad = tmp_path / "trailing.csv"
    bad.write_text(_text(good.header, [r + "," for r in good.rows]))
    message = _expect_failure(good, tmp_path, bad, match="wrong number of fields in line 2")
    assert str(bad) in message


def test_not_utf8(good, tmp_path):
    rows = list(good.rows)
    rows[4] = _replace_field(rows[4], 13, "Côte-d'Ivoire")
    bad = tmp_path / "latin1.csv"
    bad.write_bytes(_text(good.header, rows).encode("latin-1"))
    message = _expect_failure(good, tmp_path, bad, match="not UTF-8")
    assert str(bad) in message and "line 6" in message


def test_not_utf8_in_gzip(good, tmp_path):
    rows = list(good.rows)
    rows[0] = _replace_field(rows[0], 13, "España")
    bad = tmp_path / "latin1.csv.gz"
    bad.write_bytes(gzip.compress(_text(good.header, rows).encode("latin-1")))
    message = _expect_failure(good, tmp_path, bad, match="not UTF-8")
    assert str(bad) in message and "line 2" in message


@pytest.mark.parametrize(("column", "index", "value"), [("age", 0, "forty"), ("hours_per_week", 12, "40h")])
def test_string_in_numeric_column(good, tmp_path, column, index, value):
    rows = list(good.rows)
    rows[11] = _replace_field(rows[11], index, value)
    bad = tmp_path / "numeric.csv"
    bad.write_text(_text(good.header, rows))
    message = _expect_failure(good, tmp_path, bad, split="eval", match=f"column '{column}' is numeric")
    assert f"'{value}'" in message and "line 13" in message and str(bad) in message


def test_config_names_a_column_the_data_lacks(good, tmp_path, write_config):
    changes = {
        "data": {"train": str(good.train), "eval": str(good.eval)},
        "features.categorical": ["workclass", "education", "race", "sex", "religion"],
    }
    config_path = write_config(tmp_path / "config", changes)
    with pytest.raises(UserInputError, match="column 'religion'") as info:
        load_config(config_path)
    assert str(good.train) in str(info.value)
    # ingest checks the same when the config was loaded without reading the data
    config = load_config(config_path, check_data=False)
    out = tmp_path / "examples"
    with pytest.raises(UserInputError, match="column 'religion' named in the config is not in the data"):
        ingest(config, out, environ={})
    assert not out.exists()
