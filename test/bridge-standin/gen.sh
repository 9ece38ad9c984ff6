#!/usr/bin/env bash
# Regenerates the committed Go stubs under pb/ from the .proto files under proto/:
#   proto/internal/mcp/mcpcontainer/mcpcontainer.proto  -> pb/mcpcontainer   (v3 seed wire name)
#   proto/v3/internal/workspace/bridgepb/bridge.proto   -> pb/v3/bridgepb    (v3 binary, later wire name)
#   proto/internal/workspace/bridgepb/bridge.proto      -> pb/bridgepb       (v0.18 binary)
# The two bridge.proto files register the same file name (what reflection shows), so each binary links one.
# Only needed after editing a .proto: build.sh compiles the committed stubs and needs Go alone.
# Needs (Debian): protobuf-compiler protoc-gen-go protoc-gen-go-grpc (all in .ci/install-deps.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
gen() { # <include root> <out subdir> <proto>
  mkdir -p "$tmp/$2"
  (cd "$here/$1" && protoc -I . --go_out="$tmp/$2" --go_opt=paths=source_relative \
    --go-grpc_out="$tmp/$2" --go-grpc_opt=paths=source_relative "$3")
  mkdir -p "$here/pb/$2"
  cp "$tmp/$2/$(dirname "$3")"/*.go "$here/pb/$2/"
}
gen proto mcpcontainer internal/mcp/mcpcontainer/mcpcontainer.proto
gen proto/v3 v3/bridgepb internal/workspace/bridgepb/bridge.proto
gen proto bridgepb internal/workspace/bridgepb/bridge.proto
echo "gen: stubs written to $here/pb (protoc-gen-go $(protoc-gen-go --version 2>&1 | awk '{print $2}'), protoc-gen-go-grpc $(protoc-gen-go-grpc --version 2>&1 | awk '{print $2}'))"
