"""Talking to a Kubeflow Pipelines endpoint: submitting a compiled package as a run or a recurring
run (`submit`). Imports `mlpipe.config`, `mlpipe.serving`; no stage, no pipeline definition."""
