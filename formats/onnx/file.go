package onnx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/capa-ml/capa/internal/atomicfile"
	"google.golang.org/protobuf/proto"
)

// ErrFormat is wrapped by every error about a file's content (as opposed
// to reading it).
var ErrFormat = errors.New("onnx: invalid model file")

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
// has a graph whose nodes come in topological order, each input a graph
// input, an initializer or an earlier node's output (so a cycle or a
// dangling name is refused), and that every FLOAT initializer's data has
// the size its dimensions claim (no tensor claiming 2^40 elements is
// allocated, no external data file is opened). Its errors wrap ErrFormat.
func Unmarshal(b []byte) (*ModelProto, error) {
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("%w: %d bytes, more than the %d a model file may have", ErrFormat, len(b), MaxFileSize)
	}
	m := &ModelProto{}
	if err := proto.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("%w: truncated or corrupt protobuf: %v", ErrFormat, err)
	}
	if m.Graph == nil {
		return nil, fmt.Errorf("%w: the model has no graph", ErrFormat)
	}
	if err := checkGraph(m.Graph); err != nil {
		return nil, err
	}
	return m, nil
}

// checkGraph checks the graph's order and its initializers' sizes.
func checkGraph(g *GraphProto) error {
	known := map[string]bool{"": true} // "" is an omitted optional input
	for _, v := range g.Input {
		known[v.GetName()] = true
	}
	for _, t := range g.Initializer {
		if t.GetDataType() == int32(TensorProto_FLOAT) {
			if _, err := TensorFloats(t); err != nil {
				return err
			}
		}
		known[t.GetName()] = true
	}
	for i, n := range g.Node {
		for _, in := range n.Input {
			if !known[in] {
				return fmt.Errorf("%w: node %d %q (%s) reads %q, which no input, initializer or earlier node gives (a cycle, or nodes out of order)", ErrFormat, i, n.GetName(), n.GetOpType(), in)
			}
		}
		for _, out := range n.Output {
			known[out] = true
		}
	}
	for _, v := range g.Output {
		if !known[v.GetName()] {
			return fmt.Errorf("%w: graph output %q is computed by no node", ErrFormat, v.GetName())
		}
	}
	return nil
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
			return 0, fmt.Errorf("%w: negative dimension in %v", ErrFormat, dims)
		}
		if d != 0 && n > max/d {
			return 0, fmt.Errorf("%w: dimensions %v claim more than %d elements", ErrFormat, dims, max)
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
		return nil, fmt.Errorf("%w: tensor %q has data type %s, not FLOAT", ErrFormat, t.GetName(), TensorProto_DataType(t.GetDataType()))
	}
	if t.GetDataLocation() == TensorProto_EXTERNAL {
		return nil, fmt.Errorf("%w: tensor %q keeps its data in an external file, which Capa does not read (save the model with its weights inside)", ErrFormat, t.GetName())
	}
	n, err := NumElements(t.Dims, MaxFileSize/4)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.GetName(), err)
	}
	if t.RawData != nil {
		if int64(len(t.RawData)) != 4*n {
			return nil, fmt.Errorf("%w: tensor %q has %d bytes of data, its dimensions %v need %d", ErrFormat, t.GetName(), len(t.RawData), t.Dims, 4*n)
		}
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.RawData[4*i:]))
		}
		return out, nil
	}
	if int64(len(t.FloatData)) != n {
		return nil, fmt.Errorf("%w: tensor %q has %d values, its dimensions %v need %d", ErrFormat, t.GetName(), len(t.FloatData), t.Dims, n)
	}
	return append([]float32(nil), t.FloatData...), nil
}

// TensorInt64s returns an INT64 tensor's values, from raw_data or
// int64_data, checking their number against its dimensions.
func TensorInt64s(t *TensorProto) ([]int64, error) {
	if t.GetDataType() != int32(TensorProto_INT64) {
		return nil, fmt.Errorf("%w: tensor %q has data type %s, not INT64", ErrFormat, t.GetName(), TensorProto_DataType(t.GetDataType()))
	}
	n, err := NumElements(t.Dims, MaxFileSize/8)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.GetName(), err)
	}
	if t.RawData != nil {
		if int64(len(t.RawData)) != 8*n {
			return nil, fmt.Errorf("%w: tensor %q has %d bytes of data, its dimensions %v need %d", ErrFormat, t.GetName(), len(t.RawData), t.Dims, 8*n)
		}
		out := make([]int64, n)
		for i := range out {
			out[i] = int64(binary.LittleEndian.Uint64(t.RawData[8*i:]))
		}
		return out, nil
	}
	if int64(len(t.Int64Data)) != n {
		return nil, fmt.Errorf("%w: tensor %q has %d values, its dimensions %v need %d", ErrFormat, t.GetName(), len(t.Int64Data), t.Dims, n)
	}
	return t.Int64Data, nil
}
