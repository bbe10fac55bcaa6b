#!/usr/bin/env python3
"""A one-layer OCI image archive from static binaries, for `ctr images import` on the node
(scripts/start-node.sh): no registry is reachable here and the node needs no Docker.

    oci_image.py OUT.tar NAME:TAG --file SRC:/DEST [--file ...] --entrypoint /DEST [--user UID:GID]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import tarfile
from pathlib import Path


def _blob(archive: tarfile.TarFile, data: bytes, media_type: str) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    info = tarfile.TarInfo(f"blobs/sha256/{digest}")
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))
    return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}


def _layer(files: list[tuple[Path, str]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as layer:
        for source, dest in files:
            info = layer.gettarinfo(str(source), dest.lstrip("/"))
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            info.mode = 0o755
            with source.open("rb") as handle:
                layer.addfile(info, handle)
    return out.getvalue()


def build(out: Path, ref: str, files: list[tuple[Path, str]], entrypoint: list[str], user: str) -> None:
    layer = _layer(files)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Entrypoint": entrypoint, "User": user, "Env": ["PATH=/"]},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{hashlib.sha256(layer).hexdigest()}"]},
    }
    with tarfile.open(out, "w") as archive:
        layout = json.dumps({"imageLayoutVersion": "1.0.0"}).encode()
        info = tarfile.TarInfo("oci-layout")
        info.size = len(layout)
        archive.addfile(info, io.BytesIO(layout))
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": _blob(archive, json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json"),
            "layers": [_blob(archive, layer, "application/vnd.oci.image.layer.v1.tar")],
        }
        descriptor = _blob(archive, json.dumps(manifest).encode(), manifest["mediaType"])
        descriptor["annotations"] = {
            "io.containerd.image.name": ref,
            "org.opencontainers.image.ref.name": ref.rsplit(":", 1)[1],
        }
        index = json.dumps({"schemaVersion": 2, "manifests": [descriptor]}).encode()
        info = tarfile.TarInfo("index.json")
        info.size = len(index)
        archive.addfile(info, io.BytesIO(index))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("ref", help="NAME:TAG")
    parser.add_argument("--file", action="append", required=True, help="SRC:/DEST")
    parser.add_argument("--entrypoint", required=True)
    parser.add_argument("--user", default="65535:65535")
    args = parser.parse_args()
    files = [(Path(src), dest) for src, dest in (f.split(":", 1) for f in args.file)]
    build(args.out, args.ref, files, [args.entrypoint], args.user)


if __name__ == "__main__":
    main()
