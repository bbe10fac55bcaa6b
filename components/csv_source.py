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
from pathlib import Path

import pandas as pd

from mlpipe.components.config import CsvConfig, normalize_name
from mlpipe.components.errors import UserInputError


def fetch(location: str, environ: Mapping[str, str], workdir: Path) -> Path:
    """A local path for `location`, downloading `s3://` objects into `workdir`."""
    if not location.startswith("s3://"):
        path = Path(location)
        if not path.is_file():
            raise UserInputError(f"data file not found: {location}")
        return path
    from minio.error import S3Error

    from mlpipe.components.s3 import client_from_env, split_uri

    bucket, key = split_uri(location)
    local = workdir / Path(key).name
    try:
        client_from_env(environ).fget_object(bucket, key, str(local))
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


def _decode(raw: bytes, source: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise UserInputError(
            f"{source}: not UTF-8 text (line {line}, byte {raw[exc.start : exc.start + 1]!r})"
        ) from None


def read_header(path: str | Path, options: CsvConfig) -> list[str]:
    """The normalized column names of a CSV file."""
    path = Path(path)
    text = _decode(_open_bytes(path)[:65536].rsplit(b"\n", 1)[0] + b"\n", str(path))
    return _parse_header(text, options, str(path))


def _parse_header(text: str, options: CsvConfig, source: str) -> list[str]:
    first = text.split("\n", 1)[0].rstrip("\r")
    if not first.strip():
        raise UserInputError(f"{source}: empty file (no header row)")
    row = next(csv.reader([first], delimiter=options.delimiter, skipinitialspace=options.skip_initial_space))
    names = [normalize_name(c) for c in row]
    seen: set[str] = set()
    for original, name in zip(row, names, strict=True):
        if not name:
            raise UserInputError(f"{source}: header has an empty column name")
        if name in seen:
            raise UserInputError(f"{source}: duplicated column name '{original.strip()}' in the header")
        seen.add(name)
    return names


def _check_field_counts(text: str, options: CsvConfig, expected: int, source: str) -> None:
    """Every non-blank row has as many fields as the header.

    pandas cannot be trusted with this: it pads short rows with empty strings (which
    would read as missing values) and, when the first data row has one field too
    many, silently takes the first column as the index and shifts every value.
    """
    reader = csv.reader(
        io.StringIO(text), delimiter=options.delimiter, skipinitialspace=options.skip_initial_space
    )
    for row in reader:
        if row and len(row) != expected:  # blank lines are skipped, as pandas does
            raise UserInputError(
                f"{source}: wrong number of fields in line {reader.line_num}: expected {expected}, saw {len(row)}"
            )


def read_csv(path: Path, options: CsvConfig, source: str) -> tuple[pd.DataFrame, str]:
    """All columns as stripped strings (missing values as None) and the sha256 of the raw bytes."""
    raw_file = path.read_bytes()
    if not raw_file:
        raise UserInputError(f"{source}: empty file")
    text = _decode(_open_bytes(path), source)
    header = _parse_header(text, options, source)
    _check_field_counts(text, options, len(header), source)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=options.delimiter,
            skipinitialspace=options.skip_initial_space,
            dtype=str,
            na_filter=False,
            header=0,
            names=header,
            engine="c",
        )
    except pd.errors.ParserError as exc:
        raise UserInputError(f"{source}: wrong number of fields: {exc}".replace("\n", " ")) from None
    if frame.empty:
        raise UserInputError(f"{source}: has a header but no data rows")
    frame = frame.apply(lambda col: col.str.strip())
    missing = {"", options.missing_value}
    frame = frame.where(~frame.isin(missing), None)
    return frame, hashlib.sha256(raw_file).hexdigest()


def scratch_dir() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="mlpipe-fetch-")
