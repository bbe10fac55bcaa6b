"""Names and keys that become local paths, checked so no read or write leaves its root.

A model name from a config, an attachment name, a version number or an object
key listed by a bucket each end up inside a local directory; anything that
could climb out of it (`..`, an absolute path, `a/b` where one component is
expected) is refused with one line naming it.
"""

from __future__ import annotations

import re

from mlpipe.errors import UserInputError

# Model and attachment names are single path components (and Kubernetes names): nothing that
# could climb out of the registry root, such as `..`, `a/b` or an absolute path.
_NAME = re.compile(r"[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?")


def check_name(name: object, what: str = "model name") -> str:
    """`name` when it is one safe path component, else a UserInputError naming it."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise UserInputError(
            f"registry {what} {name!r} must be lower-case letters, digits, '-' or '_' "
            "(one path component inside the registry)"
        )
    return name


def check_version(version: object) -> int:
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise UserInputError(f"registry version {version!r} must be a non-negative whole number")
    return version


def relative_key(name: str, prefix: str) -> str | None:
    """The part of object key `name` under `prefix`, refused when it would leave the folder it is
    downloaded into (`..`, `.`, an empty or an absolute part); None for a folder marker (`a/b/`)."""
    rel = name[len(prefix) :]
    parts = rel.removesuffix("/").split("/")
    if (
        not name.startswith(prefix)
        or not rel
        or rel.startswith("/")
        or any(p in ("", ".", "..") for p in parts)
    ):
        raise UserInputError(f"object key {name!r} would be written outside its folder under {prefix!r}")
    return None if rel.endswith("/") else rel
