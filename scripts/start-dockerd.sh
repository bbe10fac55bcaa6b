#!/usr/bin/env bash
# Make sure a Docker engine answers `docker info`; start one if none does.
#
# Idempotent: does nothing when a daemon already answers. Otherwise (as root)
# installs Debian's `docker.io` when `dockerd` is missing, then starts it:
#   - through systemd when the machine runs systemd;
#   - else as a background `dockerd` process with flags that work in
#     containers/VMs without systemd (verified on Debian 12, docker.io
#     20.10.24, cgroup v1):
#       --iptables=false --bridge=none   no host firewall/bridge changes;
#                                        containers get no network unless
#                                        run with --network host
#       --storage-driver=overlay2        falls back to vfs if overlay2 fails
# Then waits until `docker info` answers.
#
# Exit status: 0 an engine answers; 2 no engine can be started on this machine
# by this script (not root and none running, or no dockerd and no apt-get);
# 1 starting one was tried and failed. The container tests skip on 2 only.
#
# Environment:
#   DOCKER                 docker CLI to use (default: docker)
#   MLPIPE_DOCKERD_FLAGS   replace the network flags above
#   MLPIPE_DOCKERD_LOG     daemon log file (default: /var/log/mlpipe-dockerd.log)
#   MLPIPE_DOCKERD_TIMEOUT seconds to wait for the daemon (default: 60)
set -euo pipefail

DOCKER=${DOCKER:-docker}
LOG=${MLPIPE_DOCKERD_LOG:-/var/log/mlpipe-dockerd.log}
TIMEOUT=${MLPIPE_DOCKERD_TIMEOUT:-60}
NET_FLAGS=${MLPIPE_DOCKERD_FLAGS:---iptables=false --bridge=none}

say() { echo "start-dockerd: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }
unavailable() { say "UNAVAILABLE: $*"; exit 2; }

answers() { "$DOCKER" info >/dev/null 2>&1; }

wait_ready() {  # $1: pid of the daemon we started (or empty)
  local waited=0
  while ! answers; do
    if [ -n "${1:-}" ] && ! kill -0 "$1" 2>/dev/null; then
      return 1
    fi
    if [ "$waited" -ge "$TIMEOUT" ]; then
      return 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
}

if answers; then
  say "a Docker engine already answers ($("$DOCKER" version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
  exit 0
fi

if ! command -v "$DOCKER" >/dev/null 2>&1 && ! command -v dockerd >/dev/null 2>&1 && [ "$(id -u)" -ne 0 ]; then
  unavailable "no docker CLI or dockerd found and not root: install Docker (https://docs.docker.com/engine/install/)"
fi

if [ "$(id -u)" -ne 0 ]; then
  err=$("$DOCKER" info 2>&1 >/dev/null | tail -n 1 || true)
  unavailable "no Docker engine answers ('$err') and starting one needs root: start Docker (e.g. 'sudo systemctl start docker') or add your user to the docker group"
fi

if ! command -v dockerd >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || unavailable "dockerd is missing and apt-get is not available: install Docker by hand"
  say "installing Debian's docker.io (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null || die "apt-get update failed"
  apt-get install -y -q --no-install-recommends docker.io >/dev/null || die "apt-get install docker.io failed"
  command -v dockerd >/dev/null 2>&1 || die "docker.io installed but dockerd is still missing"
fi
# docker.io brings a CLI too; use it when no other one was found.
command -v "$DOCKER" >/dev/null 2>&1 || DOCKER=/usr/bin/docker

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  say "starting docker through systemd"
  if systemctl start docker && wait_ready ""; then
    say "ready (systemd)"
    exit 0
  fi
  say "systemd could not start docker; starting dockerd directly"
fi

# A stale pid file from a daemon that died would stop a new one from starting.
if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
  rm -f /var/run/docker.pid
fi
if pgrep -x dockerd >/dev/null 2>&1; then
  say "a dockerd process exists but does not answer yet; waiting"
  wait_ready "" && { say "ready"; exit 0; }
  die "dockerd is running but '$DOCKER info' does not answer after ${TIMEOUT}s; see $LOG"
fi

mkdir -p "$(dirname "$LOG")"
for driver in overlay2 vfs; do
  say "starting dockerd ($NET_FLAGS --storage-driver=$driver); log: $LOG"
  # shellcheck disable=SC2086  # NET_FLAGS is a list of flags
  setsid nohup dockerd $NET_FLAGS --storage-driver="$driver" >>"$LOG" 2>&1 </dev/null &
  pid=$!
  if wait_ready "$pid"; then
    say "ready: dockerd pid $pid, storage driver $driver, server $("$DOCKER" version --format '{{.Server.Version}}' 2>/dev/null || echo '?')"
    exit 0
  fi
  kill "$pid" 2>/dev/null || true
  sleep 2
  say "dockerd with --storage-driver=$driver did not come up; last log lines:"
  tail -n 5 "$LOG" >&2 || true
done
die "could not start a Docker engine on this machine; see $LOG"
