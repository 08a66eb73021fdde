#!/bin/sh
# The Debian packages the tests need (`npm test` runs this first): the `ci:` and `base:` rows of
# scripts/system-commands.txt (patchelf for the gateway runtime build, nginx, promtool, procps, chromium for the
# catalog page test, and buildah, runc, debootstrap for the image tests), installed when a command is missing;
# then the prerequisites are checked (Node and npm, Go, git). Idempotent.
set -eu
cd "$(dirname "$0")/.."
sh scripts/require-commands.sh --install ci base
sh scripts/require-commands.sh prereq
