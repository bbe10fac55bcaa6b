"""The model registry: its layout (`layout`), a directory backend (`local`), an S3 backend (`s3`),
and opening one by URI with the queries stages make (`access`). Imports `mlpipe.storage`, `mlpipe.errors`."""
