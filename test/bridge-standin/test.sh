#!/usr/bin/env bash
# Runs the Go tests of the stand-in (v0.18 binary: v018_test.go) in GOPATH mode with Debian's Go packages,
# like build.sh: nothing is fetched. Extra arguments go to `go test` (e.g. -run TestExec -v).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
GO=/usr/lib/go-1.23/bin/go
[ -x "$GO" ] || GO=$(command -v go)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/gopath/src/memohstandin"
cp "$here"/*.go "$tmp/gopath/src/memohstandin/"
cp -r "$here/pb" "$tmp/gopath/src/memohstandin/"
export GO111MODULE=off GOPATH="$tmp/gopath:/usr/share/gocode" CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=
if [ -z "${GOCACHE:-}" ] && [ -z "${HOME:-}" ] && [ -z "${XDG_CACHE_HOME:-}" ]; then
  export GOCACHE=/tmp/memoh-standin-gocache
fi
cd "$tmp/gopath/src/memohstandin"
"$GO" vet -tags memoh_v018 .
"$GO" vet .
"$GO" test -tags memoh_v018 -count=1 "$@" .
