"""Imported last by the stage server (mlpipe/run/preimported.py): marks its imports done."""

import os

_marker = os.environ.get("MLPIPE_PREIMPORT_READY")
if _marker:
    with open(_marker, "w") as _f:
        _f.write(str(os.getpid()))
