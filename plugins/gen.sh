#!/bin/sh
# Regenerates pluginpb from plugin.proto. Needs protoc (Debian: protobuf-compiler)
# only when the proto changes: the generated code is committed, so builds and CI
# never run this. Generator versions are pinned here and in go.mod.
set -eu
cd "$(dirname "$0")"
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
GOBIN="$bin" go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.10
GOBIN="$bin" go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.3.0
PATH="$bin:$PATH" protoc \
	--go_out=pluginpb --go_opt=paths=source_relative \
	--go-grpc_out=pluginpb --go-grpc_opt=paths=source_relative \
	plugin.proto
