#!/usr/bin/env bash
# Builds the whole offline test world, each part cached: engine, images, stand-in bridge, download mirror.
# Safe to run again and again; a warm run takes seconds.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export MEMOH_WORLD_DIR=${MEMOH_WORLD_DIR:-/var/cache/memoh-world}
mkdir -p "$MEMOH_WORLD_DIR"
step() { local t0=$SECONDS; echo "world: $1"; shift; "$@"; echo "world: done in $((SECONDS - t0))s"; }
step "engine" bash "$here/engine.sh"
step "stand-in bridge" bash "$here/../bridge-standin/build.sh"
step "download mirror" bash "$here/mirror/prepare.sh"
step "images" bash "$here/images.sh"
