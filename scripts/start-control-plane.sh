#!/usr/bin/env bash
# start-control-plane.sh - run a throw-away etcd + kube-apiserver + kube-controller-manager
# (+ optional MinIO) on 127.0.0.1 using binaries built by build-test-servers.sh.
#
#   start-control-plane.sh start [WORKDIR]   -> prints WORKDIR; writes WORKDIR/env (source it)
#   start-control-plane.sh stop  WORKDIR     -> kills the processes recorded in WORKDIR/pids
#
# Env knobs: MLPIPE_CACHE, K8S_VERSION, ETCD_VERSION, ETCD_BIN (e.g. Debian's /usr/bin/etcd),
#            MINIO_VERSION, WITH_MINIO=1|0,
#            WITH_KCM=1|0, READY_TIMEOUT (s, default 120), KEEP_WORKDIR=1 (stop keeps files)
# WORKDIR/env exports: KUBECONFIG, KUBE_APISERVER_URL, KUBE_ADMIN_TOKEN, KUBE_CA_FILE,
#   ETCD_ENDPOINT, MINIO_ENDPOINT, MINIO_ROOT_USER, MINIO_ROOT_PASSWORD, CONTROL_PLANE_DIR
set -euo pipefail

CACHE=${MLPIPE_CACHE:-$HOME/.cache/mlpipe}
BIN=$CACHE/bin
K8S_VERSION=${K8S_VERSION:-v1.33.13}
ETCD_VERSION=${ETCD_VERSION:-v3.5.35}
MINIO_VERSION=${MINIO_VERSION:-RELEASE.2025-09-07T16-13-09Z}
WITH_MINIO=${WITH_MINIO:-0}
WITH_KCM=${WITH_KCM:-1}
READY_TIMEOUT=${READY_TIMEOUT:-120}
SERVICE_CIDR=${SERVICE_CIDR:-10.0.0.0/24}
SERVICE_IP=${SERVICE_IP:-10.0.0.1}

log() { printf '[control-plane %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

free_ports() { # free_ports N -> N distinct free TCP ports on 127.0.0.1
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# wait_for NAME PIDFILE CMD...: poll CMD until success, fail fast if the process died.
wait_for() {
  local name=$1 pid=$2; shift 2
  local deadline=$(( SECONDS + READY_TIMEOUT ))
  until "$@" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { tail -n 30 "$W/logs/$name.log" >&2; die "$name exited"; }
    (( SECONDS < deadline )) || { tail -n 30 "$W/logs/$name.log" >&2; die "$name not ready after ${READY_TIMEOUT}s"; }
    sleep 0.2
  done
}

start_bg() { # start_bg NAME cmd... -> records pid
  local name=$1; shift
  setsid "$@" >"$W/logs/$name.log" 2>&1 < /dev/null &
  local pid=$!
  echo "$name $pid" >>"$W/pids"
  echo "$pid"
}

gen_certs() {
  local d=$W/pki; mkdir -p "$d"; cd "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=mlpipe-test-ca" \
    -keyout ca.key -out ca.crt 2>/dev/null
  # apiserver serving cert
  cat >apiserver.ext <<EOF
basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:$SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
EOF
  openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" \
    -keyout apiserver.key -out apiserver.csr 2>/dev/null
  openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
    -extfile apiserver.ext -out apiserver.crt 2>/dev/null
  # client certs: admin (system:masters) and controller-manager
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' >client.ext
  local who subj
  for who in admin kcm; do
    case $who in
      admin) subj="/O=system:masters/CN=kubernetes-admin" ;;
      kcm)   subj="/CN=system:kube-controller-manager" ;;
    esac
    openssl req -newkey rsa:2048 -nodes -subj "$subj" -keyout $who.key -out $who.csr 2>/dev/null
    openssl x509 -req -in $who.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile client.ext -out $who.crt 2>/dev/null
  done
  # front-proxy (aggregation / requestheader) CA + client; without it every component that
  # delegates authn (kube-controller-manager) logs "missing content for CA bundle" errors
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=mlpipe-front-proxy-ca" \
    -keyout front-proxy-ca.key -out front-proxy-ca.crt 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=front-proxy-client" \
    -keyout front-proxy-client.key -out front-proxy-client.csr 2>/dev/null
  openssl x509 -req -in front-proxy-client.csr -CA front-proxy-ca.crt -CAkey front-proxy-ca.key \
    -CAcreateserial -days 3650 -extfile client.ext -out front-proxy-client.crt 2>/dev/null
  # service-account signing key pair
  openssl genrsa -out sa.key 2048 2>/dev/null
  openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  # static admin token (handy for non-kubectl clients)
  ADMIN_TOKEN=$(openssl rand -hex 24)
  echo "$ADMIN_TOKEN,kubernetes-admin-token,uid-admin-token,system:masters" >tokens.csv
  chmod 600 ./*.key tokens.csv
  cd - >/dev/null
}

kubeconfig() { # kubeconfig FILE USER CERT KEY
  KUBECONFIG=$1 kubectl config set-cluster local --server="$APISERVER_URL" \
    --certificate-authority="$W/pki/ca.crt" --embed-certs=true >/dev/null
  KUBECONFIG=$1 kubectl config set-credentials "$2" --client-certificate="$3" \
    --client-key="$4" --embed-certs=true >/dev/null
  KUBECONFIG=$1 kubectl config set-context local --cluster=local --user="$2" >/dev/null
  KUBECONFIG=$1 kubectl config use-context local >/dev/null
}

cmd_start() {
  W=${1:-$(mktemp -d /tmp/mlpipe-cp.XXXXXX)}
  mkdir -p "$W/logs" "$W/etcd"; : >"$W/pids"
  W=$(cd "$W" && pwd)
  local t0=$SECONDS t0n; t0n=$(date +%s.%N)
  local etcd=${ETCD_BIN:-$BIN/etcd-$ETCD_VERSION} api=$BIN/kube-apiserver-$K8S_VERSION
  local kcm=$BIN/kube-controller-manager-$K8S_VERSION minio=$BIN/minio-$MINIO_VERSION
  for b in "$etcd" "$api" "$kcm"; do [ -x "$b" ] || die "missing $b (run build-test-servers.sh)"; done
  command -v kubectl >/dev/null || die "kubectl not in PATH"

  read -r ETCD_PORT ETCD_PEER_PORT API_PORT KCM_PORT MINIO_PORT MINIO_CONSOLE_PORT \
    <<<"$(free_ports 6)"
  APISERVER_URL=https://127.0.0.1:$API_PORT
  STARTED_OK=0
  trap 'if [ "$STARTED_OK" != 1 ]; then log "start failed; stopping (logs kept in $W/logs)"; KEEP_WORKDIR=1 cmd_stop "$W"; fi' EXIT
  gen_certs

  # ---- etcd
  local etcd_pid etcd_extra=()
  # --unsafe-no-fsync: throw-away data dir, so skip fsync (etcd >= 3.5; Debian's 3.4 lacks it)
  if "$etcd" --help 2>&1 | grep -q -- --unsafe-no-fsync; then etcd_extra+=(--unsafe-no-fsync=true); fi
  etcd_pid=$(start_bg etcd "$etcd" --name=test --data-dir="$W/etcd" \
    --listen-client-urls=http://127.0.0.1:$ETCD_PORT \
    --advertise-client-urls=http://127.0.0.1:$ETCD_PORT \
    --listen-peer-urls=http://127.0.0.1:$ETCD_PEER_PORT \
    --initial-advertise-peer-urls=http://127.0.0.1:$ETCD_PEER_PORT \
    --initial-cluster=test=http://127.0.0.1:$ETCD_PEER_PORT \
    --quota-backend-bytes=$((2*1024*1024*1024)) "${etcd_extra[@]}" \
    --log-level=warn)
  wait_for etcd "$etcd_pid" curl -fsS "http://127.0.0.1:$ETCD_PORT/health"
  log "etcd ready on 127.0.0.1:$ETCD_PORT ($((SECONDS-t0))s)"

  # ---- MinIO: random root credentials, loopback only, no console/update checks
  local MINIO_USER="" MINIO_PASS="" minio_pid=""
  if [ "$WITH_MINIO" = 1 ]; then
    [ -x "$minio" ] || die "missing $minio (run build-test-servers.sh)"
    MINIO_USER=minio-$(openssl rand -hex 4); MINIO_PASS=$(openssl rand -hex 20)
    mkdir -p "$W/minio-data"
    minio_pid=$(MINIO_ROOT_USER=$MINIO_USER MINIO_ROOT_PASSWORD=$MINIO_PASS \
      MINIO_BROWSER=off MINIO_UPDATE=off MINIO_CI_CD=1 \
      start_bg minio "$minio" server "$W/minio-data" \
        --address 127.0.0.1:$MINIO_PORT --console-address 127.0.0.1:$MINIO_CONSOLE_PORT --quiet)
  fi

  # ---- kube-apiserver
  local api_pid
  api_pid=$(start_bg kube-apiserver "$api" \
    --etcd-servers=http://127.0.0.1:$ETCD_PORT \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port=$API_PORT \
    --tls-cert-file="$W/pki/apiserver.crt" --tls-private-key-file="$W/pki/apiserver.key" \
    --client-ca-file="$W/pki/ca.crt" \
    --token-auth-file="$W/pki/tokens.csv" \
    --requestheader-client-ca-file="$W/pki/front-proxy-ca.crt" \
    --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User \
    --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="$W/pki/front-proxy-client.crt" \
    --proxy-client-key-file="$W/pki/front-proxy-client.key" \
    --authorization-mode=Node,RBAC \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$W/pki/sa.pub" \
    --service-account-signing-key-file="$W/pki/sa.key" \
    --api-audiences=https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range=$SERVICE_CIDR \
    --enable-admission-plugins=NamespaceLifecycle,LimitRanger,ServiceAccount,PodSecurity,DefaultStorageClass,ResourceQuota,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ValidatingAdmissionPolicy \
    --allow-privileged=true \
    --endpoint-reconciler-type=none \
    --profiling=false \
    --v=1)
  wait_for kube-apiserver "$api_pid" curl -fsS --cacert "$W/pki/ca.crt" \
    --cert "$W/pki/admin.crt" --key "$W/pki/admin.key" "$APISERVER_URL/readyz"
  log "kube-apiserver ready at $APISERVER_URL ($((SECONDS-t0))s)"

  kubeconfig "$W/admin.kubeconfig" kubernetes-admin "$W/pki/admin.crt" "$W/pki/admin.key"
  kubeconfig "$W/kcm.kubeconfig" system:kube-controller-manager "$W/pki/kcm.crt" "$W/pki/kcm.key"

  # ---- kube-controller-manager
  if [ "$WITH_KCM" = 1 ]; then
    local kcm_pid
    kcm_pid=$(start_bg kube-controller-manager "$kcm" \
      --kubeconfig="$W/kcm.kubeconfig" \
      --authentication-kubeconfig="$W/kcm.kubeconfig" \
      --authorization-kubeconfig="$W/kcm.kubeconfig" \
      --bind-address=127.0.0.1 --secure-port=$KCM_PORT \
      --leader-elect=false \
      --use-service-account-credentials=true \
      --service-account-private-key-file="$W/pki/sa.key" \
      --root-ca-file="$W/pki/ca.crt" \
      --cluster-signing-cert-file="$W/pki/ca.crt" --cluster-signing-key-file="$W/pki/ca.key" \
      --controllers='*,-nodeipam,-nodelifecycle,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller' \
      --v=1)
    wait_for kube-controller-manager "$kcm_pid" curl -fsSk "https://127.0.0.1:$KCM_PORT/healthz"
    # Ready for tests once the serviceaccount controller has created default/default.
    wait_for kube-controller-manager "$kcm_pid" \
      kubectl --kubeconfig="$W/admin.kubeconfig" get serviceaccount default -n default
    log "kube-controller-manager ready ($((SECONDS-t0))s)"
  fi

  # ---- MinIO (started right after etcd, so it boots in parallel; checked here)
  if [ -n "$minio_pid" ]; then
    wait_for minio "$minio_pid" curl -fsS "http://127.0.0.1:$MINIO_PORT/minio/health/ready"
    log "minio ready on 127.0.0.1:$MINIO_PORT ($((SECONDS-t0))s)"
  fi

  cat >"$W/env" <<EOF
export CONTROL_PLANE_DIR=$W
export KUBECONFIG=$W/admin.kubeconfig
export KUBE_APISERVER_URL=$APISERVER_URL
export KUBE_CA_FILE=$W/pki/ca.crt
export KUBE_ADMIN_TOKEN=$ADMIN_TOKEN
export ETCD_ENDPOINT=http://127.0.0.1:$ETCD_PORT
export MINIO_ENDPOINT=${MINIO_USER:+http://127.0.0.1:$MINIO_PORT}
export MINIO_ROOT_USER=$MINIO_USER
export MINIO_ROOT_PASSWORD=$MINIO_PASS
EOF
  STARTED_OK=1
  log "control plane ready in $(awk -v a="$t0n" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s; source $W/env"
  echo "$W"
}

cmd_stop() {
  local W=${1:?usage: stop WORKDIR}
  [ -f "$W/pids" ] || { log "no pids file in $W"; return 0; }
  # TERM everything except etcd at once, then etcd last; KILL after 5 s.
  local name pid etcd_pid="" others=()
  while read -r name pid; do
    [ -n "$pid" ] || continue
    if [ "$name" = etcd ]; then etcd_pid=$pid; else others+=("$pid"); fi
  done <"$W/pids"
  _term_wait() {
    local p alive
    for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
    for _ in $(seq 1 50); do
      alive=0; for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
      [ $alive = 1 ] || return 0; sleep 0.1
    done
    for p in "$@"; do kill -KILL "$p" 2>/dev/null || true; done
  }
  [ ${#others[@]} -eq 0 ] || _term_wait "${others[@]}"
  [ -z "$etcd_pid" ] || _term_wait "$etcd_pid"
  log "stopped control plane in $W"
  : >"$W/pids"
  [ "${KEEP_WORKDIR:-0}" = 1 ] || rm -rf "$W"
}

case ${1:-} in
  start) shift; cmd_start "$@" ;;
  stop)  shift; cmd_stop "$@" ;;
  *) echo "usage: $0 start [WORKDIR] | stop WORKDIR" >&2; exit 2 ;;
esac
