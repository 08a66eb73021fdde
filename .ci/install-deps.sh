#!/bin/sh
# System packages the gateway tests need: nginx (the end-to-end ingress test puts a real nginx in front of the
# gateway) and promtool (from Debian's prometheus package: checks the gateway's metric names). Idempotent.
set -eu
need=""
command -v nginx >/dev/null 2>&1 || need="$need nginx"
command -v promtool >/dev/null 2>&1 || need="$need prometheus"
if [ -n "$need" ]; then
  apt-get update
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $need
fi
