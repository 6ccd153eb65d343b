// Package safetensors reads and writes the safetensors tensor file format.
//
// A safetensors file is laid out as
//
//	bytes [0, 8)      N, the header length, an unsigned 64-bit little-endian integer
//	bytes [8, 8+N)    a UTF-8 JSON object, padded with spaces to a multiple of 8 bytes
//	bytes [8+N, EOF)  the data buffer
//
// The JSON object maps each tensor name to
// {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, where the
// offsets are relative to the start of the data buffer. The optional key
// "__metadata__" holds a map of strings to strings. Tensor data is stored in
// row-major (C) order with little-endian elements. The tensors are
// contiguous, do not overlap and cover the whole buffer.
//
// Readers validate the whole header against the file size before they
// allocate anything whose size comes from the file; every format violation is
// reported as an error wrapping [ErrFormat].
package safetensors

import "errors"

// ErrFormat is wrapped by every error that reports a malformed file.
var ErrFormat = errors.New("safetensors: invalid format")

// ErrTensor is wrapped by every error that reports an invalid tensor given
// to a writer, or a typed accessor called on a tensor of another dtype.
var ErrTensor = errors.New("safetensors: invalid tensor")

// MaxHeaderSize is the largest header length, in bytes, that the readers
// accept. It matches the limit of the reference implementation.
const MaxHeaderSize = 100_000_000

// MetadataKey is the reserved header key that holds the file's metadata. It
// cannot be used as a tensor name.
const MetadataKey = "__metadata__"

// DType names the element type of a tensor, spelled as in the file header.
type DType string

// The element types that this package reads and writes. Sub-byte types
// (F4, F6_*) are not supported and are rejected as unknown.
const (
	Bool     DType = "BOOL"
	Uint8    DType = "U8"
	Int8     DType = "I8"
	F8E5M2   DType = "F8_E5M2"
	F8E4M3   DType = "F8_E4M3"
	F8E8M0   DType = "F8_E8M0"
	Int16    DType = "I16"
	Uint16   DType = "U16"
	Float16  DType = "F16"
	BFloat16 DType = "BF16"
	Int32    DType = "I32"
	Uint32   DType = "U32"
	Float32  DType = "F32"
	Complex  DType = "C64"
	Float64  DType = "F64"
	Int64    DType = "I64"
	Uint64   DType = "U64"
)

// dtypeInfo gives the element size and the rank that orders tensors in a
// written file. The rank follows the reference implementation, which places
// tensors of larger alignment first so that every tensor is aligned.
var dtypeInfo = map[DType]struct{ size, rank int }{
	Bool:     {1, 0},
	Uint8:    {1, 1},
	Int8:     {1, 2},
	F8E5M2:   {1, 3},
	F8E4M3:   {1, 4},
	F8E8M0:   {1, 5},
	Int16:    {2, 6},
	Uint16:   {2, 7},
	Float16:  {2, 8},
	BFloat16: {2, 9},
	Int32:    {4, 10},
	Uint32:   {4, 11},
	Float32:  {4, 12},
	Complex:  {8, 13},
	Float64:  {8, 14},
	Int64:    {8, 15},
	Uint64:   {8, 16},
}

// Size returns the size in bytes of one element of d, or 0 if d is not a
// supported dtype.
func (d DType) Size() int { return dtypeInfo[d].size }

// Valid reports whether d is a supported dtype.
func (d DType) Valid() bool {
	_, ok := dtypeInfo[d]
	return ok
}
