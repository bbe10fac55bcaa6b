"""Write outputs so a failed stage leaves nothing half-written behind.

Everything is built in a hidden sibling directory and renamed into place only
when complete; a rename within one filesystem is atomic.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a scratch directory that becomes `target` only if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield scratch
        scratch.chmod(0o755)  # mkdtemp makes it private; outputs are read by other users (containers)
        if target.exists():
            if target.is_dir() and not any(target.iterdir()):
                target.rmdir()
            else:
                raise FileExistsError(f"output {target} already exists; refusing to overwrite it")
        os.replace(scratch, target)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise


def atomic_write_text(target: str | os.PathLike, text: str) -> None:
    """Write a text file through a temporary sibling and a rename."""
    atomic_write_bytes(target, text.encode("utf-8"))


def atomic_write_bytes(target: str | os.PathLike, data: bytes) -> None:
    """Write a file through a temporary sibling and a rename."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.tmp-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; outputs are read by other users (containers)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
