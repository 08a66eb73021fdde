#!/bin/sh
# System packages the tests need: patchelf (the gateway runtime build), nginx (the end-to-end ingress test puts a
# real nginx in front of the gateway), promtool (from Debian's prometheus package: checks the gateway's metric
# names), and for the image tests buildah, runc, debootstrap. Idempotent.
set -eu
need=""
command -v patchelf >/dev/null 2>&1 || need="$need patchelf"
command -v nginx >/dev/null 2>&1 || need="$need nginx"
command -v promtool >/dev/null 2>&1 || need="$need prometheus"
command -v buildah >/dev/null 2>&1 || need="$need buildah"
command -v runc >/dev/null 2>&1 || need="$need runc"
command -v debootstrap >/dev/null 2>&1 || need="$need debootstrap"
if [ -n "$need" ]; then
  apt-get update
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $need
fi
