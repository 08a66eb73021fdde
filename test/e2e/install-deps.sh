#!/bin/sh
# System packages the node end-to-end tests need (test/e2e/cluster.ts): containerd + runc (the container runtime),
# the CNI plugins (bridge, host-local, portmap, loopback), iptables + conntrack + nft (kube-proxy), gcc + the static libc
# (the pause image), buildah (images without a registry), openssl (the kubelet's certificates), iproute2.
# Idempotent: installs only what is missing. The Kubernetes binaries come from scripts/k8s-binaries.sh.
set -eu
need=""
have() { command -v "$1" >/dev/null 2>&1; }
have containerd || need="$need containerd"
have containerd-shim-runc-v2 || case "$need" in *containerd*) ;; *) need="$need containerd" ;; esac
have runc || need="$need runc"
[ -x /usr/lib/cni/bridge ] || [ -x /opt/cni/bin/bridge ] || need="$need containernetworking-plugins"
have iptables || need="$need iptables"
have conntrack || need="$need conntrack"
have nft || need="$need nftables" # the cluster lists and removes kube-proxy's nftables tables (teardown.ts)
have ip || need="$need iproute2"
have gcc || need="$need gcc"
# a static link needs libc.a: gcc prints the bare name when it has no such file
have gcc && [ "$(gcc -print-file-name=libc.a)" != "libc.a" ] || need="$need libc6-dev"
have buildah || need="$need buildah"
have openssl || need="$need openssl"
if [ -n "$need" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "test/e2e: missing packages:$need (run this script as root, or install them)" >&2
    exit 1
  fi
  apt-get update
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $need
fi
