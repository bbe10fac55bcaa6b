#!/usr/bin/env bash
# Measure the container images: cold build (no layer cache; the base image
# present), cached rebuild (nothing changed), rebuild after a code change, and
# sizes. Prints figures; asserts nothing. Builds one image at a time.
#
# "Cold" removes the two images and every untagged image (the legacy
# builder's layer cache is its untagged intermediate images) plus BuildKit's
# cache, then builds as a fresh machine does. `--no-cache` is not used: it
# leaves duplicate layer chains that make the next "cached" build miss.
# Warning: it removes ALL untagged images and build cache of this engine.
#
#   scripts/bench_images.sh                                   # base: Dockerfile default
#   BASE_IMAGE=mlpipe-base:py311-bookworm scripts/bench_images.sh
#   BENCH_BASE=1 BASE_IMAGE=mlpipe-base:py311-bookworm scripts/bench_images.sh  # + base image (FORCE=1)
#
# The code-change rebuild runs in a temporary copy of the build context with a
# comment appended to components/__init__.py; the working tree is not touched.
set -euo pipefail
cd "$(dirname "$0")/.."

DOCKER=${DOCKER:-docker}
BASE_IMAGE=${BASE_IMAGE:-}
export DOCKER

log=$(mktemp -d /tmp/mlpipe-bench.XXXXXX)
echo "logs: $log"
scripts/start-dockerd.sh

if [ "${BENCH_BASE:-0}" = 1 ]; then
  start=$SECONDS
  FORCE=1 BASE_TAG=${BASE_IMAGE:-mlpipe-base:py311-bookworm} scripts/make-base-image.sh 2>&1 | tee "$log/base.log" | tail -n 1
  echo "base image: $((SECONDS - start))s"
fi

build() {  # $1: label, $2: make directory, rest: extra make arguments
  local label=$1 dir=$2
  shift 2
  local start=$SECONDS
  make --no-print-directory -C "$dir" images BASE_IMAGE="$BASE_IMAGE" DOCKER="$DOCKER" "$@" >"$log/$label.log" 2>&1 ||
    { tail -n 40 "$log/$label.log"; echo "build failed: $log/$label.log" >&2; exit 1; }
  grep '^==> built' "$log/$label.log" | sed "s/^==> built/  $label:/"
  echo "  $label: both images in $((SECONDS - start))s"
}

read -r tf_tag push_tag _ < <(python3 mlpipe/runtime/images.py)
"$DOCKER" image rm "$tf_tag" "$push_tag" >/dev/null 2>&1 || true
for _ in 1 2 3 4 5; do  # each prune removes the current leaves of the untagged chains
  [ -n "$("$DOCKER" image ls -q --filter dangling=true)" ] || break
  "$DOCKER" image prune -f >/dev/null
done
"$DOCKER" builder prune -af >/dev/null 2>&1 || true
echo "cold build (empty layer cache, base image present):"
build cold .
echo "cached rebuild (no change):"
build cached .
echo "rebuild after a code change (components/__init__.py):"
ctx=$(mktemp -d /tmp/mlpipe-bench-ctx.XXXXXX)
trap 'rm -rf "$ctx"' EXIT
tar --exclude=./.venv --exclude=./.git --exclude=./runs --exclude=./registry --exclude=./data -cf - . | tar -C "$ctx" -xf -
echo "# bench $(date +%s)" >>"$ctx/components/__init__.py"
build code-change "$ctx" IMAGE_REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
# Rebuild from the real tree so the tags hold the working tree's code again.
build restore .

echo "sizes:"
"$DOCKER" image ls --format '  {{.Repository}}:{{.Tag}}  {{.Size}}' | grep -E " *(${tf_tag//./\\.}|${push_tag//./\\.}|mlpipe-base:)" || true
for t in "$tf_tag" "$push_tag"; do
  bytes=$("$DOCKER" image inspect --format '{{.Size}}' "$t")
  echo "  $t: $((bytes / 1000000)) MB (docker image inspect)"
done
