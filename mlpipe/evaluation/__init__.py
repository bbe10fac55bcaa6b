"""What evaluate and monitoring share of TFMA: the EvalConfig and run (`tfma_run`), reading its
results (`results`), the fairness gates and blessing (`gates`). Imports `mlpipe.config`, `mlpipe.data`,
`mlpipe.runtime`; no stage, no kfp."""
