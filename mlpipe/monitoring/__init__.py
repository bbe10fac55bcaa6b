"""What the monitoring steps and `mlpipe monitor` share: the served version's monitoring history in
the registry (`history`), labelled feedback and retraining data (`feedback`), data quality against
the schema (`quality`). Imports `mlpipe.registry`, `mlpipe.data`, `mlpipe.config`; no stage, no kfp."""
