"""What the monitoring stages and `mlpipe monitor` share: the served version's monitoring history in
the registry (`history`), labelled feedback, the retraining data. Imports `mlpipe.registry`,
`mlpipe.data`, `mlpipe.config`; no stage, no kfp."""
