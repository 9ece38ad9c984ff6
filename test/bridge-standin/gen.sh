#!/usr/bin/env bash
# Regenerates the committed Go stubs under pb/ from the two .proto files under proto/.
# Only needed after editing a .proto: build.sh compiles the committed stubs and needs Go alone.
# Needs (Debian): protobuf-compiler protoc-gen-go protoc-gen-go-grpc (all in .ci/install-deps.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cd "$here/proto"
protoc -I . --go_out="$tmp" --go_opt=paths=source_relative \
  --go-grpc_out="$tmp" --go-grpc_opt=paths=source_relative \
  internal/mcp/mcpcontainer/mcpcontainer.proto internal/workspace/bridgepb/bridge.proto
mkdir -p "$here/pb/mcpcontainer" "$here/pb/bridgepb"
cp "$tmp"/internal/mcp/mcpcontainer/*.go "$here/pb/mcpcontainer/"
cp "$tmp"/internal/workspace/bridgepb/*.go "$here/pb/bridgepb/"
echo "gen: stubs written to $here/pb (protoc-gen-go $(protoc-gen-go --version 2>&1 | awk '{print $2}'), protoc-gen-go-grpc $(protoc-gen-go-grpc --version 2>&1 | awk '{print $2}'))"
