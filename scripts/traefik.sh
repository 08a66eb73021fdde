#!/usr/bin/env bash
# Builds Traefik (the e2e suite's real Gateway API and ingress-nginx-compatible controller) from its Go module
# at a pinned version, and extracts the Gateway API CRDs of the version it implements. Both are cached outside
# the repo, like the Kubernetes binaries (scripts/k8s-binaries.sh).
#
#   scripts/traefik.sh binary    prints the path of the traefik binary (builds it the first time: several minutes)
#   scripts/traefik.sh crds      prints a directory holding the Gateway API standard-channel CRDs (*.yaml)
#
# Why v3.6.12: the newest v3 that builds from the module proxy with this machine's Go (v3.7 needs modules the proxy
# does not serve); it implements Gateway API v1.4.0, so the CRDs are pinned to that. Traefik's go.mod has replace
# directives, which Go ignores for `go install module@version`, so it is built inside a copy of its module source.
set -euo pipefail

TRAEFIK_VERSION="${TRAEFIK_VERSION:-v3.6.12}"
GATEWAY_API_VERSION="${GATEWAY_API_VERSION:-v1.4.0}"
CACHE_ROOT="${MCP_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-operator}"

log() { echo "traefik: $*" >&2; }
command -v go >/dev/null || { echo "traefik: 'go' is required to build Traefik and extract the Gateway API CRDs" >&2; exit 1; }
export GOFLAGS="${GOFLAGS:--buildvcs=false}" CGO_ENABLED=0

# The source directory of a module version in the module cache (downloaded through the module proxy if needed).
module_dir() {
  local scratch="$CACHE_ROOT/.go-download"
  mkdir -p "$scratch"
  [ -f "$scratch/go.mod" ] || printf 'module mcpoperator.io/download\n\ngo 1.24\n' >"$scratch/go.mod"
  (cd "$scratch" && GOFLAGS=-mod=mod go mod download -json "$1" | sed -n 's/^\s*"Dir": "\(.*\)",*$/\1/p')
}

with_lock() {
  mkdir -p "$CACHE_ROOT"
  exec 9>"$CACHE_ROOT/.traefik.lock"
  flock 9 # concurrent test runs wait for one build instead of racing
}

binary() {
  local out="$CACHE_ROOT/traefik-$TRAEFIK_VERSION/bin/traefik"
  if [ -x "$out" ]; then echo "$out"; return; fi
  with_lock
  if [ -x "$out" ]; then echo "$out"; return; fi
  local src="$CACHE_ROOT/traefik-$TRAEFIK_VERSION/src" dir
  if [ ! -f "$src/go.mod" ]; then
    log "downloading github.com/traefik/traefik/v3@$TRAEFIK_VERSION"
    dir="$(module_dir "github.com/traefik/traefik/v3@$TRAEFIK_VERSION")"
    [ -n "$dir" ] && [ -f "$dir/go.mod" ] || { echo "traefik: could not download the module" >&2; exit 1; }
    rm -rf "$src.tmp" && mkdir -p "$(dirname "$src")"
    cp -r "$dir" "$src.tmp" && chmod -R u+w "$src.tmp" && mv "$src.tmp" "$src" # the module cache is read-only
  fi
  local pkg=github.com/traefik/traefik/v3/pkg/version
  log "building traefik $TRAEFIK_VERSION (first time takes several minutes)"
  mkdir -p "$(dirname "$out")"
  (cd "$src" && go build -trimpath -ldflags "-s -w -X $pkg.Version=$TRAEFIK_VERSION -X $pkg.Codename=mcp-operator-e2e" \
    -o "$out.tmp" ./cmd/traefik && mv "$out.tmp" "$out")
  echo "$out"
}

crds() {
  local out="$CACHE_ROOT/gateway-api-$GATEWAY_API_VERSION/crd/standard"
  if ls "$out"/*.yaml >/dev/null 2>&1; then echo "$out"; return; fi
  with_lock
  local dir
  dir="$(module_dir "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION")"
  [ -d "$dir/config/crd/standard" ] || { echo "traefik: no config/crd/standard in sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION" >&2; exit 1; }
  rm -rf "$out.tmp" && mkdir -p "$out.tmp"
  cp "$dir"/config/crd/standard/*.yaml "$out.tmp/" && chmod u+w "$out.tmp"/*.yaml
  rm -rf "$out" && mv "$out.tmp" "$out"
  echo "$out"
}

case "${1:-}" in
  binary) binary ;;
  crds) crds ;;
  *) echo "usage: scripts/traefik.sh binary|crds" >&2; exit 2 ;;
esac
