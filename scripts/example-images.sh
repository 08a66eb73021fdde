#!/usr/bin/env bash
# Builds the images of the Python examples with buildah, without a Docker engine or a registry:
#
#   scripts/example-images.sh python     localhost/python:3-bookworm (Debian bookworm minbase + Debian's python3)
#   scripts/example-images.sh fastmcp    localhost/python-fastmcp:<MCP_VERSION> (examples/python-fastmcp.yaml)
#   scripts/example-images.sh uvx        localhost/python-uvx-time:<TIME_VERSION> (examples/python-uvx.yaml)
#   scripts/example-images.sh all        all three; prints the image names
#
# Python packages come from the package index pip and uv reach (pinned below); Debian packages from this
# machine's apt sources. Each image is built once and found in buildah's storage after (`mcp-operator up`
# imports them into its node's containerd: the node never pulls).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
HERE="$ROOT/examples/images"
MCP_VERSION=1.30.0            # mcp<2: `from mcp.server.fastmcp import FastMCP` moved in 2.x
UV_VERSION=0.13.9
TIME_VERSION=2026.10.19       # mcp-server-time
PYTHON_IMAGE=localhost/python:3-bookworm
FASTMCP_IMAGE="localhost/python-fastmcp:$MCP_VERSION"
UVX_IMAGE="localhost/python-uvx-time:$TIME_VERSION"
CACHE="${MCP_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-operator}/images"
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt

log() { echo "images: $*" >&2; }
have_image() { buildah inspect --type image "$1" >/dev/null 2>&1; }
command -v buildah >/dev/null || { echo "images: 'buildah' is required (apt-get install buildah)" >&2; exit 1; }
mkdir -p "$CACHE"
BUD_ARGS=(--quiet --layers --pull=never --network=host)
[ ! -s "$CA_BUNDLE" ] || BUD_ARGS+=(--secret "id=build-ca,src=$CA_BUNDLE")

build_python() {
  have_image "$PYTHON_IMAGE" && return 0
  # the same slim Debian minbase scripts/images.sh constructs for the Node base (cached as a tarball)
  [ -f "$CACHE/bookworm-minbase.tar" ] || bash "$ROOT/scripts/images.sh" base >/dev/null
  log "constructing $PYTHON_IMAGE (Debian's python3; about a minute)"
  local ctr mnt
  ctr="$(buildah from scratch)"
  mnt="$(buildah mount "$ctr")"
  tar --numeric-owner -C "$mnt" -xf "$CACHE/bookworm-minbase.tar"
  cp /etc/resolv.conf "$mnt/etc/resolv.conf"
  buildah run --network=host "$ctr" -- sh -c 'apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-venv >/dev/null \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /usr/share/doc/* /usr/share/man/*'
  : >"$mnt/etc/resolv.conf"
  buildah umount "$ctr" >/dev/null
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd python3 \
    --label org.opencontainers.image.description="Debian bookworm minbase + Debian's python3, constructed locally" "$ctr"
  buildah commit --rm --quiet "$ctr" "$PYTHON_IMAGE" >/dev/null
}

build_fastmcp() {
  build_python
  have_image "$FASTMCP_IMAGE" && return 0
  log "building $FASTMCP_IMAGE"
  buildah bud "${BUD_ARGS[@]}" --build-arg PYTHON_IMAGE="$PYTHON_IMAGE" --build-arg MCP_VERSION="$MCP_VERSION" \
    -f "$HERE/python-fastmcp/Containerfile" -t "$FASTMCP_IMAGE" "$HERE/python-fastmcp" >/dev/null
}

build_uvx() {
  build_python
  have_image "$UVX_IMAGE" && return 0
  log "building $UVX_IMAGE"
  buildah bud "${BUD_ARGS[@]}" --build-arg PYTHON_IMAGE="$PYTHON_IMAGE" --build-arg UV_VERSION="$UV_VERSION" \
    --build-arg TOOL="mcp-server-time==$TIME_VERSION" \
    -f "$HERE/python-uvx/Containerfile" -t "$UVX_IMAGE" "$HERE/python-uvx" >/dev/null
}

case "${1:-}" in
  python) build_python; echo "$PYTHON_IMAGE" ;;
  fastmcp) build_fastmcp; echo "$FASTMCP_IMAGE" ;;
  uvx) build_uvx; echo "$UVX_IMAGE" ;;
  all) build_fastmcp; build_uvx; echo "$FASTMCP_IMAGE $UVX_IMAGE" ;;
  *) sed -n '2,12p' "$0" >&2; exit 2 ;;
esac
