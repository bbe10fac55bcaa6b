#!/usr/bin/env bash
# Build a Python 3.11 base image without any container registry:
# debootstrap (Debian bookworm, minbase) + `docker import`.
#
# For machines that reach a Debian mirror but no registry (no Docker Hub), the
# image stands in for python:3.11-slim-bookworm; pass it to the Dockerfiles as
# `--build-arg BASE_IMAGE=mlpipe-base:py311-bookworm` (`make images` does when
# BASE_IMAGE is set). Debian bookworm's python3 is 3.11; `python-is-python3`
# provides `python`.
#
# Idempotent: does nothing when the tag exists (FORCE=1 rebuilds).
# Needs root (debootstrap), debootstrap (installed with apt-get when missing)
# and a running Docker engine (scripts/start-dockerd.sh).
#
# Environment:
#   DOCKER         docker CLI (default: docker)
#   BASE_TAG       image tag (default: mlpipe-base:py311-bookworm)
#   DEBIAN_MIRROR  mirror URL (default: the Debian mirror apt uses here,
#                  else http://deb.debian.org/debian)
#   SUITE          Debian suite (default: bookworm)
#   FORCE=1        rebuild even when the tag exists
set -euo pipefail

DOCKER=${DOCKER:-docker}
BASE_TAG=${BASE_TAG:-mlpipe-base:py311-bookworm}
SUITE=${SUITE:-bookworm}
PACKAGES=python3,python3-venv,python-is-python3,ca-certificates

say() { echo "make-base-image: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

if [ "${FORCE:-0}" != 1 ] && "$DOCKER" image inspect "$BASE_TAG" >/dev/null 2>&1; then
  say "$BASE_TAG exists; nothing to do (FORCE=1 rebuilds)"
  exit 0
fi

[ "$(id -u)" -eq 0 ] || die "debootstrap needs root"
"$DOCKER" info >/dev/null 2>&1 || die "no Docker engine answers; run scripts/start-dockerd.sh"

if ! command -v debootstrap >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || die "debootstrap is missing and apt-get is not available"
  say "installing debootstrap (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends debootstrap >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends debootstrap >/dev/null; } ||
    die "apt-get install debootstrap failed"
fi

# The Debian archive mirror apt already uses: deb822 `URIs:` fields in
# sources.list.d/*.sources and one-line `deb URI suite ...` entries; the first
# URI whose path ends in /debian (not -security, -ports, third-party repos).
mirror_from_apt() {
  local files=() f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && files+=("$f")
  done
  [ "${#files[@]}" -gt 0 ] || return 0
  sed -e 's/#.*//' "${files[@]}" |
    awk '/^[[:space:]]*URIs:/ { for (i = 2; i <= NF; i++) print $i }
         /^[[:space:]]*deb[[:space:]]/ { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { print $i; break } }' |
    grep -E '^https?://[^ ]+/debian/?$' | head -n 1 | sed 's:/*$::'
}
MIRROR=${DEBIAN_MIRROR:-$(mirror_from_apt)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}

work=$(mktemp -d /var/tmp/mlpipe-base.XXXXXX)
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs

start=$(date +%s)
say "debootstrap --variant=minbase $SUITE from $MIRROR (+ $PACKAGES)"
if ! debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1; then
  tail -n 20 "$work/debootstrap.log" >&2
  [ -f "$rootfs/debootstrap/debootstrap.log" ] && tail -n 20 "$rootfs/debootstrap/debootstrap.log" >&2
  die "debootstrap failed (mirror $MIRROR)"
fi
boot_s=$(($(date +%s) - start))

# Slim the tree: package caches, docs, man pages and files the engine provides.
rm -rf "${rootfs:?}"/var/cache/apt/archives/*.deb "${rootfs:?}"/var/cache/apt/*.bin \
  "${rootfs:?}"/var/lib/apt/lists/* "${rootfs:?}"/usr/share/doc/* "${rootfs:?}"/usr/share/man/* \
  "${rootfs:?}"/usr/share/info/* "${rootfs:?}"/var/log/*.log "${rootfs:?}"/var/log/apt/* \
  "${rootfs:?}"/debootstrap "${rootfs:?}"/dev/* "${rootfs:?}"/etc/resolv.conf "${rootfs:?}"/etc/hostname
find "$rootfs"/usr/lib/python3* -name __pycache__ -type d -prune -exec rm -rf {} + 2>/dev/null || true
: >"$rootfs"/etc/machine-id
# apt inside the image (build stages install a compiler) uses the same mirror.
echo "deb $MIRROR $SUITE main" >"$rootfs"/etc/apt/sources.list

tar --numeric-owner -C "$rootfs" -c . |
  "$DOCKER" import \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["python3"]' \
    --message "debootstrap --variant=minbase $SUITE + $PACKAGES" \
    - "$BASE_TAG" >/dev/null
total_s=$(($(date +%s) - start))

version=$("$DOCKER" run --rm --network none "$BASE_TAG" python3 --version 2>&1) || die "the imported image does not run python3: $version"
size=$("$DOCKER" image inspect --format '{{.Size}}' "$BASE_TAG")
say "built $BASE_TAG ($version, $((size / 1000000)) MB) in ${total_s}s (debootstrap ${boot_s}s)"
