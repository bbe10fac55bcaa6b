"""Reading and writing the data stages hand to each other: CSV sources (`csv_source`), GZIP
TFRecords (`tfrecord`), typed columns and tf.Examples as ingest writes them (`typed`), examples
(`examples`), artifact file names and readers (`artifacts`). Imports
`mlpipe.config`, `mlpipe.storage`, `mlpipe.errors`; no stage, no kfp."""
