"""Writing outputs without half-written leftovers (`atomic`), the object-store client from the
environment (`s3`), and names that cannot escape their root (`safe_paths`). Imports only `mlpipe.errors`."""
