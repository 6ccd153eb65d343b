package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Tensor is one named entry of a safetensors file.
//
// Data holds the elements in row-major (C) order, each stored as
// little-endian bytes, so element i of a Float32 tensor is
// math.Float32frombits(binary.LittleEndian.Uint32(Data[4*i:])). A scalar has
// an empty Shape and one element. Tensors returned by the readers share one
// backing buffer per file; their Data slices have capped capacity, so an
// append never overwrites a neighbour.
type Tensor struct {
	DType DType
	Shape []int
	Data  []byte
}

// NumElements returns the product of t.Shape (1 for a scalar), or -1 if a
// dimension is negative or the product overflows an int.
func (t Tensor) NumElements() int {
	n, ok := numElements(t.Shape)
	if !ok {
		return -1
	}
	return n
}

// numElements multiplies the dimensions of shape, reporting false for a
// negative dimension or an overflow.
func numElements(shape []int) (int, bool) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		if d != 0 && n > math.MaxInt/d {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// validate checks that t has a supported dtype, non-negative dimensions and
// exactly NumElements()*DType.Size() bytes of data.
func (t Tensor) validate() error {
	if !t.DType.Valid() {
		return fmt.Errorf("unknown dtype %q: %w", t.DType, ErrTensor)
	}
	n, ok := numElements(t.Shape)
	if !ok || n > math.MaxInt/t.DType.Size() {
		return fmt.Errorf("shape %v has a negative dimension or too many elements: %w", t.Shape, ErrTensor)
	}
	if want := n * t.DType.Size(); len(t.Data) != want {
		return fmt.Errorf("shape %v of %s needs %d bytes, have %d: %w", t.Shape, t.DType, want, len(t.Data), ErrTensor)
	}
	return nil
}

// checkAccess verifies that t has dtype d and a consistent length before a
// typed accessor decodes it, returning the number of elements.
func (t Tensor) checkAccess(d DType) (int, error) {
	if t.DType != d {
		return 0, fmt.Errorf("tensor has dtype %s, not %s: %w", t.DType, d, ErrTensor)
	}
	if err := t.validate(); err != nil {
		return 0, err
	}
	return len(t.Data) / d.Size(), nil
}

// Float32 decodes an F32 tensor into a new slice. It fails with an error
// wrapping ErrTensor if t is not F32 or its data does not match its shape.
func (t Tensor) Float32() ([]float32, error) {
	n, err := t.checkAccess(Float32)
	if err != nil {
		return nil, err
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return out, nil
}

// Float64 decodes an F64 tensor into a new slice. It fails with an error
// wrapping ErrTensor if t is not F64 or its data does not match its shape.
func (t Tensor) Float64() ([]float64, error) {
	n, err := t.checkAccess(Float64)
	if err != nil {
		return nil, err
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = math.Float64frombits(binary.LittleEndian.Uint64(t.Data[8*i:]))
	}
	return out, nil
}

// Int64 decodes an I64 tensor into a new slice. It fails with an error
// wrapping ErrTensor if t is not I64 or its data does not match its shape.
func (t Tensor) Int64() ([]int64, error) {
	n, err := t.checkAccess(Int64)
	if err != nil {
		return nil, err
	}
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(binary.LittleEndian.Uint64(t.Data[8*i:]))
	}
	return out, nil
}

// Int32 decodes an I32 tensor into a new slice. It fails with an error
// wrapping ErrTensor if t is not I32 or its data does not match its shape.
func (t Tensor) Int32() ([]int32, error) {
	n, err := t.checkAccess(Int32)
	if err != nil {
		return nil, err
	}
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return out, nil
}

// Uint8 returns a copy of the data of a U8 tensor. It fails with an error
// wrapping ErrTensor if t is not U8 or its data does not match its shape.
func (t Tensor) Uint8() ([]uint8, error) {
	if _, err := t.checkAccess(Uint8); err != nil {
		return nil, err
	}
	return append([]uint8(nil), t.Data...), nil
}

// F32 returns an F32 tensor of the given shape holding data, encoded into a
// new byte slice; shape is copied. A mismatch between len(data) and the
// shape is reported by Write, not here.
func F32(shape []int, data []float32) Tensor {
	b := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return Tensor{DType: Float32, Shape: append([]int{}, shape...), Data: b}
}

// F64 returns an F64 tensor of the given shape holding data, like F32.
func F64(shape []int, data []float64) Tensor {
	b := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(v))
	}
	return Tensor{DType: Float64, Shape: append([]int{}, shape...), Data: b}
}

// I64 returns an I64 tensor of the given shape holding data, like F32.
func I64(shape []int, data []int64) Tensor {
	b := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
	}
	return Tensor{DType: Int64, Shape: append([]int{}, shape...), Data: b}
}

// I32 returns an I32 tensor of the given shape holding data, like F32.
func I32(shape []int, data []int32) Tensor {
	b := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(v))
	}
	return Tensor{DType: Int32, Shape: append([]int{}, shape...), Data: b}
}

// U8 returns a U8 tensor of the given shape holding a copy of data, like F32.
func U8(shape []int, data []uint8) Tensor {
	return Tensor{DType: Uint8, Shape: append([]int{}, shape...), Data: append([]byte{}, data...)}
}
