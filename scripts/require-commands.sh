#!/bin/sh
# Checks that the commands of the given providers in scripts/system-commands.txt (the one command -> Debian
# package map) are on PATH, naming the Debian package of each missing one. With --install (as root), installs
# those packages and checks again, so a wrong package name fails here rather than in a test.
#
#   sh scripts/require-commands.sh [--install] PROVIDER...    PROVIDER: ci | e2e | base | prereq
set -eu
install=no
if [ "${1:-}" = --install ]; then
  install=yes
  shift
fi
table="$(dirname "$0")/system-commands.txt"
# iptables, modprobe and friends live in sbin, which a non-root PATH may not hold
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

# "command package" for every missing command of the providers given
missing() {
  while read -r cmd provider _; do
    case "$cmd" in '' | '#'*) continue ;; esac
    for p in "$@"; do
      # "ci+e2e:buildah": the scopes before the colon
      case "+${provider%%:*}+" in *"+$p+"*) ;; *) continue ;; esac
      command -v "$cmd" >/dev/null 2>&1 || echo "$cmd ${provider#*:}"
    done
  done <"$table"
}

report() {
  echo "$1" | while read -r cmd package; do
    case "$package" in
      prereq) echo "  $cmd: a prerequisite (see the README's quick start): $(grep "^$cmd " "$table" | sed 's/^[^ ]* *[^ ]* *//')" ;;
      *) echo "  $cmd: Debian package $package" ;;
    esac
  done >&2
}

absent="$(missing "$@")"
[ -n "$absent" ] || exit 0
packages="$(echo "$absent" | awk '$2 != "prereq" { print $2 }' | sort -u | tr '\n' ' ')"
if [ "$install" = no ] || [ -z "$packages" ] || [ "$(id -u)" != 0 ]; then
  echo "missing commands (install them, or run: sudo sh $0 --install $*):" >&2
  report "$absent"
  exit 1
fi
echo "installing:$packages" >&2
apt-get update
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $packages
absent="$(missing "$@")"
if [ -n "$absent" ]; then
  echo "still missing after installing$packages (is scripts/system-commands.txt right?):" >&2
  report "$absent"
  exit 1
fi
