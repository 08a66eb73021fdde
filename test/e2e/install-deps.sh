#!/bin/sh
# The Debian packages the node end-to-end tests need (test/e2e/cluster.ts): the `e2e:` rows of
# scripts/system-commands.txt (containerd + runc, iptables + nftables + conntrack for kube-proxy and the teardown,
# iproute2, kmod, gcc + binutils for the pause image, openssl for the kubelet's certificates, buildah), and what is
# not a command: the CNI plugins (bridge, host-local, portmap, loopback) and the static libc. Idempotent: installs
# only what is missing. The Kubernetes binaries come from scripts/k8s-binaries.sh.
set -eu
cd "$(dirname "$0")/../.."
sh scripts/require-commands.sh --install base e2e
need=""
[ -x /usr/lib/cni/bridge ] || [ -x /opt/cni/bin/bridge ] || need="$need containernetworking-plugins"
# a static link needs libc.a: gcc prints the bare name when it has no such file
[ "$(gcc -print-file-name=libc.a)" != "libc.a" ] || need="$need libc6-dev"
if [ -n "$need" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "test/e2e: missing packages:$need (run this script as root, or install them)" >&2
    exit 1
  fi
  apt-get update
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $need
fi
