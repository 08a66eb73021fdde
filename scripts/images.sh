#!/usr/bin/env bash
# Builds the project's container images with buildah, without a Docker engine or a registry.
#
#   scripts/images.sh base        localhost/node:<NODE_VERSION>-bookworm-slim and localhost/distroless-base:bookworm
#   scripts/images.sh operator    localhost/mcp-operator:<version>, from ./Dockerfile (builds `base` first)
#   scripts/images.sh servers     third-party server images: localhost/server-everything:<version> (Node, Debian
#                                 slim) and localhost/echo-server:distroless (static Go binary, glibc-only base)
#   scripts/images.sh all         base, operator and servers; prints the image names
#   scripts/images.sh rootfs NAME DIR   unpacks image NAME into DIR (for chroot/runc tests)
#
# The Node base is pulled by nobody here: when the image is not in local storage, it is constructed from a
# Debian bookworm minbase (debootstrap, with the apt sources of this machine) plus the same Node release the
# project pins (the `node` npm package) plus npm. The distroless-style base holds only glibc, libssl, CA
# certificates and passwd/group entries: no shell, no package manager, like gcr's distroless/base.
# Everything is cached: the rootfs tarball under ~/.cache/mcp-operator/images, images in buildah's storage.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
NODE_VERSION="${NODE_VERSION:-24.21.0}"
NPM_VERSION="${NPM_VERSION:-11.19.1}" # the npm that writes package-lock.json here
SUITE=bookworm
CACHE_ROOT="${MCP_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-operator}"
CACHE="$CACHE_ROOT/images"
NODE_IMAGE="localhost/node:$NODE_VERSION-$SUITE-slim"
DISTROLESS_IMAGE="localhost/distroless-base:$SUITE"
VERSION="$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$ROOT/package.json")"
OPERATOR_IMAGE="localhost/mcp-operator:$VERSION"
ECHO_IMAGE="localhost/echo-server:distroless"
# The server version the gateway tests use (devDependencies), so both test suites exercise the same server.
SERVER_EVERYTHING_VERSION="$(sed -n 's#^    "@modelcontextprotocol/server-everything": "\(.*\)",*$#\1#p' "$ROOT/package.json")"
SERVER_IMAGE="localhost/server-everything:$SERVER_EVERYTHING_VERSION"
# The image also carries server-memory and server-filesystem (test/e2e/virtual.test.ts), at the gateway tests' versions.
SERVER_MEMORY_VERSION="$(sed -n 's#^    "@modelcontextprotocol/server-memory": "\(.*\)",*$#\1#p' "$ROOT/package.json")"
SERVER_FILESYSTEM_VERSION="$(sed -n 's#^    "@modelcontextprotocol/server-filesystem": "\(.*\)",*$#\1#p' "$ROOT/package.json")"
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt # the host's trust, for npm behind a TLS-inspecting proxy

log() { echo "images: $*" >&2; }
have_image() { buildah inspect --type image "$1" >/dev/null 2>&1; }
need() { command -v "$1" >/dev/null || { echo "images: '$1' is required (apt-get install $2)" >&2; exit 1; }; }

mkdir -p "$CACHE"
exec 8>"$CACHE/.lock"
flock 8 # one builder at a time: buildah storage and the cache are shared

# (Functions run at the top level only: `set -e` is off inside a function called from an && list.)

# Debian minbase rootfs, slimmed the way the official -slim images are (no docs, man pages, locales, apt lists).
minbase_tar() {
  local tar="$CACHE/$SUITE-minbase.tar"
  if [ ! -f "$tar" ]; then
    need debootstrap debootstrap
    local dir mirror
    dir="$(mktemp -d "$CACHE/rootfs.XXXXXX")"
    # The first deb822 URIs of this machine's apt sources; debootstrap's own default otherwise.
    mirror="$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1 || true)"
    log "debootstrap $SUITE minbase (once; about a minute)"
    debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$dir" ${mirror:+"$mirror"} >"$CACHE/debootstrap.log" 2>&1 \
      || { tail -20 "$CACHE/debootstrap.log" >&2; rm -rf "$dir"; exit 1; }
    rm -rf "$dir"/var/cache/apt/* "$dir"/var/lib/apt/lists/* "$dir"/usr/share/{doc,man,info,locale}/* "$dir"/var/log/*
    tar --numeric-owner -C "$dir" -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
    rm -rf "$dir"
  fi
  echo "$tar"
}

build_node_base() {
  have_image "$NODE_IMAGE" && return 0
  local node_bin="$ROOT/node_modules/node/bin/node"
  [ -x "$node_bin" ] || { echo "images: $node_bin is missing: run npm install first" >&2; exit 1; }
  # spawns: node (node_modules/node/bin/node, the Node the image gets)
  [ "$("$node_bin" --version)" = "v$NODE_VERSION" ] || { echo "images: $node_bin is not v$NODE_VERSION" >&2; exit 1; }
  local tar npm_tgz ctr mnt
  tar="$(minbase_tar)"
  npm_tgz="$CACHE/npm-$NPM_VERSION.tgz"
  [ -f "$npm_tgz" ] || (cd "$CACHE" && npm pack --silent "npm@$NPM_VERSION" >/dev/null)
  log "constructing $NODE_IMAGE"
  ctr="$(buildah from scratch)"
  mnt="$(buildah mount "$ctr")"
  tar --numeric-owner -C "$mnt" -xf "$tar"
  install -m 0755 "$node_bin" "$mnt/usr/local/bin/node"
  mkdir -p "$mnt/usr/local/lib/node_modules/npm"
  tar -C "$mnt/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner -xzf "$npm_tgz"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$mnt/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$mnt/usr/local/bin/npx"
  chroot "$mnt" /usr/local/bin/node --version >/dev/null
  buildah umount "$ctr" >/dev/null
  buildah config --env NODE_VERSION="$NODE_VERSION" --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd node --label org.opencontainers.image.description="Debian $SUITE minbase + Node $NODE_VERSION, constructed locally" "$ctr"
  buildah commit --rm --quiet "$ctr" "$NODE_IMAGE" >/dev/null
}

# glibc-only base, like distroless/base: the files of libc6, libssl3, ca-certificates, tzdata-less, no shell.
build_distroless_base() {
  have_image "$DISTROLESS_IMAGE" && return 0
  local tar dir ctr mnt
  tar="$(minbase_tar)"
  dir="$(mktemp -d "$CACHE/rootfs.XXXXXX")"
  tar --numeric-owner -C "$dir" -xf "$tar"
  log "constructing $DISTROLESS_IMAGE"
  ctr="$(buildah from scratch)"
  mnt="$(buildah mount "$ctr")"
  # Debian 12 is merged-/usr: /lib, /bin, /sbin, /lib64 are symlinks into /usr, as in the source rootfs.
  mkdir -p "$mnt/usr/lib" "$mnt/usr/lib64" "$mnt/usr/bin" "$mnt/usr/sbin" "$mnt/etc"
  cp -a "$dir/lib" "$dir/lib64" "$dir/bin" "$dir/sbin" "$mnt/"
  # Regular files and symlinks the packages own (directories are recreated by --parents).
  chroot "$dir" dpkg-query -L libc6 libssl3 ca-certificates \
    | while read -r f; do if [ ! -d "$dir$f" ] && { [ -L "$dir$f" ] || [ -f "$dir$f" ]; }; then echo "${f#/}"; fi; done \
    | (cd "$dir" && xargs cp -a --parents -t "$mnt")
  cp -a "$dir/etc/ssl" "$mnt/etc/"
  mkdir -p "$mnt/tmp" "$mnt/home/nonroot" && chmod 1777 "$mnt/tmp"
  chown 65532:65532 "$mnt/home/nonroot"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$mnt/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >"$mnt/etc/group"
  [ ! -e "$mnt/bin/sh" ] || { echo "images: distroless base unexpectedly has a shell" >&2; exit 1; }
  buildah umount "$ctr" >/dev/null
  buildah config --user 65532:65532 --label org.opencontainers.image.description="glibc-only base (distroless-style), constructed locally" "$ctr"
  buildah commit --rm --quiet "$ctr" "$DISTROLESS_IMAGE" >/dev/null
  rm -rf "$dir"
}

build_operator() {
  build_node_base
  log "building $OPERATOR_IMAGE from Dockerfile"
  # Host network: only `npm ci` in the build stage needs it (package registry). --layers caches unchanged steps.
  buildah bud --quiet --layers --pull=never --network=host "${BUD_CACHE_ARGS[@]}" \
    --build-arg NODE_IMAGE="$NODE_IMAGE" --build-arg VERSION="$VERSION" \
    --build-arg REVISION="$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)" \
    -f "$ROOT/Dockerfile" -t "$OPERATOR_IMAGE" "$ROOT" >/dev/null
  echo "$OPERATOR_IMAGE"
}

build_servers() {
  build_node_base
  build_distroless_base
  log "building $SERVER_IMAGE"
  buildah bud --quiet --layers --pull=never --network=host "${BUD_CACHE_ARGS[@]}" \
    --build-arg NODE_IMAGE="$NODE_IMAGE" --build-arg SERVER_EVERYTHING_VERSION="$SERVER_EVERYTHING_VERSION" \
    --build-arg SERVER_MEMORY_VERSION="$SERVER_MEMORY_VERSION" --build-arg SERVER_FILESYSTEM_VERSION="$SERVER_FILESYSTEM_VERSION" \
    -f "$ROOT/test/images/server-everything.Containerfile" -t "$SERVER_IMAGE" "$ROOT/test/images" >/dev/null
  need go golang
  local bin ctr
  bin="$(mktemp -d)"
  (cd "$ROOT/test/images/echo-server" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -ldflags "-s -w" -o "$bin/echo-server" .)
  log "building $ECHO_IMAGE"
  ctr="$(buildah from --pull=never "$DISTROLESS_IMAGE")"
  buildah copy --quiet --chmod 0755 "$ctr" "$bin/echo-server" /usr/local/bin/echo-server >/dev/null
  buildah config --entrypoint '["/usr/local/bin/echo-server"]' --user 65532:65532 "$ctr"
  buildah commit --rm --quiet "$ctr" "$ECHO_IMAGE" >/dev/null
  rm -rf "$bin"
}

# Unpacks an image's filesystem into DIR (replaced), for runc/chroot tests that need no containerd.
export_rootfs() {
  local image="$1" dir="$2" ctr mnt
  ctr="$(buildah from --pull=never "$image")"
  mnt="$(buildah mount "$ctr")"
  rm -rf "$dir" && mkdir -p "$dir"
  tar --numeric-owner -C "$mnt" -cf - . | tar --numeric-owner -C "$dir" -xf -
  buildah umount "$ctr" >/dev/null
  buildah rm "$ctr" >/dev/null
}

need buildah buildah
# Build steps that run npm get the host's CA bundle as a secret (never a layer) and the host's npm cache.
BUD_CACHE_ARGS=()
[ ! -s "$CA_BUNDLE" ] || BUD_CACHE_ARGS+=(--secret "id=build-ca,src=$CA_BUNDLE")
NPM_CACHE="$(npm config get cache 2>/dev/null || true)"
[ -z "$NPM_CACHE" ] || { mkdir -p "$NPM_CACHE" && BUD_CACHE_ARGS+=(--volume "$NPM_CACHE:/root/.npm:rw"); }
case "${1:-}" in
  base)
    build_node_base
    build_distroless_base
    echo "$NODE_IMAGE $DISTROLESS_IMAGE"
    ;;
  operator) build_operator ;;
  servers)
    build_servers
    echo "$SERVER_IMAGE $ECHO_IMAGE"
    ;;
  all)
    build_operator >/dev/null
    build_servers
    echo "$NODE_IMAGE $DISTROLESS_IMAGE $OPERATOR_IMAGE $SERVER_IMAGE $ECHO_IMAGE"
    ;;
  rootfs) export_rootfs "${2:?image}" "${3:?dir}" ;;
  *) sed -n '2,9p' "$0" >&2; exit 2 ;;
esac
