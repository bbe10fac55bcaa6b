"""Registry layout shared by both backends (a directory and S3); stdlib only.

    <model>/_claims/<N>.json          claim of version number N (created once, atomically)
    <model>/_staging/<N>-<token>/...  an upload in progress (removed when done, or by cleanup)
    <model>/<N>/<N>/...               version N's SavedModel: the serving prefix `<model>/<N>/`
                                      holds exactly the folder `<N>/` TF Serving wants
    <model>/_attachments/<N>/<name>/  what a version carries besides the model (statistics)
    <model>/_published/<N>.json       completion marker and metadata, written last
    <model>/_serving.json             the version serving was last pointed at (push, rollback)

A version is claimed before anything is uploaded (a conditional create, so two publishers never
get the same number), uploaded under `_staging/`, moved (local: rename) or copied (S3: server
side) into `<N>/` only when the upload is complete, and becomes visible when its marker exists.
Serving is only ever pointed at a version with a marker. A publish that dies leaves a claim (the
number is never reused), maybe staging objects, maybe an unmarked `<N>/`: `cleanup` removes the
last two once they are older than a bound.
"""

from __future__ import annotations

import time

MARKERS = "_published"
STAGING = "_staging"
CLAIMS = "_claims"
SERVING_POINTER = "_serving.json"
ATTACHMENTS = "_attachments"
# An unfinished publish older than this is abandoned: cleanup (run by every publish) removes its
# staging objects, incomplete multipart uploads and unmarked version folder.
STALE_AFTER_SECONDS = 6 * 3600
# How many taken numbers a publish skips before giving up (other publishers racing it).
CLAIM_ATTEMPTS = 1000


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def numbers(names) -> set[int]:
    """The version numbers among names such as `3`, `3.json`, `3/`."""
    stems = (n.rstrip("/").rsplit("/", 1)[-1].removesuffix(".json") for n in names)
    return {int(s) for s in stems if s.isdigit()}
