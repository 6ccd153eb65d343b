package torchpth

import (
	"encoding/binary"
	"math"
	"slices"
)

// DType is the element type of a storage, named as in PyTorch ("float32").
type DType string

// The element types of the allowed storage types.
const (
	Float32  DType = "float32"  // torch.FloatStorage
	Float64  DType = "float64"  // torch.DoubleStorage
	Float16  DType = "float16"  // torch.HalfStorage
	BFloat16 DType = "bfloat16" // torch.BFloat16Storage
	Int64    DType = "int64"    // torch.LongStorage
	Int32    DType = "int32"    // torch.IntStorage
	Int16    DType = "int16"    // torch.ShortStorage
	Int8     DType = "int8"     // torch.CharStorage
	Uint8    DType = "uint8"    // torch.ByteStorage
	Bool     DType = "bool"     // torch.BoolStorage
)

// storageTypes maps the allowed torch.<Name> storage types to their
// element types.
var storageTypes = map[string]DType{
	"FloatStorage":    Float32,
	"DoubleStorage":   Float64,
	"HalfStorage":     Float16,
	"BFloat16Storage": BFloat16,
	"LongStorage":     Int64,
	"IntStorage":      Int32,
	"ShortStorage":    Int16,
	"CharStorage":     Int8,
	"ByteStorage":     Uint8,
	"BoolStorage":     Bool,
}

// Size returns the size in bytes of one element, or 0 for an unknown type.
func (t DType) Size() int {
	switch t {
	case Float64, Int64:
		return 8
	case Float32, Int32:
		return 4
	case Float16, BFloat16, Int16:
		return 2
	case Int8, Uint8, Bool:
		return 1
	}
	return 0
}

// IsFloat reports whether t is a floating-point type, one that
// [StateDict.Tensor] converts to float32.
func (t DType) IsFloat() bool {
	return t == Float32 || t == Float64 || t == Float16 || t == BFloat16
}

// TensorInfo describes one entry of a state dict without its data.
type TensorInfo struct {
	Name  string
	DType DType
	// Shape is the size of each dimension; it is empty for a scalar.
	Shape []int
	// Stride is the distance in elements between neighbours along each
	// dimension, as in torch.Tensor.stride(). A transposed view has
	// non-C-order strides; [StateDict.Tensor] returns C-order data anyway.
	Stride []int
	// StorageKey names the storage holding the elements; tensors that share
	// a storage have the same key.
	StorageKey string
	// StorageOffset is the index, in elements from the start of the
	// storage, of the tensor's first element.
	StorageOffset int64
}

// NumElements returns the product of the shape (1 for a scalar).
func (ti TensorInfo) NumElements() int {
	n := 1
	for _, d := range ti.Shape {
		n *= d // validated when the file was read: no overflow
	}
	return n
}

// clone returns a copy of ti that shares no slice with it.
func (ti TensorInfo) clone() TensorInfo {
	ti.Shape, ti.Stride = slices.Clone(ti.Shape), slices.Clone(ti.Stride)
	return ti
}

// Tensor is a tensor of a state dict, converted to float32.
type Tensor struct {
	TensorInfo
	data []float32
}

// Float32 returns the elements in C order (row-major: the last dimension
// varies fastest), whatever the strides and storage offset in the file, so
// element (i, j, k, l) of a conv weight of shape (out, in, kh, kw) is at
// ((i*in+j)*kh+k)*kw+l. Values stored as float64 are rounded to nearest,
// float16 and bfloat16 convert exactly. The slice is the tensor's own: no
// other Tensor shares it.
func (t *Tensor) Float32() []float32 { return t.data }

// decode converts the little-endian elements of type dt in src to dst,
// which holds len(src)/dt.Size() elements.
func decode(dst []float32, src []byte, dt DType) {
	switch dt {
	case Float32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case Float64:
		for i := range dst {
			dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:])))
		}
	case Float16:
		for i := range dst {
			dst[i] = halfToFloat32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case BFloat16:
		for i := range dst {
			dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(src[2*i:])) << 16)
		}
	default:
		panic("torchpth: decode of " + string(dt))
	}
}

// halfToFloat32 converts an IEEE 754 binary16 value exactly.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf, NaN
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
	case frac == 0: // ±0
		return math.Float32frombits(sign)
	}
	// Subnormal: normalize.
	e := uint32(127 - 15 + 1)
	for frac&0x400 == 0 {
		frac <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (frac&0x3ff)<<13)
}
