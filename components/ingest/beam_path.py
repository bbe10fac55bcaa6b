"""Ingest as a Beam pipeline: bounded memory, on the runner of the config's `beam` section.

One streaming pass per file (in the submitting process) hashes it, unzips a gzip file
into scratch space and cuts it into chunks of whole CSV records, each with the physical
line it starts on. The pipeline then checks, types, splits and encodes every chunk in
parallel with the same functions as the in-memory path, and writes each split as GZIP
TFRecord shards; row counts per split and per file are combined in the pipeline. No
step holds more than a chunk. A bad value does not stop the workers: every chunk
reports its first problem and the one a top-to-bottom read would have met first is
raised afterwards, so the message is the in-memory path's, and the output is discarded.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import apache_beam as beam

from mlpipe.config.dataset import DatasetConfig
from mlpipe.data.csv_source import _decode, _parse_header, _reader, _rows, string_frame
from mlpipe.errors import RowError, UserInputError

CHUNK_ROWS = 20_000
_HEAD_BYTES = 65536
_ERRORS, _COUNTS = "errors", "counts"


@dataclasses.dataclass(frozen=True)
class Source:
    split: str  # the split its rows go to (train is cut by hash when `split_by_hash`)
    location: str  # as the user gave it, for messages
    plain: str  # a local, uncompressed copy
    header: list[str]
    with_label: bool


def prepare(location: str, path: Path, scratch: Path) -> tuple[Path, str]:
    """(an uncompressed local file, the sha256 of the original bytes), in one streaming pass."""
    digest = hashlib.sha256()
    with open(path, "rb") as raw:
        magic = raw.read(2)
        if not magic:
            raise UserInputError(f"{location}: empty file")
        raw.seek(0)
        if magic != b"\x1f\x8b":
            for block in iter(lambda: raw.read(1 << 20), b""):
                digest.update(block)
            return path, digest.hexdigest()
        plain = Path(scratch) / f"{path.name}.{digest.name}.csv"
        try:
            with gzip.open(path, "rb") as unzipped, open(plain, "wb") as out:
                shutil.copyfileobj(unzipped, out, 1 << 20)
        except (OSError, EOFError) as exc:
            raise UserInputError(f"{path}: not a readable gzip file ({exc})") from None
        for block in iter(lambda: raw.read(1 << 20), b""):
            digest.update(block)
    return plain, digest.hexdigest()


def header_of(plain: Path, config: DatasetConfig, location: str) -> list[str]:
    with open(plain, "rb") as f:
        head = f.read(_HEAD_BYTES)
    cut = max(head.rfind(b"\n"), head.rfind(b"\r"))  # whole lines only: no split UTF-8 character
    return _parse_header(_decode(head[: cut + 1] if cut >= 0 else head, location), config.csv, location)


class _Counting:
    """Lines of a binary file as text, counting bytes and physical lines consumed so far."""

    def __init__(self, stream):
        self.stream, self.offset, self.lines = stream, 0, 0

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = self.stream.readline()
        if not line:
            raise StopIteration
        self.offset += len(line)
        self.lines += line.count(b"\n") + line.count(b"\r") - line.count(b"\r\n")
        return line.decode("utf-8", "surrogateescape")


def chunks(plain: Path, config: DatasetConfig, rows: int = CHUNK_ROWS) -> Iterator[tuple[int, int, int]]:
    """(start byte, end byte, first physical line) of runs of `rows` whole records after the
    header. The csv module finds where records end (quoted fields may span lines); where it
    cannot parse, the rest is one chunk, whose reader reports the error."""
    with open(plain, "rb") as stream:
        counting = _Counting(stream)
        reader = _reader(counting, config.csv)
        start, first_line, count = 0, 1, 0
        try:
            next(reader)  # the header
            start, first_line = counting.offset, counting.lines + 1
            for _ in reader:
                count += 1
                if count == rows:
                    yield start, counting.offset, first_line
                    start, first_line, count = counting.offset, counting.lines + 1, 0
        except (csv.Error, StopIteration):
            pass
        end = stream.seek(0, 2)
    if end > start:
        yield start, end, first_line


def _rank(exc: RowError, config: DatasetConfig) -> int:
    """The order in which the in-memory path meets problems: text, then records, then values
    column by column (numeric features, then the label)."""
    if exc.column is None:
        return 0 if "not UTF-8" in str(exc) else 1
    order = [*config.features.numeric, config.label_key]
    return 2 + order.index(exc.column)


class ConvertChunk(beam.DoFn):
    """A chunk's records as serialized tf.Examples per split, plus row counts, or its first error."""

    def __init__(self, config: DatasetConfig, sources: list[Source], split_by_hash: bool):
        self.config, self.sources, self.split_by_hash = config, sources, split_by_hash

    def setup(self):
        from tfx_bsl.coders.example_coder import RecordBatchToExamplesEncoder

        self.encoder = RecordBatchToExamplesEncoder()

    def process(self, chunk):
        from mlpipe.components.ingest.core import EVAL, TRAIN, hash_split
        from mlpipe.data.typed import to_record_batch, typed_frame

        index, start, end, first_line = chunk
        source, config = self.sources[index], self.config
        try:
            with open(source.plain, "rb") as f:
                f.seek(start)
                raw = f.read(end - start)
            text = _decode(raw, source.location, first_line)
            rows, lines = _rows(text, config.csv, len(source.header), source.location, first_line)
            if not rows:
                return
            frame = string_frame(rows, lines, source.header, config.csv)
            typed = typed_frame(frame, config, source.location, source.with_label)
        except RowError as exc:
            yield beam.pvalue.TaggedOutput(
                _ERRORS, json.dumps([index, _rank(exc, config), exc.line, str(exc)])
            )
            return
        if self.split_by_hash and source.split == TRAIN:
            is_eval = hash_split(frame, config.split.hash_key, config.split.eval_fraction)
            parts = {TRAIN: typed[~is_eval], EVAL: typed[is_eval]}
        else:
            parts = {source.split: typed}
        yield beam.pvalue.TaggedOutput(_COUNTS, (f"file:{index}", len(typed)))
        for split, part in parts.items():
            yield beam.pvalue.TaggedOutput(_COUNTS, (f"split:{split}", len(part)))
            if len(part):
                for record in self.encoder.encode(to_record_batch(part)):
                    yield beam.pvalue.TaggedOutput(split, record)


def run(
    config: DatasetConfig,
    sources: list[Source],
    work: list[tuple[int, int, int, int]],
    splits: list[str],
    split_by_hash: bool,
    out: Path,
    scratch: Path,
    options,
) -> tuple[dict[str, int], dict[int, int], list[list]]:
    """Run the pipeline; (rows per split, rows per file, errors as [file, rank, line, message])."""
    results = scratch / "ingest-results"
    results.mkdir()
    with beam.Pipeline(options=options) as p:
        converted = (
            p
            | "chunks" >> beam.Create(work)
            | "spread" >> beam.Reshuffle()
            | "convert"
            >> beam.ParDo(ConvertChunk(config, sources, split_by_hash)).with_outputs(
                _ERRORS, _COUNTS, *splits
            )
        )
        for split in splits:
            _ = converted[split] | f"write {split}" >> beam.io.WriteToTFRecord(
                str(out / f"Split-{split}" / "data"), file_name_suffix=".tfrecord.gz"
            )
        _ = (
            converted[_COUNTS]
            | "count" >> beam.CombinePerKey(sum)
            | "counts as json" >> beam.Map(json.dumps)
            | "write counts" >> beam.io.WriteToText(str(results / "counts"), file_name_suffix=".json")
        )
        _ = converted[_ERRORS] | "write errors" >> beam.io.WriteToText(
            str(results / "errors"), file_name_suffix=".json"
        )
    counts = [json.loads(line) for f in results.glob("counts*.json") for line in f.read_text().splitlines()]
    errors = [json.loads(line) for f in results.glob("errors*.json") for line in f.read_text().splitlines()]
    per_split = {k.removeprefix("split:"): n for k, n in counts if k.startswith("split:")}
    per_file = {int(k.removeprefix("file:")): n for k, n in counts if k.startswith("file:")}
    return per_split, per_file, errors
