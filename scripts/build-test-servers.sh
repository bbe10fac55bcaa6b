#!/usr/bin/env bash
# build-test-servers.sh - build REAL test servers from source into a version-keyed cache.
#
#   $CACHE/bin/minio-<RELEASE tag>
#   $CACHE/bin/etcd-<ver>
#   $CACHE/bin/kube-apiserver-<ver>
#   $CACHE/bin/kube-controller-manager-<ver>
#   $CACHE/bin/kubelet-<ver>, kube-scheduler-<ver>, pause-<ver>, probe-server-<ver>   (the node)
#   $CACHE/crds/kserve-<ver>/serving.kserve.io_inferenceservices.yaml
#   $CACHE/crds/training-operator-<ver>/kubeflow.org_tfjobs.yaml
#   $CACHE/crds/istio-<ver>/customresourcedefinitions.gen.yaml   (Istio's CRDs: VirtualService, ...)
#   $CACHE/bin/prism-<ver>      (Beam's portable runner, for the beam_portable test tier)
#
# CACHE=${MLPIPE_CACHE:-$HOME/.cache/mlpipe}. Go module + build caches also live there
# ($CACHE/gomod, $CACHE/gobuild), never in a repo. Each artifact is built into a temp dir
# inside $CACHE/bin and then renamed into place (atomic on the same filesystem); an existing
# artifact is never rebuilt. A flock on $CACHE/.build.lock serialises concurrent runs.
#
# Usage: build-test-servers.sh [all|minio|etcd|kube|node|kserve-crd|tfjob-crd|istio-crd|prism]...   (default: all)
# Env:   MLPIPE_CACHE, MLPIPE_BUILD_JOBS (go build -p, default 2),
#        MINIO_VERSION/MINIO_MODVER/MINIO_COMMIT, ETCD_VERSION, K8S_VERSION, KSERVE_VERSION,
#        ISTIO_API_VERSION, BEAM_VERSION
# Prints "name<TAB>path" for each artifact on stdout; logs go to stderr.
set -euo pipefail

# ---- pinned versions ------------------------------------------------------------------
# MinIO publishes no semver tags; RELEASE.* tags map to Go pseudo-versions.
# RELEASE.2025-09-07T16-13-09Z == commit 07c3a429bfed433e49018cb0f78a52145d4bedeb.
MINIO_VERSION=${MINIO_VERSION:-RELEASE.2025-09-07T16-13-09Z}
MINIO_MODVER=${MINIO_MODVER:-v0.0.0-20250907161309-07c3a429bfed}
MINIO_COMMIT=${MINIO_COMMIT:-07c3a429bfed433e49018cb0f78a52145d4bedeb}
ETCD_VERSION=${ETCD_VERSION:-v3.5.35}
K8S_VERSION=${K8S_VERSION:-v1.33.13}
KSERVE_VERSION=${KSERVE_VERSION:-v0.15.2}
# Kubeflow training-operator v1 (TFJob, kubeflow.org/v1); Trainer v2 has no TensorFlow runtime.
TRAINING_OPERATOR_VERSION=${TRAINING_OPERATOR_VERSION:-v1.9.3}
# Istio's API module (its CRDs, networking.istio.io/v1 VirtualService included): the release
# line Kubeflow 1.10 installs (Istio 1.24).
ISTIO_API_VERSION=${ISTIO_API_VERSION:-v1.24.2}
# apache-beam is 2.72.0 in requirements/lock.txt; the Go proxy refuses sdks/v2@v2.72.0 (403),
# so Prism comes from the release before it (the portable Fn/Job API is stable across them).
BEAM_VERSION=${BEAM_VERSION:-v2.71.0}

CACHE=${MLPIPE_CACHE:-$HOME/.cache/mlpipe}
BIN=$CACHE/bin
REPO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
JOBS=${MLPIPE_BUILD_JOBS:-2}

log() { printf '[build-test-servers %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

command -v go >/dev/null 2>&1 || PATH=$PATH:/usr/local/go/bin
command -v go >/dev/null 2>&1 || die "go not found in PATH"

mkdir -p "$BIN" "$CACHE/crds" "$CACHE/gomod" "$CACHE/gobuild" "$CACHE/tmp"

# Isolated Go environment: caches outside any repo, no cgo (no C toolchain needed, static
# binaries as upstream ships them), never auto-download another toolchain, ignore any
# go.work / GOFLAGS the caller's environment may carry.
export GOMODCACHE=$CACHE/gomod
export GOCACHE=$CACHE/gobuild
export GOTMPDIR=$CACHE/tmp
export GOFLAGS="-mod=mod -buildvcs=false"
export GOWORK=off
export GOTOOLCHAIN=local
export CGO_ENABLED=0
export GO111MODULE=on
export GOPROXY=${GOPROXY:-https://proxy.golang.org,direct}
export GOMAXPROCS=${GOMAXPROCS:-$JOBS}
unset GOBIN

# Serialise concurrent invocations (e.g. parallel pytest workers).
exec 9>"$CACHE/.build.lock"
if ! flock -n 9; then log "waiting for lock $CACHE/.build.lock"; flock 9; fi
# Under the lock, any leftover temp dir is from an interrupted run.
rm -rf "$BIN"/.tmp.* "$CACHE"/crds/.tmp.* 2>/dev/null || true

TMPS=()
cleanup() { local d; for d in "${TMPS[@]:-}"; do if [ -n "$d" ]; then rm -rf "$d"; fi; done; return 0; }
trap cleanup EXIT
mktmp() { local d; d=$(mktemp -d "$BIN/.tmp.$1.XXXXXX"); TMPS+=("$d"); echo "$d"; }

# install_atomic SRC DEST: move a freshly built file into place atomically.
install_atomic() {
  chmod 0755 "$1"
  mv -f "$1" "$2"     # rename(2) within $BIN -> atomic
}

timed() { # timed NAME cmd...
  local name=$1 t0 t1; shift; t0=$(date +%s.%N)
  "$@"
  t1=$(date +%s.%N)
  log "$name built in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s"
}

# ---- MinIO: go install github.com/minio/minio@<pseudo-version of RELEASE tag> ------------
build_minio() {
  local dest=$BIN/minio-$MINIO_VERSION
  if [ -x "$dest" ]; then printf 'minio\t%s\n' "$dest"; return; fi
  log "building minio $MINIO_VERSION ($MINIO_MODVER)"
  local tmp; tmp=$(mktmp minio)
  local v=${MINIO_VERSION#RELEASE.}                 # 2025-09-07T16-13-09Z
  local rfc="${v:0:10}T${v:11:2}:${v:14:2}:${v:17:2}Z"
  local pkg=github.com/minio/minio/cmd
  _b() {
    GOBIN=$tmp go install -p "$JOBS" -trimpath -ldflags "-s -w \
      -X $pkg.Version=$rfc -X $pkg.ReleaseTag=$MINIO_VERSION \
      -X $pkg.CommitID=$MINIO_COMMIT -X $pkg.ShortCommitID=${MINIO_COMMIT:0:12} \
      -X $pkg.CopyrightYear=${v:0:4}" "github.com/minio/minio@$MINIO_MODVER"
  }
  timed minio _b
  "$tmp/minio" --version >/dev/null || die "minio binary does not run"
  install_atomic "$tmp/minio" "$dest"
  printf 'minio\t%s\n' "$dest"
}

# ---- etcd: tiny wrapper main around go.etcd.io/etcd/server/v3/etcdmain ---------------------
# (the upstream main package lives in the root module go.etcd.io/etcd/v3 whose go.mod has
# replace directives, so `go install go.etcd.io/etcd/v3@vX` is refused.)
build_etcd() {
  local dest=$BIN/etcd-$ETCD_VERSION
  if [ -x "$dest" ]; then printf 'etcd\t%s\n' "$dest"; return; fi
  log "building etcd $ETCD_VERSION"
  local tmp; tmp=$(mktmp etcd)
  mkdir -p "$tmp/src"
  cat >"$tmp/src/main.go" <<'EOF'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF
  cat >"$tmp/src/go.mod" <<EOF
module mlpipe.local/etcdbuild

go 1.23.0

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
EOF
  _b() {
    ( cd "$tmp/src" \
      && go mod tidy \
      && go build -p "$JOBS" -trimpath -ldflags "-s -w" -o "$tmp/etcd" . )
  }
  timed etcd _b
  "$tmp/etcd" --version >/dev/null || die "etcd binary does not run"
  install_atomic "$tmp/etcd" "$dest"
  printf 'etcd\t%s\n' "$dest"
}

# ---- kube-apiserver + kube-controller-manager ------------------------------------------------
# k8s.io/kubernetes' go.mod replaces every staging module (k8s.io/api => ./staging/...), so it
# cannot be `go install`ed. Build from a wrapper module that requires k8s.io/kubernetes and
# replaces each staging module with its published v0.<minor>.<patch> tag.
# Writes the wrapper module's go.mod into $1 (requires k8s.io/kubernetes, replaces staging).
kube_wrapper_module() {
  local dir=$1 modfile staging_ver="v0.${K8S_VERSION#v1.}"        # v1.32.13 -> v0.32.13
  mkdir -p "$dir"
  modfile=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" \
    | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
  [ -f "$modfile" ] || die "could not download k8s.io/kubernetes@$K8S_VERSION"
  {
    echo "module mlpipe.local/kubebuild"
    echo
    # Same language version/GODEBUG defaults as upstream builds.
    grep -E '^(go|godebug) ' "$modfile"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "replace ("
    # Only staging modules that upstream actually requires (as v0.0.0); replacing the
    # unused sample-* ones would be harmless but their tags are not always published.
    awk -v v="$staging_ver" '
      /^replace \(/ {rb=1; next} rb && /^\)/ {rb=0}
      rb && $2=="=>" && $3 ~ /^\.\/staging\// {staged[$1]=1}
      /^require \(/ {qb=1; next} qb && /^\)/ {qb=0}
      qb && $2=="v0.0.0" {req[$1]=1}
      END {for (m in req) if (m in staged) printf "\t%s => %s %s\n", m, m, v}' "$modfile" | sort
    echo ")"
  } >"$dir/go.mod"
}

# build_kube_cmds DIR CMD... : go build k8s.io/kubernetes/cmd/CMD into DIR/CMD each.
build_kube_cmds() {
  local out=$1; shift
  local major=1 minor; minor=$(cut -d. -f2 <<<"${K8S_VERSION#v}")
  local ld="-s -w" p cmd
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=$major -X $p.gitMinor=$minor"
    ld+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  kube_wrapper_module "$out/src"
  for cmd in "$@"; do
    ( cd "$out/src" && go build -p "$JOBS" -trimpath -ldflags "$ld" -o "$out/$cmd" "k8s.io/kubernetes/cmd/$cmd" )
  done
}

build_kube() {
  local api=$BIN/kube-apiserver-$K8S_VERSION kcm=$BIN/kube-controller-manager-$K8S_VERSION
  if [ -x "$api" ] && [ -x "$kcm" ]; then
    printf 'kube-apiserver\t%s\nkube-controller-manager\t%s\n' "$api" "$kcm"; return
  fi
  log "building kube-apiserver/kube-controller-manager $K8S_VERSION"
  local tmp; tmp=$(mktmp kube)
  _b() { build_kube_cmds "$tmp" kube-apiserver kube-controller-manager; }
  timed "kube-apiserver+kube-controller-manager" _b
  "$tmp/kube-apiserver" --version >/dev/null || die "kube-apiserver binary does not run"
  "$tmp/kube-controller-manager" --version >/dev/null || die "kube-controller-manager does not run"
  install_atomic "$tmp/kube-apiserver" "$api"
  install_atomic "$tmp/kube-controller-manager" "$kcm"
  printf 'kube-apiserver\t%s\nkube-controller-manager\t%s\n' "$api" "$kcm"
}

# ---- kubelet + kube-scheduler: the node (scripts/start-node.sh) --------------------------------
# The same wrapper module; the pause image's source (build/pause/linux/pause.c) comes with the
# k8s.io/kubernetes module download.
build_node() {
  local kubelet=$BIN/kubelet-$K8S_VERSION sched=$BIN/kube-scheduler-$K8S_VERSION
  local probe_src=$REPO_ROOT/scripts/node/probe-server
  local pause=$BIN/pause-$K8S_VERSION probe
  probe=$BIN/probe-server-$(cat "$probe_src"/go.mod "$probe_src"/main.go | sha256sum | cut -c1-12)
  if [ -x "$kubelet" ] && [ -x "$sched" ] && [ -x "$pause" ] && [ -x "$probe" ]; then
    printf 'kubelet\t%s\nkube-scheduler\t%s\npause\t%s\nprobe-server\t%s\n' "$kubelet" "$sched" "$pause" "$probe"
    return
  fi
  log "building kubelet/kube-scheduler $K8S_VERSION, pause and the probe server"
  local tmp; tmp=$(mktmp node)
  _b() {
    build_kube_cmds "$tmp" kubelet kube-scheduler
    local src; src=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" \
      | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
    cc -Os -static -DVERSION="$K8S_VERSION-mlpipe" -o "$tmp/pause" "$src/build/pause/linux/pause.c"
    strip "$tmp/pause"
    ( cd "$probe_src" && go build -trimpath -ldflags "-s -w" -o "$tmp/probe-server" . )
  }
  timed "kubelet+kube-scheduler+pause+probe-server" _b
  "$tmp/kubelet" --version >/dev/null || die "kubelet binary does not run"
  "$tmp/kube-scheduler" --version >/dev/null || die "kube-scheduler binary does not run"
  install_atomic "$tmp/kubelet" "$kubelet"
  install_atomic "$tmp/kube-scheduler" "$sched"
  install_atomic "$tmp/pause" "$pause"
  install_atomic "$tmp/probe-server" "$probe"
  printf 'kubelet\t%s\nkube-scheduler\t%s\npause\t%s\nprobe-server\t%s\n' "$kubelet" "$sched" "$pause" "$probe"
}

# ---- CRDs from Go module zips ---------------------------------------------------------------
# module_dir MODULE@VERSION: where `go mod download` unpacked the module.
module_dir() {
  go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p'
}

# install_crds NAME DIR FILE...: the files (never a kustomization) become DIR, atomically.
install_crds() {
  local name=$1 ddir=$2; shift 2
  local tmp; tmp=$(mktemp -d "$CACHE/crds/.tmp.$name.XXXXXX"); TMPS+=("$tmp")
  cp "$@" "$tmp"/
  rm -f "$tmp/kustomization.yaml"
  chmod 0644 "$tmp"/*.yaml
  chmod 0755 "$tmp"
  if [ -d "$ddir" ]; then rm -rf "$ddir"; fi
  mv "$tmp" "$ddir"
}

# KServe's InferenceService CRD, with the rest of its config/crd/full set (servingruntimes etc.).
fetch_kserve_crd() {
  local ddir=$CACHE/crds/kserve-$KSERVE_VERSION
  local dest=$ddir/serving.kserve.io_inferenceservices.yaml
  if [ -s "$dest" ]; then printf 'kserve-crd\t%s\n' "$dest"; return; fi
  log "fetching kserve $KSERVE_VERSION CRDs"
  local dir; dir=$(module_dir "github.com/kserve/kserve@$KSERVE_VERSION")/config/crd/full
  [ -s "$dir/${dest##*/}" ] || die "CRD not found at $dir/${dest##*/}"
  install_crds kserve "$ddir" "$dir"/*.yaml
  printf 'kserve-crd\t%s\n' "$dest"
}

# Kubeflow's TFJob CRD (training-operator v1).
fetch_tfjob_crd() {
  local ddir=$CACHE/crds/training-operator-$TRAINING_OPERATOR_VERSION
  local dest=$ddir/kubeflow.org_tfjobs.yaml
  if [ -s "$dest" ]; then printf 'tfjob-crd\t%s\n' "$dest"; return; fi
  log "fetching training-operator $TRAINING_OPERATOR_VERSION TFJob CRD"
  local src
  src=$(module_dir "github.com/kubeflow/training-operator@$TRAINING_OPERATOR_VERSION")/manifests/base/crds/kubeflow.org_tfjobs.yaml
  [ -s "$src" ] || die "CRD not found at $src"
  install_crds tfjob "$ddir" "$src"
  printf 'tfjob-crd\t%s\n' "$dest"
}

# Istio's CRDs (VirtualService etc.), all in one generated file.
fetch_istio_crd() {
  local ddir=$CACHE/crds/istio-$ISTIO_API_VERSION
  local dest=$ddir/customresourcedefinitions.gen.yaml
  if [ -s "$dest" ]; then printf 'istio-crd\t%s\n' "$dest"; return; fi
  log "fetching istio.io/api $ISTIO_API_VERSION CRDs"
  local src; src=$(module_dir "istio.io/api@$ISTIO_API_VERSION")/kubernetes/customresourcedefinitions.gen.yaml
  [ -s "$src" ] || die "CRDs not found at $src"
  grep -q '^  name: virtualservices.networking.istio.io$' "$src" || die "no VirtualService CRD in $src"
  install_crds istio "$ddir" "$src"
  printf 'istio-crd\t%s\n' "$dest"
}

# ---- Prism: Beam's portable runner, from the Go SDK module --------------------------------
# Beam's Flink/Spark job servers are not on Maven Central for current releases; Prism is the
# portable runner Beam ships, built here from github.com/apache/beam/sdks/v2.
build_prism() {
  local dest=$BIN/prism-$BEAM_VERSION
  if [ -x "$dest" ]; then printf 'prism\t%s\n' "$dest"; return; fi
  log "building prism $BEAM_VERSION"
  local tmp; tmp=$(mktmp prism)
  # A wrapper module: the proxy answers 403 (not 404) for the sub-paths `go install` probes.
  mkdir -p "$tmp/src"
  printf 'module mlpipe.local/prismbuild\n\ngo 1.23.0\n\nrequire github.com/apache/beam/sdks/v2 %s\n' \
    "$BEAM_VERSION" >"$tmp/src/go.mod"
  printf 'package tools\n\nimport _ "github.com/apache/beam/sdks/v2/go/cmd/prism"\n' \
    >"$tmp/src/tools.go"
  _b() {
    ( cd "$tmp/src" \
      && go mod tidy \
      && go build -p "$JOBS" -trimpath -ldflags "-s -w" -o "$tmp/prism" \
           github.com/apache/beam/sdks/v2/go/cmd/prism )
  }
  timed prism _b
  "$tmp/prism" --help >/dev/null 2>&1 || die "prism binary does not run"
  install_atomic "$tmp/prism" "$dest"
  printf 'prism\t%s\n' "$dest"
}

[ $# -eq 0 ] && set -- all
for what in "$@"; do
  case $what in
    all) build_minio; build_etcd; build_kube; build_node; fetch_kserve_crd; fetch_tfjob_crd; fetch_istio_crd; build_prism ;;
    minio) build_minio ;;
    etcd) build_etcd ;;
    kube|k8s) build_kube ;;
    node) build_node ;;
    kserve-crd|crd) fetch_kserve_crd ;;
    tfjob-crd) fetch_tfjob_crd ;;
    istio-crd) fetch_istio_crd ;;
    prism) build_prism ;;
    *) die "unknown target: $what" ;;
  esac
done
