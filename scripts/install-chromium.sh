#!/usr/bin/env bash
# Debian's chromium for the dashboard's headless-browser test (tests/unit/test_monitor.py):
# prints its path; installs it with apt-get when missing (needs root). Called by `make test-servers`.
set -euo pipefail
for name in chromium chromium-browser; do
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; exit 0; fi
done
if [ "$(id -u)" != 0 ]; then
  echo "chromium is not installed and installing it needs root: apt-get install chromium" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! apt-cache policy chromium 2>/dev/null | grep -q 'Candidate: [0-9]'; then
  apt-get update -qq >&2
fi
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2
command -v chromium
