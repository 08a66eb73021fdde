#!/usr/bin/env bash
# Builds the Kubernetes control-plane binaries the tests need from their Go modules at a pinned version,
# and caches them outside the repo. Prints the directory that holds them.
#
#   scripts/k8s-binaries.sh [component...]              default: etcd kube-apiserver kube-controller-manager
#   scripts/k8s-binaries.sh --missing [component...]    prints those not built yet (one line), builds nothing
#
# KUBEBUILDER_ASSETS, when set, wins: the binaries are taken from there and nothing is built.
# Why a throwaway module: k8s.io/kubernetes points its staging modules (k8s.io/api, ...) at ./staging with
# replace directives, which Go ignores in a dependency, so we restate them against the published v0.x tags.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.34.4}"      # 1.34: its kubelet still runs on cgroup v1 + containerd 1.6
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
HELM_VERSION="${HELM_VERSION:-v3.19.5}"   # helm component (not a default one): built on demand by the chart test
CACHE_ROOT="${MCP_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-operator}"
OUT="$CACHE_ROOT/k8s-$K8S_VERSION/bin"

report_missing=no
if [ "${1:-}" = --missing ]; then
  report_missing=yes
  shift
fi

if [ -n "${KUBEBUILDER_ASSETS:-}" ]; then
  [ "$report_missing" = yes ] && echo || echo "$KUBEBUILDER_ASSETS"
  exit 0
fi

components=("$@")
[ ${#components[@]} -gt 0 ] || components=(etcd kube-apiserver kube-controller-manager)

missing=()
for c in "${components[@]}"; do [ -x "$OUT/$c" ] || missing+=("$c"); done
if [ "$report_missing" = yes ]; then
  echo "${missing[*]}"
  exit 0
fi
if [ ${#missing[@]} -eq 0 ]; then
  echo "$OUT"
  exit 0
fi

command -v go >/dev/null || { echo "k8s-binaries: 'go' is required to build ${missing[*]} (or set KUBEBUILDER_ASSETS)" >&2; exit 1; }
mkdir -p "$OUT"
lock="$CACHE_ROOT/.build.lock"
exec 9>"$lock"
flock 9   # concurrent test runs wait for one build instead of racing

log() { echo "k8s-binaries: $*" >&2; }
export GOFLAGS="${GOFLAGS:--buildvcs=false}" CGO_ENABLED=0

build_kube() {
  local work="$CACHE_ROOT/k8s-$K8S_VERSION/module"
  local minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  local staging="v0.${K8S_VERSION#v1.}"
  if [ ! -f "$work/go.sum" ]; then
    log "preparing module for k8s.io/kubernetes $K8S_VERSION"
    rm -rf "$work"; mkdir -p "$work"
    local upstream_mod
    upstream_mod=$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    {
      echo "module mcpoperator.io/k8s-binaries"
      echo
      sed -n 's/^go \(.*\)$/go \1/p' "$upstream_mod"
      echo
      echo "require k8s.io/kubernetes $K8S_VERSION"
      echo
      # every "k8s.io/X => ./staging/src/k8s.io/X" becomes "k8s.io/X => k8s.io/X v0.<minor>.<patch>"
      sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/k8s.io/[a-z0-9-]*$#replace \1 => \1 '"$staging"'#p' "$upstream_mod"
    } >"$work/go.mod"
    cat >"$work/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
    (cd "$work" && go mod tidy -e >&2)
  fi
  local pkg="k8s.io/component-base/version"
  local ld="-s -w -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  ld="$ld -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  log "building $1 $K8S_VERSION (first time takes several minutes)"
  (cd "$work" && go build -trimpath -ldflags "$ld" -o "$OUT/$1.tmp" "k8s.io/kubernetes/cmd/$1" && mv "$OUT/$1.tmp" "$OUT/$1")
}

build_etcd() {
  local work="$CACHE_ROOT/etcd-$ETCD_VERSION/module"
  if [ ! -f "$work/go.sum" ]; then
    log "preparing module for etcd $ETCD_VERSION"
    rm -rf "$work"; mkdir -p "$work"
    cat >"$work/main.go" <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
    printf 'module mcpoperator.io/etcd\n\ngo 1.24\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" >"$work/go.mod"
    (cd "$work" && go mod tidy >&2)
  fi
  log "building etcd $ETCD_VERSION"
  (cd "$work" && go build -trimpath -ldflags "-s -w" -o "$OUT/etcd.tmp" . && mv "$OUT/etcd.tmp" "$OUT/etcd")
}

build_helm() {
  # helm's go.mod has no replace directives, so `go install module@version` builds it as released; the ldflags
  # are those of its Makefile (version, and the Kubernetes version its lint and template assume: 1.34 for v3.19).
  local client_go minor tmp
  client_go=$(cd "$OUT" && GOFLAGS=-mod=mod go mod download -json "helm.sh/helm/v3@$HELM_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p' \
    | xargs sed -n 's#^\s*k8s.io/client-go v0\.\([0-9]*\)\..*#\1#p')
  minor="${client_go:?could not read the k8s.io/client-go version of helm $HELM_VERSION}"
  local ld="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  ld="$ld -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$minor"
  ld="$ld -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$minor"
  tmp="$OUT/.helm-build"
  rm -rf "$tmp"
  log "building helm $HELM_VERSION (first time takes a few minutes)"
  GOBIN="$tmp" go install -trimpath -ldflags "$ld" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  mv "$tmp/helm" "$OUT/helm"
  rm -rf "$tmp"
}

for c in "${missing[@]}"; do
  case "$c" in
    etcd) build_etcd ;;
    helm) build_helm ;;
    kube-apiserver|kube-controller-manager|kube-scheduler|kubelet|kube-proxy|kubectl) build_kube "$c" ;;
    *) echo "k8s-binaries: unknown component '$c'" >&2; exit 2 ;;
  esac
done
echo "$OUT"
