#!/usr/bin/env bash
# Builds the stand-in bridge, static, for linux/amd64 and linux/arm64, in both Memoh eras:
#   <out>/bridge-linux-{amd64,arm64}        the v3 seed bridge (shared/bridge-contract.md)
#   <out>/bridge-v0.18-linux-{amd64,arm64}  the v0.18 bridge (shared/memoh-current.md)
# <out> is --out DIR, else ${MEMOH_WORLD_DIR:-/var/cache/memoh-world}/bridge.
# Cached: skips the build when <out>/.bridge-standin.stamp holds the same sha256 of the sources, the
# toolchain and the Go library packages (and all four binaries are present). --force rebuilds anyway.
# Needs only Go and Debian's Go libraries (installed by .ci/install-deps.sh); the protobuf stubs under pb/
# are committed (regenerate them with gen.sh after editing proto/).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out="${MEMOH_WORLD_DIR:-/var/cache/memoh-world}/bridge"
force=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="${2:?--out needs a directory}"; shift 2 ;;
    --out=*) out="${1#--out=}"; shift ;;
    --force) force=1; shift ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done

GO=/usr/lib/go-1.23/bin/go
[ -x "$GO" ] || GO=$(command -v go || true)
if [ -z "$GO" ] || [ ! -x "$GO" ]; then
  echo "build.sh: no Go toolchain (install golang-1.23-go via .ci/install-deps.sh)" >&2; exit 1
fi
gocode=/usr/share/gocode
for d in google.golang.org/grpc google.golang.org/protobuf golang.org/x/sys/unix github.com/golang/protobuf/proto; do
  [ -d "$gocode/src/$d" ] || { echo "build.sh: missing $gocode/src/$d (run .ci/install-deps.sh)" >&2; exit 1; }
done

archs=(amd64 arm64)
cd "$here"
srcs=$(find . -path ./scratch -prune -o -type f \( -name '*.go' -o -name '*.proto' -o -name 'build.sh' \) -print | LC_ALL=C sort)
libs=$(dpkg-query -W -f='${Package}=${Version}\n' golang-google-grpc-dev golang-google-protobuf-dev \
  golang-github-golang-protobuf-1-5-dev golang-golang-x-sys-dev golang-golang-x-net-dev \
  golang-golang-x-text-dev golang-google-genproto-dev 2>/dev/null || true)
sum=$( { for f in $srcs; do echo "== $f"; cat "$f"; done; "$GO" version; echo "$libs"; echo "${archs[*]}"; } | sha256sum | cut -d' ' -f1)

stamp="$out/.bridge-standin.stamp"
# Era is per binary, as with real bridges: the build tag picks the era's sources and its .proto stubs (both
# eras register a file named internal/workspace/bridgepb/bridge.proto, so they cannot share one binary).
names=()
for a in "${archs[@]}"; do names+=("bridge-linux-$a" "bridge-v0.18-linux-$a"); done
have_all=1
for n in "${names[@]}"; do [ -x "$out/$n" ] || have_all=0; done
if [ $force = 0 ] && [ $have_all = 1 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then
  echo "build.sh: up to date ($out)"
  exit 0
fi

mkdir -p "$out"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
pkgdir="$tmp/gopath/src/memohstandin"
mkdir -p "$pkgdir"
cp ./*.go "$pkgdir/"
cp -r pb "$pkgdir/"
rm -f "$pkgdir"/*_test.go

export GO111MODULE=off GOPATH="$tmp/gopath:$gocode" CGO_ENABLED=0 GOOS=linux GOTOOLCHAIN=local GOFLAGS=
if [ -z "${GOCACHE:-}" ] && [ -z "${HOME:-}" ] && [ -z "${XDG_CACHE_HOME:-}" ]; then
  export GOCACHE=/tmp/memoh-standin-gocache
fi
for a in "${archs[@]}"; do
  for era in v3 v0.18; do
    if [ $era = v3 ]; then n="bridge-linux-$a" tags=""; else n="bridge-v0.18-linux-$a" tags="memoh_v018"; fi
    GOARCH=$a "$GO" build -trimpath -tags "$tags" -ldflags "-s -w -X main.era=$era" -o "$tmp/$n" memohstandin
    chmod 0755 "$tmp/$n"
    mv -f "$tmp/$n" "$out/$n.new"
    mv -f "$out/$n.new" "$out/$n"
  done
done
echo "$sum" > "$stamp"
for n in "${names[@]}"; do echo "build.sh: built $out/$n"; done
