"""Reading ingested examples back: as Arrow (for TFDV and vocabularies) or as columns.

Shared by the stages that read the `examples` artifact, so that every stage
decodes tf.Examples the same way (tfx-bsl's decoder, no TensorFlow import).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from mlpipe.data.tfrecord import read_records, split_files

_DECODE_BATCH = 50_000


def splits_of(examples_dir: str | Path) -> list[str]:
    return sorted(p.name.removeprefix("Split-") for p in Path(examples_dir).glob("Split-*") if p.is_dir())


def load_examples(examples_dir: str | Path, split: str) -> pa.RecordBatch:
    """One split's tf.Examples decoded into one Arrow record batch."""
    from tfx_bsl.coders.example_coder import ExamplesToRecordBatchDecoder

    decoder = ExamplesToRecordBatchDecoder()
    batches, chunk = [], []
    for path in split_files(examples_dir, split):
        for record in read_records(path):
            chunk.append(record)
            if len(chunk) == _DECODE_BATCH:
                batches.append(decoder.DecodeBatch(chunk))
                chunk = []
    if chunk:
        batches.append(decoder.DecodeBatch(chunk))
    if len(batches) == 1:
        return batches[0]
    return pa.Table.from_batches(batches).combine_chunks().to_batches()[0]


def column_values(batch: pa.RecordBatch, name: str) -> np.ndarray:
    """The first value of each row of a list column, None where missing (object array)."""
    column = batch.column(batch.schema.get_field_index(name))
    values = np.full(len(column), None, dtype=object)
    present = ~np.asarray(column.is_null())
    lengths = np.asarray(column.value_lengths().fill_null(0))
    present &= lengths > 0
    flat = column.flatten().to_numpy(zero_copy_only=False)
    starts = np.asarray(column.offsets)[:-1][present]
    values[present] = flat[starts - np.asarray(column.offsets)[0]]
    return values


def read_split_records(examples_dir: str | Path, split: str, limit: int | None = None) -> list[bytes]:
    """Serialized tf.Examples of a split (for signatures that take them)."""
    records = []
    for path in split_files(examples_dir, split):
        for record in read_records(path):
            records.append(record)
            if limit is not None and len(records) >= limit:
                return records
    return records
