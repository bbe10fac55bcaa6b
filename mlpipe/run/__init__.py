"""Running pipelines on this machine: kfp.local with per-stage logs and summary (`local`), the stage
server (`preimported`), interrupts (`interrupt`), the compiled IR in containers (`containers`) and the
terminal view (`terminal`). Above the pipelines: it may import `pipelines` and the library, never the CLI."""
