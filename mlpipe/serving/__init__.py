"""Serving names from params.env (`names`), rollouts (`rollout`, `blue_green`, `shadow`), their
status (`status`), and what is deployed or served now (`live`, `state`). Imports `mlpipe.storage`,
`mlpipe.errors` and the kubernetes client; no stage, no kfp."""
