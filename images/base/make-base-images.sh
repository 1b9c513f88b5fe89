#!/usr/bin/env bash
# Local stand-ins for the public base images, for machines that cannot pull (no registry answers):
#
#   skewless.local/node-runtime:<node version>  like gcr.io/distroless/nodejs22-debian12:nonroot — /nodejs/bin/node
#       (the `node` dev dependency's binary) and exactly the shared libraries `ldd` lists for it, /etc/passwd
#       and /etc/group with root and nonroot (65532), /tmp, CA certificates, nsswitch.conf; USER 65532.
#   skewless.local/node-build:<node version>    the runtime plus this machine's npm and busybox (/bin/sh,
#       /usr/bin/env…), running as root: what images/Dockerfile's build stage needs for `npm ci`.
#
#   images/base/make-base-images.sh            (DOCKER_HOST must name an engine: scripts/images.sh sets it)
#
# Idempotent: each image carries the hash of its inputs in the label skewless.base.inputs and is rebuilt
# only when that changes (scripts/images.sh removes the replaced ones once nothing uses them). Prints `RUNTIME_IMAGE=…` and `BUILD_IMAGE=…` on stdout for the caller.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
log() { printf '[images] %s\n' "$*" >&2; }
die() { printf '[images] ERROR: %s\n' "$*" >&2; exit 1; }

node_bin=$(readlink -f "$root/node_modules/node/bin/node" 2>/dev/null) ||
  die "no Node binary at node_modules/node/bin/node: run scripts/tools.sh node (npm ci brings the node dev dependency)"
node_version=$("$node_bin" --version)
node_version=${node_version#v}
npm_dir=$(dirname "$(readlink -f "$(command -v npm)")")/..
npm_dir=$(cd "$npm_dir" && pwd)
[[ -f "$npm_dir/package.json" && "$(basename "$npm_dir")" == npm ]] || die "cannot find npm's package dir from $(command -v npm)"
npm_version=$("$node_bin" -p "require('$npm_dir/package.json').version")
busybox=/bin/busybox
[[ -x "$busybox" ]] && ! ldd "$busybox" >/dev/null 2>&1 ||
  die "$busybox is missing or not static: run scripts/tools.sh docker (Debian busybox-static)"
ca_file=/etc/ssl/certs/ca-certificates.crt
[[ -f "$ca_file" ]] || die "no CA bundle at $ca_file: install Debian's ca-certificates"

runtime_tag="skewless.local/node-runtime:$node_version"
build_tag="skewless.local/node-build:$node_version"

# The loader and libraries the binary links, as ldd names them (paths in the image match the host's).
mapfile -t libs < <(ldd "$node_bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u)
((${#libs[@]} > 0)) || die "ldd listed no libraries for $node_bin"

inputs_hash() {
  { cat "$0"; sha256sum "$@"; } | sha256sum | cut -c1-16
}
runtime_hash=$(inputs_hash "$node_bin" "${libs[@]}" "$ca_file")
build_hash=$(printf '%s npm %s\n' "$runtime_hash" "$npm_version" | cat - <(sha256sum "$busybox") | sha256sum | cut -c1-16)

current_hash() {
  docker image inspect --format '{{ index .Config.Labels "skewless.base.inputs" }}' "$1" 2>/dev/null || true
}

work=$(mktemp -d "${TMPDIR:-/tmp}/skewless-base-XXXXXX")
trap 'rm -rf "$work"' EXIT

timed() {
  local name=$1 began=$EPOCHREALTIME
  shift
  log "▸ $name …"
  if ! "$@"; then
    log "✗ $name failed"
    return 1
  fi
  log "✓ $name $(awk -v a="$began" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
}

make_runtime() {
  local fs="$work/runtime"
  mkdir -p "$fs"/{nodejs/bin,etc/ssl/certs,tmp,root,home/nonroot}
  cp "$node_bin" "$fs/nodejs/bin/node"
  local lib
  for lib in "${libs[@]}"; do
    mkdir -p "$fs$(dirname "$lib")"
    cp -L "$lib" "$fs$lib"
  done
  cp "$ca_file" "$fs/etc/ssl/certs/ca-certificates.crt"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$fs/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >"$fs/etc/group"
  printf 'hosts: files dns\n' >"$fs/etc/nsswitch.conf"
  chmod 1777 "$fs/tmp"
  chmod 700 "$fs/root" "$fs/home/nonroot"
  chown 65532:65532 "$fs/home/nonroot"
  tar --numeric-owner -C "$fs" -c . | docker import \
    --change "LABEL skewless.base.inputs=$runtime_hash skewless.base.node=$node_version" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'USER 65532' \
    --change 'WORKDIR /home/nonroot' \
    --change 'ENTRYPOINT ["/nodejs/bin/node"]' \
    - "$runtime_tag" >/dev/null
}

# A layer on top of the runtime (the 125 MB node binary is stored once), built by the classic builder,
# which copies the prepared tree, symlinks included, without running anything inside.
make_build() {
  local ctx="$work/build"
  mkdir -p "$ctx/rootfs"/{bin,usr/bin,usr/local/bin,usr/local/lib/node_modules}
  cp -a "$npm_dir" "$ctx/rootfs/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$ctx/rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$ctx/rootfs/usr/local/bin/npx"
  ln -s /nodejs/bin/node "$ctx/rootfs/usr/local/bin/node"
  cp "$busybox" "$ctx/rootfs/bin/busybox"
  local applet
  for applet in $("$busybox" --list); do
    [[ "$applet" == busybox ]] || ln -s busybox "$ctx/rootfs/bin/$applet"
  done
  ln -s /bin/busybox "$ctx/rootfs/usr/bin/env"
  cat >"$ctx/Dockerfile" <<EOF
FROM $runtime_tag
COPY rootfs/ /
USER 0
WORKDIR /
# npm trusts the CA bundle copied from this machine, as the machine's own Node does when a proxy re-signs
# registry traffic (NODE_EXTRA_CA_CERTS there too); only the build stage sees this.
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
ENTRYPOINT []
LABEL skewless.base.inputs=$build_hash skewless.base.node=$node_version skewless.base.npm=$npm_version
EOF
  DOCKER_BUILDKIT=0 docker build --quiet --tag "$build_tag" "$ctx" >/dev/null
}

if [[ "$(current_hash "$runtime_tag")" == "$runtime_hash" ]]; then
  log "✓ $runtime_tag up to date ($runtime_hash)"
else
  timed "base $runtime_tag (node $node_version + ${#libs[@]} libraries from ldd)" make_runtime
fi
if [[ "$(current_hash "$build_tag")" == "$build_hash" ]]; then
  log "✓ $build_tag up to date ($build_hash)"
else
  timed "base $build_tag (+ npm $npm_version, busybox)" make_build
fi
printf 'RUNTIME_IMAGE=%s\nBUILD_IMAGE=%s\n' "$runtime_tag" "$build_tag"
