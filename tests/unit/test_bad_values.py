"""Bad values and line endings in real Adult files: each gives ONE line naming file, physical line,
column and value (exit 2 from the CLI), and nothing is written."""

from __future__ import annotations

import gzip
import random

import pytest

from mlpipe.cli.main import main
from mlpipe.components.ingest.core import ingest
from mlpipe.config.io import load_config
from mlpipe.data.examples import load_examples
from mlpipe.errors import UserInputError

N_ROWS = 40
COLUMNS = "age, workclass, fnlwgt, education, education-num, marital-status, occupation, relationship, race, sex, capital-gain, capital-loss, hours-per-week, native-country, Y".split(  # noqa: E501
    ", "
)


@pytest.fixture(scope="module")
def good(tmp_path_factory, adult_subsample):
    sample = adult_subsample(tmp_path_factory.mktemp("good"), N_ROWS, N_ROWS)
    sample.loaded = load_config(sample.config)
    sample.header, *sample.rows = sample.train.read_text().splitlines()
    return sample


def _set(row: str, column: str, value: str) -> str:
    fields = row.split(", ")
    fields[COLUMNS.index(column)] = value
    return ", ".join(fields)


def _fails(config, tmp_path, sources=None, match=None) -> str:
    parent = tmp_path / "outputs"
    with pytest.raises(UserInputError, match=match) as info:
        ingest(config, parent / "examples", environ={}, sources=sources)
    assert not parent.exists() or not list(parent.iterdir())  # no output, no scratch leftovers
    message = str(info.value)
    assert "\n" not in message
    return message


def _cli_schema(config_path, output) -> tuple[int, str]:
    """`mlpipe schema --write`: ingests the config's train file (no TFDV before the error)."""
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["schema", "--config", str(config_path), "--write", "--output", str(output)])
    return code, err.getvalue()


# --- numbers that are not finite float32 --------------------------------------------------------

NON_FINITE = ["inf", "-inf", "Infinity", "+INF", "nan", "NaN", "1e999", "-1e400"]
OVERFLOW = ["3.5e38", "-1e39", "340282350000000000000000000000000000001"]


@pytest.mark.parametrize("column", ["age", "capital-gain", "hours-per-week"])
@pytest.mark.parametrize("value", NON_FINITE + OVERFLOW)
def test_non_finite_or_overflowing_number_is_refused(good, tmp_path, column, value):
    rows = list(good.rows)
    rows[17] = _set(rows[17], column, value)
    bad = tmp_path / "numbers.csv"
    bad.write_text("\n".join([good.header, *rows]) + "\n")
    sources = {"train": str(good.train), "eval": str(bad)}
    message = _fails(good.loaded, tmp_path, sources, match="is numeric but has value")
    feature = column.replace("-", "_")
    assert f"{bad}: line 19: column '{feature}' is numeric but has value '{value}'" in message
    assert ("not a finite number" if value in NON_FINITE else "overflows float32") in message


def test_largest_float32_values_are_accepted(good, tmp_path):
    rows = list(good.rows)
    rows[3] = _set(rows[3], "capital-gain", "3.4e38")
    rows[4] = _set(rows[4], "capital-loss", "-3.4e38")
    ok = tmp_path / "big.csv"
    ok.write_text("\n".join([good.header, *rows]) + "\n")
    result = ingest(good.loaded, tmp_path / "out", environ={}, sources={"train": str(ok)})
    assert result.rows == {"train": N_ROWS}


def test_cli_exits_2_on_an_infinite_value_and_writes_nothing(good, tmp_path, write_config):
    rows = list(good.rows)
    rows[30] = _set(rows[30], "fnlwgt", "inf")
    bad = tmp_path / "train.csv"
    bad.write_text("\n".join([good.header, *rows]) + "\n")
    config = write_config(tmp_path / "config", {"data": {"train": str(bad), "eval": str(good.eval)}})
    code, err = _cli_schema(config, tmp_path / "schema.pbtxt")
    assert code == 2
    assert err.strip().splitlines() == [
        f"error: {bad}: line 32: column 'fnlwgt' is numeric but has value 'inf', which is not a finite number"
    ]
    assert not (tmp_path / "schema.pbtxt").exists()


# --- physical line numbers -----------------------------------------------------------------------

BREAKERS = {
    "label": ("Y", "maybe", "label column 'y' has value 'maybe'"),
    "text": ("hours-per-week", "forty", "column 'hours_per_week' is numeric but has value 'forty'"),
    "inf": ("age", "inf", "column 'age' is numeric but has value 'inf'"),
}


def _with_blank_lines(header: str, rows: list[str], bad_index: int, seed: int) -> tuple[str, int]:
    """The file's text with blank, whitespace-only and CRLF-ended lines and a quoted multi-line
    value spread before and after row `bad_index`; returns the text and that row's physical line."""
    rng = random.Random(seed)
    lines = [header]
    bad_line = 0
    for index, row in enumerate(rows):
        for _ in range(rng.choice([0, 0, 1, 2])):
            lines.append(rng.choice(["", "   ", "\t"]))
        if index == bad_index - 1:  # a value spanning two physical lines just before the bad row
            row = _set(row, "native-country", '"United-\nStates"')
        if index == bad_index:
            bad_line = len(lines) + 1 + sum(line.count("\n") for line in lines)
        lines.append(row)
    return "\n".join(lines) + "\n", bad_line


@pytest.mark.parametrize("kind", sorted(BREAKERS))
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_line_numbers_count_blank_lines_and_multi_line_values(good, tmp_path, kind, seed):
    column, value, expected = BREAKERS[kind]
    bad_index = random.Random(seed).randrange(5, N_ROWS)
    rows = [_set(r, column, value) if i == bad_index else r for i, r in enumerate(good.rows)]
    text, line = _with_blank_lines(good.header, rows, bad_index, seed)
    bad = tmp_path / "blank-lines.csv"
    bad.write_text(text)
    assert text.split("\n")[line - 1] == rows[bad_index]  # the expected line, counted independently
    message = _fails(good.loaded, tmp_path, {"train": str(bad)}, match=expected)
    assert f"{bad}: line {line}: " in message


@pytest.mark.parametrize("bad_index", [0, 7, 18, 29, 39])
def test_line_numbers_are_the_files_after_a_hash_split(tmp_path, adult_subsample, bad_index):
    """Without an eval file the train file is split by hash; the cited line is still the file's."""
    sample = adult_subsample(tmp_path / "data", N_ROWS)  # no eval file
    header, *rows = sample.train.read_text().splitlines()
    rows[bad_index] = _set(rows[bad_index], "Y", "unknown")
    sample.train.write_text("\n".join([header, "", *rows]) + "\n")  # one blank line after the header
    config = load_config(sample.config)
    assert config.data.eval is None
    message = _fails(config, tmp_path, match="value 'unknown'")
    assert f"{sample.train}: line {bad_index + 3}: label column 'y'" in message


# --- line endings and bytes the csv module refuses ---------------------------------------------


@pytest.mark.parametrize("ending", ["\r", "\r\n"])
@pytest.mark.parametrize("compress", [False, True])
def test_cr_and_crlf_line_endings_read_like_lf(good, tmp_path, ending, compress):
    text = ending.join([good.header, *good.rows]) + ending
    path = tmp_path / ("cr.csv.gz" if compress else "cr.csv")
    path.write_bytes(gzip.compress(text.encode()) if compress else text.encode())
    ours = ingest(good.loaded, tmp_path / "cr", environ={}, sources={"train": str(path)})
    plain = ingest(good.loaded, tmp_path / "lf", environ={}, sources={"train": str(good.train)})
    assert ours.rows == plain.rows == {"train": N_ROWS}
    assert (
        load_examples(tmp_path / "cr", "train").to_pydict()
        == load_examples(tmp_path / "lf", "train").to_pydict()
    )


def test_bare_cr_file_cites_the_right_line_and_loads_as_a_config(good, tmp_path, write_config):
    rows = list(good.rows)
    rows[9] = _set(rows[9], "Y", "maybe")
    bad = tmp_path / "old-mac.csv"
    bad.write_bytes(("\r".join([good.header, *rows]) + "\r").encode())
    config_path = write_config(tmp_path / "config", {"data": {"train": str(bad), "eval": str(good.eval)}})
    config = load_config(config_path)  # reads the header of a CR-only file
    message = _fails(config, tmp_path, match="value 'maybe'")
    assert f"{bad}: line 11: " in message
    code, err = _cli_schema(config_path, tmp_path / "schema.pbtxt")
    assert code == 2 and "Traceback" not in err and f"{bad}: line 11: " in err


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda row: row.replace(", ", ",\r", 1), "wrong number of fields in line 14: expected 15"),
        (lambda row: _set(row, "workclass", '"Private'), "line 14"),  # the quote runs to the end
    ],
)
def test_stray_cr_or_open_quote_is_one_line(good, tmp_path, damage, expected):
    rows = list(good.rows)
    rows[12] = damage(rows[12])
    bad = tmp_path / "damaged.csv"
    bad.write_bytes(("\n".join([good.header, *rows]) + "\n").encode())
    message = _fails(good.loaded, tmp_path, {"train": str(bad)}, match=None)
    assert str(bad) in message and expected in message
