"""GZIP TFRecord files without importing TensorFlow.

Ingest and the in-memory TFDV path only need the record framing; importing
TensorFlow for it costs about 10 s per process. The format: for each record,
uint64 length, masked crc32c of the length, the bytes, masked crc32c of them.
"""

from __future__ import annotations

import gzip
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path

import google_crc32c

_MASK_DELTA = 0xA282EAD8


def _masked_crc(data: bytes) -> bytes:
    crc = google_crc32c.value(data)
    masked = (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF
    return struct.pack("<I", masked)


def write_records(path: str | Path, records: Iterable[bytes]) -> int:
    """Write serialized records to a GZIP TFRecord file; returns how many."""
    count = 0
    with gzip.open(path, "wb", compresslevel=6) as out:
        for record in records:
            length = struct.pack("<Q", len(record))
            out.write(length + _masked_crc(length) + record + _masked_crc(record))
            count += 1
    return count


def read_records(path: str | Path) -> Iterator[bytes]:
    """Yield the records of a GZIP TFRecord file, checking every checksum."""
    with gzip.open(path, "rb") as stream:
        while True:
            header = stream.read(12)
            if not header:
                return
            if len(header) != 12 or _masked_crc(header[:8]) != header[8:]:
                raise ValueError(f"{path}: corrupt TFRecord header")
            (length,) = struct.unpack("<Q", header[:8])
            record = stream.read(length)
            footer = stream.read(4)
            if len(record) != length or _masked_crc(record) != footer:
                raise ValueError(f"{path}: corrupt TFRecord data")
            yield record


def split_files(examples_dir: str | Path, split: str) -> list[Path]:
    """The record files of one split (`Split-<name>/`) of an examples directory."""
    files = sorted((Path(examples_dir) / f"Split-{split}").glob("*.tfrecord.gz"))
    if not files:
        raise FileNotFoundError(f"no records for split {split!r} under {examples_dir}")
    return files
