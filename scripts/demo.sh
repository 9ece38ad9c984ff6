#!/usr/bin/env bash
# The main job on the embedded default, offline: `memoh-workspace run` with conf/default.toml as it is,
# except that downloads come from the test world's loopback mirror and the bridge is the test world's
# stand-in (no internet here: nodejs.org, GitHub and Docker Hub are out of reach).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then bash .ci/install-deps.sh >/dev/null; fi
bash test/world/build.sh >/dev/null
world=${MEMOH_WORLD_DIR:-/var/cache/memoh-world}
arch=$(dpkg --print-architecture)
urls_file=$(mktemp)
node test/world/mirror/server.mjs --port 0 >"$urls_file" &
mirror_pid=$!
trap 'kill $mirror_pid 2>/dev/null; rm -f "$urls_file"' EXIT
for _ in $(seq 100); do [ -s "$urls_file" ] && break; sleep 0.1; done
[ -s "$urls_file" ] || { echo "demo: the test world's mirror did not start" >&2; exit 1; }
url() { node -e 'const u=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).urls; console.log(u[process.argv[2]])' "$urls_file" "$1"; }
set -x
node dist/cli.js run \
  --node-mirror "$(url node)" --node-musl-mirror "$(url nodeMusl)" --npm-mirror "$(url npm)" \
  --uv-mirror "$(url uv)" --alpine-mirror "$(url alpine)" \
  --bridge "$world/bridge/bridge-linux-$arch" \
  --cache-dir "${MEMOH_DEMO_CACHE:-$HOME/.cache/memoh-workspace-demo}" "$@"
