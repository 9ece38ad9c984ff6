#!/usr/bin/env bash
# Builds the whole offline test world, each part cached: engine, images, stand-in bridge, download mirror.
# Safe to run again and again; a warm run takes seconds.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=world.env
. "$here/world.env"
mkdir -p "$MEMOH_WORLD_DIR"
# Each step is one line, its name and then its time ("world: images … 43 s"): a cold build takes minutes and
# must show where it is. On a terminal the line ticks with the seconds and the step's latest output line.
# A step's own output goes to $MEMOH_WORLD_DIR/logs/STEP.log, and its tail is shown when it fails;
# MEMOH_WORLD_VERBOSE=1 shows it as it comes instead.
logs="$MEMOH_WORLD_DIR/logs"
mkdir -p "$logs"
started=$SECONDS
step() {
  local name=$1 t0=$SECONDS log="$logs/${1// /-}.log" rc=0 pid
  shift
  if [ "${MEMOH_WORLD_VERBOSE:-}" = 1 ]; then
    echo "world: $name …"
    "$@" || rc=$?
  elif [ -t 1 ]; then
    "$@" >"$log" 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
      printf '\r\033[Kworld: %s … %d s  %s' "$name" $((SECONDS - t0)) "$(tail -n 1 "$log" 2>/dev/null | tr -d '\r' | cut -c1-60)"
      sleep 1
    done
    wait "$pid" || rc=$?
    printf '\r\033[K'
  else
    printf 'world: %s … ' "$name"
    "$@" >"$log" 2>&1 || rc=$?
  fi
  if [ "${MEMOH_WORLD_VERBOSE:-}" = 1 ] || [ -t 1 ]; then printf 'world: %s … ' "$name"; fi
  if [ "$rc" != 0 ]; then
    if [ "${MEMOH_WORLD_VERBOSE:-}" = 1 ]; then echo "failed after $((SECONDS - t0)) s (exit $rc)"; exit "$rc"; fi
    echo "failed after $((SECONDS - t0)) s (exit $rc); the end of $log:"
    tail -n 40 "$log" | sed 's/^/  | /'
    exit "$rc"
  fi
  echo "$((SECONDS - t0)) s"
}
step "engine" bash "$here/engine.sh"
step "stand-in bridge" bash "$here/../bridge-standin/build.sh"
step "download mirror" bash "$here/mirror/prepare.sh"
step "images" bash "$here/images.sh"
echo "world: ready in $((SECONDS - started)) s (logs: $logs)"
