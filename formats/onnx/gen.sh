#!/bin/sh
# Regenerates onnx.pb.go from onnx.proto (ONNX's schema, unchanged).
# Needs protoc (Debian's protobuf-compiler) and protoc-gen-go of the same
# version as google.golang.org/protobuf in go.mod:
#   go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
set -eu
cd "$(dirname "$0")"
PATH="$(go env GOPATH)/bin:$PATH" protoc --go_out=. --go_opt=paths=source_relative \
  --go_opt=Monnx.proto=github.com/capa-ml/capa/formats/onnx onnx.proto
