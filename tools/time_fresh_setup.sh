#!/usr/bin/env bash
# Times the README's two set-up commands as a newcomer meets them: a new clone, no .venv, and an empty home
# (no pip cache, no ~/.cache/clinsim with its llama-server build and model), `make demo` then `make test`.
#
#   tools/time_fresh_setup.sh [WORKDIR]      (default: a new temporary directory; needs ~10 GB free)
#
# As root it also drops the OS page cache first, so the wheels are read from disk as after a restart.
# The machine's own package sources (pip config, find-links) stay as they are: they are part of the machine.
# Chromium is installed system-wide by `make test` once per machine; if it is already there, that step is free.
set -euo pipefail
case "${1:-}" in -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0;; -*) echo "unknown option: $1 (see --help)" >&2; exit 2;; esac
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$(mktemp -d)}
mkdir -p "$work/home"
[ -f "$HOME/.config/pip/pip.conf" ] && mkdir -p "$work/home/.config/pip" && cp "$HOME/.config/pip/pip.conf" "$work/home/.config/pip/"
git clone -q "$repo" "$work/clone"
[ -e "$work/shared" ] || [ ! -d "$repo/../shared" ] || ln -s "$(cd "$repo/../shared" && pwd)" "$work/shared"
if [ "$(id -u)" = 0 ]; then sync && echo 3 > /proc/sys/vm/drop_caches && echo "dropped the page cache"; fi
cd "$work/clone"
export HOME="$work/home"
for target in demo test; do
  start=$(date +%s)
  make "$target" > "$work/make-$target.log" 2>&1 || { echo "make $target failed: see $work/make-$target.log"; exit 1; }
  seconds=$(( $(date +%s) - start ))
  printf 'make %s: %d min %d s (log: %s)\n' "$target" $((seconds / 60)) $((seconds % 60)) "$work/make-$target.log"
done
