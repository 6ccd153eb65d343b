package onnx

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/capa-ml/capa/internal/atomicfile"
	"google.golang.org/protobuf/proto"
)

// MaxFileSize is the largest model file Read accepts (2 GiB, protobuf's own
// limit on one message; larger ONNX models keep their weights outside).
const MaxFileSize = 2 << 30

// Marshal encodes a model.
func Marshal(m *ModelProto) ([]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("onnx: encoding model: %w", err)
	}
	return b, nil
}

// WriteFile writes a model to path atomically: a reader sees the old file
// or the whole new one, never part of it.
func WriteFile(path string, m *ModelProto) error {
	b, err := Marshal(m)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteBytes(path, b, 0o644); err != nil {
		return fmt.Errorf("onnx: %w", err)
	}
	return nil
}

// Unmarshal decodes a model and checks what a reader relies on: that it
// has a graph, and that every initializer's stored data has the size its
// dimensions claim (no tensor claiming 2^40 elements is allocated).
func Unmarshal(b []byte) (*ModelProto, error) {
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("onnx: %d bytes, more than the %d a model file may have", len(b), MaxFileSize)
	}
	m := &ModelProto{}
	if err := proto.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("onnx: not a valid ONNX model (truncated or corrupt protobuf): %w", err)
	}
	if m.Graph == nil {
		return nil, fmt.Errorf("onnx: the model has no graph")
	}
	for _, t := range m.Graph.Initializer {
		if _, err := TensorFloats(t); err != nil && t.GetDataType() == int32(TensorProto_FLOAT) {
			return nil, err
		}
	}
	return m, nil
}

// ReadFile reads and checks a model file, as Unmarshal does.
func ReadFile(path string) (*ModelProto, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("onnx: reading %s: %w", path, err)
	}
	m, err := Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// NumElements returns the number of elements dims describe, or an error if
// a dimension is negative or the product overflows int or exceeds max.
func NumElements(dims []int64, max int64) (int64, error) {
	n := int64(1)
	for _, d := range dims {
		if d < 0 {
			return 0, fmt.Errorf("onnx: negative dimension in %v", dims)
		}
		if d != 0 && n > max/d {
			return 0, fmt.Errorf("onnx: dimensions %v claim more than %d elements", dims, max)
		}
		n *= d
	}
	return n, nil
}

// FloatTensor returns a FLOAT tensor named name of the given dimensions,
// its values stored little-endian in raw_data.
func FloatTensor(name string, dims []int64, values []float32) *TensorProto {
	raw := make([]byte, 4*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return &TensorProto{Name: proto.String(name), Dims: dims, DataType: proto.Int32(int32(TensorProto_FLOAT)), RawData: raw}
}

// Int64Tensor returns an INT64 tensor named name of the given dimensions.
func Int64Tensor(name string, dims []int64, values []int64) *TensorProto {
	return &TensorProto{Name: proto.String(name), Dims: dims, DataType: proto.Int32(int32(TensorProto_INT64)), Int64Data: values}
}

// TensorFloats returns a FLOAT tensor's values, from raw_data or float_data,
// checking that their number is the one its dimensions give. Tensors whose
// data lives in an external file are refused.
func TensorFloats(t *TensorProto) ([]float32, error) {
	if t.GetDataType() != int32(TensorProto_FLOAT) {
		return nil, fmt.Errorf("onnx: tensor %q has data type %s, not FLOAT", t.GetName(), TensorProto_DataType(t.GetDataType()))
	}
	if t.GetDataLocation() == TensorProto_EXTERNAL {
		return nil, fmt.Errorf("onnx: tensor %q keeps its data in an external file, which Capa does not read", t.GetName())
	}
	n, err := NumElements(t.Dims, MaxFileSize/4)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.GetName(), err)
	}
	if t.RawData != nil {
		if int64(len(t.RawData)) != 4*n {
			return nil, fmt.Errorf("onnx: tensor %q has %d bytes of data, its dimensions %v need %d", t.GetName(), len(t.RawData), t.Dims, 4*n)
		}
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.RawData[4*i:]))
		}
		return out, nil
	}
	if int64(len(t.FloatData)) != n {
		return nil, fmt.Errorf("onnx: tensor %q has %d values, its dimensions %v need %d", t.GetName(), len(t.FloatData), t.Dims, n)
	}
	return append([]float32(nil), t.FloatData...), nil
}
