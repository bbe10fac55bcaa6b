"""Pipelines wired from the stages in `components/`, the local runner and the `mlpipe` CLI."""
