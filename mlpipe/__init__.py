"""mlpipe: a Kubeflow-native tabular ML pipeline package.

One import package over three folders. `mlpipe/` (this folder) is the library: subject packages
(`config`, `data`, `storage`, `runtime`, `model`, `registry`, `serving`, `evaluation`,
`monitoring`, `cluster`) that the stages build on, and at the top the runners (`run`) and the CLI
(`cli`). `mlpipe.components` is the folder `components/` (one folder per stage) and
`mlpipe.pipelines` is `pipelines/` (the DAGs), mapped by pyproject's `package-dir`.
ARCHITECTURE.md has the import rules; tests/unit/test_import_graph.py keeps them.
"""

__version__ = "0.1.0"
