"""The dataset config: its pydantic models (`dataset`) and how it is read and checked (`io`).

Imports only `mlpipe.errors` and the CSV header reader of `mlpipe.data.csv_source`; no stage, no kfp."""
