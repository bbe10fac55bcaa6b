#!/usr/bin/env bash
# start-node.sh - a real Kubernetes node on this machine for a control plane that
# start-control-plane.sh started: containerd (CRI) + runc + CNI bridge from Debian's packages,
# kubelet and kube-scheduler built from source (build-test-servers.sh node), a locally built
# pause image as the sandbox image, and the probe-server image for tests. Needs root.
#
#   start-node.sh start CONTROL_PLANE_DIR [WORKDIR]  -> prints WORKDIR; writes WORKDIR/env
#   start-node.sh stop  WORKDIR                      -> stops the node, removes its pods' mounts
#   start-node.sh import WORKDIR IMAGE.tar           -> imports an image archive (docker save / OCI)
#
# WORKDIR/env exports: NODE_NAME, NODE_IP, NODE_CTR (a ctr command line for its containerd),
#   NODE_PROBE_IMAGE (an HTTP server: /healthz, / answers "<pod> $VERSION uid=<uid>"), NODE_DIR.
# What this VM needs (found by running it): its processes lack CAP_SYS_RESOURCE, so runc cannot
# set the sandbox's oom_score_adj -998 ("can't get final child's PID from pipe: EOF";
# runc --debug: "failed to update /proc/self/oom_score_adj: Permission denied"): containerd
# runs with restrict_oom_score_adj and kubelet with --oom-score-adj=0; the kernel has no dummy
# interface, so the node IP is an address on lo (kubelet refuses a loopback node IP).
# Env: MLPIPE_CACHE, K8S_VERSION, NODE_IP (10.250.0.1), POD_CIDR (10.244.0.0/24), READY_TIMEOUT (120)
set -euo pipefail

CACHE=${MLPIPE_CACHE:-$HOME/.cache/mlpipe}
BIN=$CACHE/bin
K8S_VERSION=${K8S_VERSION:-v1.33.13}
NODE_IP=${NODE_IP:-10.250.0.1}
POD_CIDR=${POD_CIDR:-10.244.0.0/24}
READY_TIMEOUT=${READY_TIMEOUT:-120}
NODE_NAME=mlpipe-node
HERE=$(cd "$(dirname "$0")" && pwd)
PAUSE_IMAGE=mlpipe.local/pause:$K8S_VERSION
PROBE_IMAGE=mlpipe.local/probe-server:1

log() { printf '[node %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

packages() { # containerd, runc and the CNI plugins from Debian, once
  if command -v containerd >/dev/null && command -v runc >/dev/null && [ -x /usr/lib/cni/bridge ]; then
    return
  fi
  [ "$(id -u)" = 0 ] || die "containerd/runc/CNI plugins missing and not root to install them"
  log "installing containerd, runc, containernetworking-plugins (Debian)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q containerd runc containernetworking-plugins >&2 \
    || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q containerd runc containernetworking-plugins >&2; } \
    || die "apt-get install containerd runc containernetworking-plugins failed"
}

start_bg() { # start_bg NAME cmd... -> records pid
  local name=$1; shift
  setsid "$@" >"$N/logs/$name.log" 2>&1 </dev/null &
  echo "$name $!" >>"$N/pids"
}

until_ok() { # until_ok WHAT SECONDS cmd...
  local what=$1 limit=$2; shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "$what not ready after ${limit}s (logs in $N/logs)"
    sleep 0.5
  done
}

cmd_start() {
  local CP=${1:?usage: start CONTROL_PLANE_DIR [WORKDIR]}
  N=${2:-$(mktemp -d /tmp/mlpipe-node.XXXXXX)}
  mkdir -p "$N/logs" "$N/cni" && : >"$N/pids"
  N=$(cd "$N" && pwd)
  [ "$(id -u)" = 0 ] || die "a node needs root (containerd, kubelet)"
  local kubelet=$BIN/kubelet-$K8S_VERSION sched=$BIN/kube-scheduler-$K8S_VERSION pause=$BIN/pause-$K8S_VERSION
  local probe; probe=$(ls "$BIN"/probe-server-* 2>/dev/null | head -n1)
  for b in "$kubelet" "$sched" "$pause" "$probe"; do
    [ -x "$b" ] || die "missing ${b:-probe-server} (run scripts/build-test-servers.sh node)"
  done
  packages
  # shellcheck disable=SC1091
  source "$CP/env"
  local t0=$SECONDS
  trap 'if [ "${STARTED_OK:-0}" != 1 ]; then log "start failed; stopping (logs kept in $N/logs)"; cmd_stop "$N"; fi' EXIT

  # node identity: a client cert system:node:<name> in system:nodes (the Node authorizer's)
  openssl req -newkey rsa:2048 -nodes -subj "/O=system:nodes/CN=system:node:$NODE_NAME" \
    -keyout "$N/node.key" -out "$N/node.csr" 2>/dev/null
  openssl x509 -req -in "$N/node.csr" -CA "$CP/pki/ca.crt" -CAkey "$CP/pki/ca.key" -CAcreateserial \
    -days 30 -extfile "$CP/pki/client.ext" -out "$N/node.crt" 2>/dev/null
  local k="kubectl --kubeconfig=$N/node.kubeconfig"
  $k config set-cluster local --server="$KUBE_APISERVER_URL" --certificate-authority="$CP/pki/ca.crt" --embed-certs=true >/dev/null
  $k config set-credentials node --client-certificate="$N/node.crt" --client-key="$N/node.key" --embed-certs=true >/dev/null
  $k config set-context local --cluster=local --user=node >/dev/null
  $k config use-context local >/dev/null

  ip addr show dev lo | grep -q " $NODE_IP/" || ip addr add "$NODE_IP/32" dev lo
  echo "$NODE_IP" >"$N/node-ip"

  cat >"$N/cni/10-mlpipe.conflist" <<EOF
{"cniVersion": "0.4.0", "name": "mlpipe-pods", "plugins": [
  {"type": "bridge", "bridge": "mlpipe0", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "dataDir": "$N/cni-ipam", "ranges": [[{"subnet": "$POD_CIDR"}]]}},
  {"type": "portmap", "capabilities": {"portMappings": true}},
  {"type": "loopback"}]}
EOF
  cat >"$N/containerd.toml" <<EOF
version = 2
root = "$N/containerd/root"
state = "$N/containerd/state"
[grpc]
  address = "$N/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$N/cni"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      SystemdCgroup = false
EOF
  start_bg containerd containerd --config "$N/containerd.toml"
  local ctr="ctr --address $N/containerd.sock -n k8s.io"
  until_ok containerd 30 $ctr version
  python3 "$HERE/node/oci_image.py" "$N/pause.tar" "$PAUSE_IMAGE" --file "$pause:/pause" --entrypoint /pause
  python3 "$HERE/node/oci_image.py" "$N/probe.tar" "$PROBE_IMAGE" --file "$probe:/probe-server" --entrypoint /probe-server
  $ctr images import "$N/pause.tar" >/dev/null && $ctr images import "$N/probe.tar" >/dev/null

  cat >"$N/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 0
authentication: {anonymous: {enabled: false}, webhook: {enabled: false}, x509: {clientCAFile: "$CP/pki/ca.crt"}}
authorization: {mode: AlwaysAllow}
cgroupDriver: cgroupfs
failSwapOn: false
containerRuntimeEndpoint: unix://$N/containerd.sock
serializeImagePulls: false
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
resolvConf: /etc/resolv.conf
podCIDR: $POD_CIDR
EOF
  start_bg kubelet "$kubelet" --config="$N/kubelet.yaml" --kubeconfig="$N/node.kubeconfig" \
    --hostname-override="$NODE_NAME" --node-ip="$NODE_IP" --root-dir="$N/kubelet" \
    --oom-score-adj=0 --v=1
  start_bg kube-scheduler "$sched" --kubeconfig="$KUBECONFIG" --authentication-kubeconfig="$KUBECONFIG" \
    --authorization-kubeconfig="$KUBECONFIG" --bind-address=127.0.0.1 --secure-port=0 --leader-elect=false
  local ready='{.status.conditions[?(@.type=="Ready")].status}'
  until_ok "node $NODE_NAME" "$READY_TIMEOUT" \
    bash -c "[ \"\$(kubectl get node $NODE_NAME -o jsonpath='$ready')\" = True ]"
  # without the node-lifecycle controller nobody lifts the taint kubelet registers with
  kubectl taint node "$NODE_NAME" node.kubernetes.io/not-ready:NoSchedule- >/dev/null 2>&1 || true

  cat >"$N/env" <<EOF
export NODE_DIR=$N
export NODE_NAME=$NODE_NAME
export NODE_IP=$NODE_IP
export NODE_CTR="$ctr"
export NODE_PROBE_IMAGE=$PROBE_IMAGE
EOF
  STARTED_OK=1
  log "node $NODE_NAME Ready in $((SECONDS - t0))s; source $N/env"
  echo "$N"
}

cmd_stop() {
  local N=${1:?usage: stop WORKDIR}
  [ -f "$N/pids" ] || { log "no pids file in $N"; return 0; }
  local name pid pids=()
  while read -r name pid; do [ -n "$pid" ] && pids+=("$pid"); done <"$N/pids"
  # the pods' containers and their shims first, while containerd still answers
  if [ -S "$N/containerd.sock" ]; then
    local ctr="ctr --address $N/containerd.sock -n k8s.io" task
    for task in $($ctr tasks ls -q 2>/dev/null); do $ctr tasks kill -s KILL "$task" >/dev/null 2>&1 || true; done
  fi
  [ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null || true
  sleep 1
  [ ${#pids[@]} -eq 0 ] || kill -9 "${pids[@]}" 2>/dev/null || true
  pkill -9 -f "containerd-shim-runc-v2 .*-address $N/containerd.sock" 2>/dev/null || true
  # kubelet's volume mounts and the sandboxes' network namespaces outlive it
  grep -o " $N/[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  local ns  # the sandboxes' network namespaces (CRI names them cni-*), once nothing is in them
  for ns in $(ip netns list 2>/dev/null | awk '/^cni-/ {print $1}'); do
    [ -n "$(ip netns pids "$ns" 2>/dev/null)" ] || ip netns delete "$ns" 2>/dev/null || true
  done
  ip link del mlpipe0 2>/dev/null || true
  [ -f "$N/node-ip" ] && ip addr del "$(cat "$N/node-ip")/32" dev lo 2>/dev/null || true
  : >"$N/pids"
  log "node stopped ($N)"
}

cmd_import() {
  local N=${1:?usage: import WORKDIR IMAGE.tar} tar=${2:?usage: import WORKDIR IMAGE.tar}
  ctr --address "$N/containerd.sock" -n k8s.io images import "$tar" >&2
}

case ${1:-} in
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  import) shift; cmd_import "$@" ;;
  *) die "usage: $0 start CONTROL_PLANE_DIR [WORKDIR] | stop WORKDIR | import WORKDIR IMAGE.tar" ;;
esac
