"""What every stage process sets up: container image names (`images`, stdlib only), logging and
progress lines (`logs`), Beam pipeline options (`beam`). Imports `mlpipe.config` at most; no stage, no kfp."""
