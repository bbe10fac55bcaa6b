#!/usr/bin/env bash
# Print the base image `make images` builds on: the default base when the
# engine has it or can pull it, else the debootstrap base (built when missing).
#
# A machine with no container registry (no Docker Hub) cannot pull
# python:3.11-slim-bookworm; it gets mlpipe-base:py311-bookworm from
# scripts/make-base-image.sh instead, with no setting to know about. An
# explicit `make images BASE_IMAGE=...` skips this script.
#
# stdout: the chosen image, alone; messages go to stderr.
# Exit status: 0 chosen; 1 neither base can be had.
#
# Environment:
#   DOCKER             docker CLI (default: docker)
#   DEFAULT_BASE       the preferred base (default: python:3.11-slim-bookworm)
#   BASE_TAG           the debootstrap base (default: mlpipe-base:py311-bookworm)
#   BASE_PULL_TIMEOUT  seconds a pull of DEFAULT_BASE may take (default: 300)
#   MAKE_BASE          command that builds BASE_TAG (default: scripts/make-base-image.sh)
set -euo pipefail

DOCKER=${DOCKER:-docker}
DEFAULT_BASE=${DEFAULT_BASE:-python:3.11-slim-bookworm}
BASE_TAG=${BASE_TAG:-mlpipe-base:py311-bookworm}
BASE_PULL_TIMEOUT=${BASE_PULL_TIMEOUT:-300}
MAKE_BASE=${MAKE_BASE:-$(dirname "$0")/make-base-image.sh}

say() { echo "choose-base-image: $*" >&2; }

if "$DOCKER" image inspect "$DEFAULT_BASE" >/dev/null 2>&1; then
  echo "$DEFAULT_BASE"
  exit 0
fi

say "pulling $DEFAULT_BASE"
err=$(mktemp)
trap 'rm -f "$err"' EXIT
if timeout "$BASE_PULL_TIMEOUT" "$DOCKER" pull --quiet "$DEFAULT_BASE" >/dev/null 2>"$err"; then
  echo "$DEFAULT_BASE"
  exit 0
fi
reason=$(tail -n 1 "$err" | cut -c1-200)
say "cannot pull $DEFAULT_BASE (${reason:-timed out after ${BASE_PULL_TIMEOUT}s}): no registry reachable?"
say "building on the debootstrap base $BASE_TAG instead (make base-image; BASE_IMAGE=... picks another base)"
if ! DOCKER="$DOCKER" BASE_TAG="$BASE_TAG" $MAKE_BASE >&2; then
  say "ERROR: could not build $BASE_TAG either; see the messages above"
  exit 1
fi
echo "$BASE_TAG"
