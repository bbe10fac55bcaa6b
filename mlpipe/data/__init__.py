"""Reading and writing the data stages hand to each other: CSV sources (`csv_source`), GZIP
TFRecords (`tfrecord`), examples (`examples`), artifact file names and readers (`artifacts`). Imports
`mlpipe.config`, `mlpipe.storage`, `mlpipe.errors`; no stage, no kfp."""
