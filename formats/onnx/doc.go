// Package onnx is the ONNX file format: the protobuf messages of ONNX's
// schema (onnx.proto, generated into onnx.pb.go) and the reading and
// writing of model files with google.golang.org/protobuf. It knows nothing
// of Capa's models: package interchange maps them to and from ONNX graphs.
//
// onnx.proto is ONNX's own schema (Apache-2.0), copied unchanged from
// github.com/onnx/onnx at commit f7546912 (August 2026, IR version 12);
// gen.sh regenerates onnx.pb.go from it with protoc and protoc-gen-go
// v1.36.12, so the generated code and the runtime library agree.
package onnx
