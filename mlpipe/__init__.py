"""mlpipe: a Kubeflow-native tabular ML pipeline package.

The import package maps the repository's folders: `mlpipe.components` is
`components/` (one folder per stage plus the shared modules) and
`mlpipe.pipelines` is `pipelines/` (the pipeline definitions, the local
runner and the `mlpipe` CLI).
"""

__version__ = "0.1.0"
