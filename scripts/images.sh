#!/usr/bin/env bash
# make images: skewless/control-plane, skewless/backend and skewless/load (tag $IMAGE_TAG, default dev)
# from images/Dockerfile, on the engine DOCKER_HOST names, the machine's, or the testbed's own dockerd
# (started for this run and stopped after it: testbed/src/docker/docker-engine-cli.ts).
#
#   scripts/images.sh [control-plane|backend|load]...      (default: all three)
#
#   IMAGE_TAG=dev                     the tag of the images built
#   SKEWLESS_IMAGE_BASES=auto         auto: the pinned public bases (tools/versions.env) when the engine has or
#                                     can pull them, else local stand-ins made from this machine's files
#                                     (images/base/make-base-images.sh); or force `public` / `local`
#
# Docker's layer cache makes a run with nothing changed take seconds. Prints each step's time and each
# image's size.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$root/node_modules/.bin:$root/.tools/bin:$PATH"
# shellcheck source=../tools/versions.env
source tools/versions.env

log() { printf '[images] %s\n' "$*" >&2; }
die() { printf '[images] ERROR: %s\n' "$*" >&2; exit 1; }

if [[ -z "${DOCKER_HOST:-}" ]]; then
  # No engine named: the CLI uses the machine's if it answers, else starts ours (Debian's dockerd).
  [[ -S /var/run/docker.sock ]] || command -v dockerd >/dev/null || scripts/tools.sh docker
  exec node testbed/src/docker/docker-engine-cli.ts exec -- "$0" "$@"
fi

timed() {
  local name=$1 began=$EPOCHREALTIME
  shift
  log "▸ $name …"
  if ! "$@"; then
    log "✗ $name failed after $(elapsed "$began") s"
    return 1
  fi
  log "✓ $name $(elapsed "$began") s"
}
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

# versions.env holds plain values (make and the tests read it too): check the image tags agree with the
# tool versions they repeat, as scripts/tools.sh does for CoreDNS's go.mod.
check_versions() {
  local node_dev
  node_dev=$(node -p "require('./package.json').devDependencies.node")
  local -A want=(
    [ENVOY_IMAGE]="envoyproxy/envoy:v$ENVOY_VERSION"
    [K6_IMAGE]="grafana/k6:${K6_VERSION#v}"
    [COREDNS_IMAGE]="registry.k8s.io/coredns/coredns:$COREDNS_VERSION"
    [NODE_BUILD_IMAGE]="node:$node_dev-bookworm-slim"
  )
  local key
  for key in "${!want[@]}"; do
    [[ "${!key}" == "${want[$key]}" ]] ||
      die "tools/versions.env: $key=${!key} but the pinned versions make it ${want[$key]}: change them together"
  done
}

available() {
  docker image inspect "$1" >/dev/null 2>&1 && return 0
  local err
  if err=$(docker pull --quiet "$1" 2>&1 >/dev/null); then return 0; fi
  log "  $1 is not available: ${err%%$'\n'*}"
  return 1
}

choose_bases() {
  local mode=${SKEWLESS_IMAGE_BASES:-auto}
  case "$mode" in
    public) ;;
    auto) if available "$NODE_BUILD_IMAGE" && available "$NODE_RUNTIME_IMAGE"; then mode=public; else mode=local; fi ;;
    local) ;;
    *) die "SKEWLESS_IMAGE_BASES=$mode: expected auto, public or local" ;;
  esac
  if [[ "$mode" == public ]]; then
    build_image=$NODE_BUILD_IMAGE
    runtime_image=$NODE_RUNTIME_IMAGE
  else
    local out
    out=$(images/base/make-base-images.sh)
    build_image=$(sed -n 's/^BUILD_IMAGE=//p' <<<"$out")
    runtime_image=$(sed -n 's/^RUNTIME_IMAGE=//p' <<<"$out")
  fi
  log "bases ($mode): build $build_image, runtime $runtime_image"
}

build() {
  local component=$1
  "${builder[@]}" build --file images/Dockerfile --target "$component" --network host --force-rm \
    --build-arg "BUILD_IMAGE=$build_image" --build-arg "RUNTIME_IMAGE=$runtime_image" \
    --label "io.skewless.image=$component" --label "org.opencontainers.image.title=skewless/$component" \
    --label "org.opencontainers.image.revision=$(git describe --always --dirty 2>/dev/null || echo unknown)" \
    --tag "skewless/$component:$tag" .
}

# Local bases replaced by newer ones, with the stages built on them: every image built FROM a base inherits
# its skewless.base.inputs label, so untagged leaves carrying a hash that is not a current base's are
# leftovers; removing a leaf removes its untagged parents nothing else uses, the old base among them.
remove_replaced_bases() {
  local current id hash
  current=" $(docker image inspect --format '{{ index .Config.Labels "skewless.base.inputs" }}' "$build_image" "$runtime_image" | tr '\n' ' ') "
  for id in $(docker images --quiet --filter dangling=true --filter label=skewless.base.inputs); do
    hash=$(docker image inspect --format '{{ index .Config.Labels "skewless.base.inputs" }}' "$id")
    [[ "$current" == *" $hash "* ]] || docker image rm "$id" >/dev/null
  done
}

mb() { docker image inspect --format '{{.Size}}' "$1" | awk '{ printf "%.0f", $1 / 1000000 }'; }

components=("$@")
((${#components[@]} > 0)) || components=(control-plane backend load)
for component in "${components[@]}"; do
  case "$component" in control-plane | backend | load) ;; *) die "unknown image '$component' (known: control-plane backend load)" ;; esac
done
tag=${IMAGE_TAG:-dev}

began=$EPOCHREALTIME
check_versions
log "engine: $DOCKER_HOST (server $(docker version --format '{{.Server.Version}}'))"
# BuildKit where the CLI has it (buildx); the classic builder otherwise, as on Debian's docker.io.
if docker buildx version >/dev/null 2>&1; then builder=(docker); else builder=(env DOCKER_BUILDKIT=0 docker); fi
timed "base images" choose_bases
for component in "${components[@]}"; do
  timed "skewless/$component:$tag" build "$component"
done
# The images these replaced (untagged now), found by the label only our final images carry (a stage
# inherits its base's labels, never this one): the build stage's cached layers stay.
docker image prune --force --filter label=io.skewless.image >/dev/null
remove_replaced_bases
for component in "${components[@]}"; do
  log "skewless/$component:$tag $(mb "skewless/$component:$tag") MB (runtime base $(mb "$runtime_image") MB)"
done
log "✓ images in $(elapsed "$began") s"
