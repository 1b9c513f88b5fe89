#!/usr/bin/env bash
# Regenerates tools/kube/go.mod for KUBERNETES_VERSION in tools/versions.env: requires
# k8s.io/kubernetes and replaces every staging module it lists with the matching v0.X.Y release.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/tools/versions.env"
cd "$root/tools/kube"
upstream=$(GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
[[ -f "$upstream" ]] || { echo "cannot download k8s.io/kubernetes@$KUBERNETES_VERSION's go.mod" >&2; exit 1; }
{
  echo '// Builds the real Kubernetes binaries from the Go module proxy. Versions: ../versions.env;'
  echo '// regenerate with scripts/gen-kube-gomod.sh after changing them.'
  echo 'module skewless.dev/tools/kube'
  echo
  grep -E '^go [0-9.]+$' "$upstream"
  echo
  echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
  echo
  echo 'replace ('
  grep -E '^\s*k8s.io/[a-z-]+ => ./staging' "$upstream" | awk -v v="$KUBERNETES_STAGING_VERSION" '{print "\t"$1" => "$1" "v}'
  echo ')'
} >go.mod
rm -f go.sum
GOFLAGS=-mod=mod go mod tidy
echo "tools/kube/go.mod now builds Kubernetes $KUBERNETES_VERSION" >&2
