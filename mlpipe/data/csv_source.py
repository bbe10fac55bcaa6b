"""Reading a dataset's CSV files, local or `s3://`, into string columns.

Every value is read as text first, so that each check (field counts, UTF-8,
label values, numbers) can name the exact file, line, column and value.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import tempfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

import pandas as pd

from mlpipe.config.dataset import CsvConfig, normalize_name
from mlpipe.errors import RowError, UserInputError


def fetch(location: str, environ: Mapping[str, str], workdir: Path) -> Path:
    """A local path for `location`, downloading `s3://` objects into `workdir`."""
    if not location.startswith("s3://"):
        path = Path(location)
        if not path.is_file():
            raise UserInputError(f"data file not found: {location}")
        return path
    from minio.error import S3Error

    from mlpipe.storage.s3 import client_from_env, reaching, split_uri

    bucket, key = split_uri(location)
    name = PurePosixPath(key).name
    if key.endswith("/") or name in ("", ".", ".."):
        raise UserInputError(f"{location}: names no object (a data location must end in a file name)")
    local = workdir / name
    client = client_from_env(environ)
    try:
        with reaching(environ, location):
            client.fget_object(bucket, key, str(local))
    except S3Error as exc:
        raise UserInputError(f"cannot read {location}: {exc.code} ({exc.message})") from None
    return local


def _open_bytes(path: Path) -> bytes:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise UserInputError(f"{path}: not a readable gzip file ({exc})") from None
    return raw


def _line_of(raw: bytes, position: int) -> int:
    """The 1-based line of a byte offset; `\n`, `\r\n` and a bare `\r` each end a line."""
    before = raw[:position]
    return before.count(b"\n") + before.count(b"\r") - before.count(b"\r\n") + 1


def _decode(raw: bytes, source: str, first_line: int = 1) -> str:
    """UTF-8 text with universal newlines: `\r\n` and a bare `\r` (old Mac files) read as `\n`."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = first_line - 1 + _line_of(raw, exc.start)
        raise RowError(
            f"{source}: not UTF-8 text (line {line}, byte {raw[exc.start : exc.start + 1]!r})", line
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def read_header(path: str | Path, options: CsvConfig) -> list[str]:
    """The normalized column names of a CSV file."""
    path = Path(path)
    head = _open_bytes(path)[:65536]
    cut = max(head.rfind(b"\n"), head.rfind(b"\r"))  # whole lines only: no split UTF-8 character
    return _parse_header(_decode(head[: cut + 1] if cut >= 0 else head, str(path)), options, str(path))


def _reader(lines, options: CsvConfig):
    return csv.reader(lines, delimiter=options.delimiter, skipinitialspace=options.skip_initial_space)


def _parse_header(text: str, options: CsvConfig, source: str) -> list[str]:
    first = text.split("\n", 1)[0]
    if not first.strip():
        raise UserInputError(f"{source}: empty file (no header row)")
    try:
        row = next(_reader([first], options))
    except csv.Error as exc:
        raise UserInputError(f"{source}: line 1: the header is not valid CSV ({exc})") from None
    names = [normalize_name(c) for c in row]
    seen: set[str] = set()
    for original, name in zip(row, names, strict=True):
        if not name:
            raise UserInputError(f"{source}: header has an empty column name")
        if name in seen:
            raise UserInputError(f"{source}: duplicated column name '{original.strip()}' in the header")
        seen.add(name)
    return names


def _is_blank(row: list[str]) -> bool:
    return not row or (len(row) == 1 and not row[0].strip())


def _rows(
    text: str, options: CsvConfig, expected: int, source: str, first_line: int = 1
) -> tuple[list[list[str]], list[int]]:
    """The data rows and the physical line (1-based, the header is line 1) where each starts;
    with `first_line` > 1, `text` is a run of whole records starting there (no header).

    Every non-blank row must have as many fields as the header: pandas would pad a
    short row with empty strings (read as missing values) and, when the first data
    row has one field too many, silently take the first column as the index.
    """
    reader = _reader(io.StringIO(text), options)
    rows, lines = [], []
    offset = first_line - 1
    previous_end = 0  # the last physical line of the previous row (within `text`)
    try:
        if first_line == 1:
            next(reader)
            previous_end = reader.line_num
        for row in reader:
            start, previous_end = offset + previous_end + 1, reader.line_num
            if _is_blank(row):
                continue
            if len(row) != expected:
                raise RowError(
                    f"{source}: wrong number of fields in line {start}: expected {expected}, saw {len(row)}",
                    start,
                )
            rows.append(row)
            lines.append(start)
    except csv.Error as exc:
        line = offset + previous_end + 1
        raise RowError(f"{source}: line {line}: not valid CSV ({exc})", line) from None
    return rows, lines


def string_frame(
    rows: list[list[str]], lines: list[int], header: list[str], options: CsvConfig
) -> pd.DataFrame:
    """Rows as stripped strings (missing values as None), indexed by their physical line."""
    frame = pd.DataFrame(rows, columns=header, index=pd.Index(lines, name="line"), dtype=object)
    frame = frame.apply(lambda col: col.str.strip())
    missing = {"", options.missing_value}
    return frame.where(~frame.isin(missing), None)


def read_csv(path: Path, options: CsvConfig, source: str) -> tuple[pd.DataFrame, str]:
    """All columns as stripped strings (missing values as None), indexed by the physical line
    number each row starts on (so every error can cite it), and the sha256 of the raw bytes."""
    raw_file = path.read_bytes()
    if not raw_file:
        raise UserInputError(f"{source}: empty file")
    text = _decode(_open_bytes(path), source)
    header = _parse_header(text, options, source)
    rows, lines = _rows(text, options, len(header), source)
    if not rows:
        raise UserInputError(f"{source}: has a header but no data rows")
    return string_frame(rows, lines, header, options), hashlib.sha256(raw_file).hexdigest()


def scratch_dir() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="mlpipe-fetch-")
