"""The `mlpipe` command line (`main` builds the parser; one module per group of subcommands). The top of
the import graph: it may import `pipelines`, the stages and the rest of the library."""
