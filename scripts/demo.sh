#!/usr/bin/env bash
# The main job on the embedded default, offline: `memoh-workspace run` with conf/default.toml as it is
# (memohai/workspace:debian, the bridge from image:memohai/server:latest, era auto, containerd backend). No
# internet here, so the test world stands in: it tags its workspace-shaped image and a server image holding the
# stand-in v0.18 bridge with those two names (amd64), and downloads (a v3 toolkit) come from its loopback mirror.
set -euo pipefail
cd "$(dirname "$0")/.."
# A fresh machine spends minutes here: each step says what it is and how long it took.
t0=$SECONDS
if [ "$(id -u)" = 0 ]; then
  printf 'demo: packages from Debian (Docker engine, debootstrap, qemu…) … '
  log=$(mktemp)
  bash .ci/install-deps.sh >"$log" 2>&1 || { echo failed; cat "$log"; rm -f "$log"; exit 1; }
  rm -f "$log"
  echo "$((SECONDS - t0)) s"
fi
bash test/world/build.sh
# shellcheck source=../test/world/world.env
. test/world/world.env
world=$MEMOH_WORLD_DIR
arch=$(dpkg --print-architecture)
# The world's memohai/server:latest holds the amd64 stand-in; elsewhere the bridge file is named.
bridge=(); [ "$arch" = amd64 ] || bridge=(--bridge "$world/bridge/bridge-v0.18-linux-$arch")

urls_file=$(mktemp)
node test/world/mirror/server.mjs --port 0 >"$urls_file" &
mirror_pid=$!
trap 'kill $mirror_pid 2>/dev/null; rm -f "$urls_file"' EXIT
for _ in $(seq 100); do [ -s "$urls_file" ] && break; sleep 0.1; done
[ -s "$urls_file" ] || { echo "demo: the test world's mirror did not start" >&2; exit 1; }
# The mirror's five base URLs, in the order of the flags below.
mapfile -t u < <(node -e 'const u=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).urls; for (const k of ["node","nodeMusl","npm","uv","alpine"]) console.log(u[k])' "$urls_file")

cmd=(node dist/cli.js run
  --node-mirror "${u[0]}" --node-musl-mirror "${u[1]}" --npm-mirror "${u[2]}" --uv-mirror "${u[3]}" --alpine-mirror "${u[4]}"
  "${bridge[@]}"
  --cache-dir "${MEMOH_DEMO_CACHE:-$HOME/.cache/memoh-workspace-demo}" "$@")
# The command, once, as it could be pasted: one flag and its value per line.
printf '\n$ %s' "${cmd[0]} ${cmd[1]} ${cmd[2]}"
for a in "${cmd[@]:3}"; do
  if [[ $a == --* ]]; then printf ' \\\n    %q' "$a"; else printf ' %q' "$a"; fi
done
printf '\n\n'
"${cmd[@]}"
