package hdf5

import (
	"fmt"
	"math"
	"math/bits"
)

// Class is an HDF5 datatype class.
type Class uint8

// The datatype classes. This package reads values of the classes Integer,
// Float, String and VarLen (strings only).
const (
	Integer   Class = 0 // fixed-point
	Float     Class = 1 // floating-point
	Time      Class = 2
	String    Class = 3 // fixed-length string
	Bitfield  Class = 4
	Opaque    Class = 5
	Compound  Class = 6
	Reference Class = 7
	Enum      Class = 8
	VarLen    Class = 9 // variable-length sequence or string
	Array     Class = 10
)

var classNames = [...]string{"integer", "float", "time", "string", "bitfield", "opaque", "compound", "reference", "enum", "variable-length", "array"}

// String returns the class name ("float", ...) or "Class(N)".
func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return fmt.Sprintf("Class(%d)", uint8(c))
}

// DType describes the element type of a dataset or an attribute.
type DType struct {
	Class     Class
	Size      int  // bytes per stored element
	BigEndian bool // byte order of Integer and Float
	Signed    bool // Integer only
	// StrPad is the padding of a String: 0 null-terminated, 1 null-padded,
	// 2 space-padded.
	StrPad int
	// VarString reports a VarLen that is a string (the only VarLen this
	// package reads).
	VarString bool
}

// String returns a short name: "float32", "int16", "uint8", "float64 (big-endian)",
// "string[12]", "vlen string", or the class name for other classes.
func (t DType) String() string {
	var s string
	switch t.Class {
	case Integer:
		s = fmt.Sprintf("int%d", 8*t.Size)
		if !t.Signed {
			s = "u" + s
		}
	case Float:
		s = fmt.Sprintf("float%d", 8*t.Size)
	case String:
		return fmt.Sprintf("string[%d]", t.Size)
	case VarLen:
		if t.VarString {
			return "vlen string"
		}
		return "vlen sequence"
	default:
		return t.Class.String()
	}
	if t.BigEndian && t.Size > 1 {
		s += " (big-endian)"
	}
	return s
}

// numeric reports whether values of t can be converted to float32.
func (t DType) numeric() bool { return t.Class == Integer || t.Class == Float }

// parseDatatype decodes a datatype message. Classes this package cannot
// read are returned with an error wrapping ErrUnsupported; for an
// attribute or dataset only reading its values fails then.
func parseDatatype(d *decoder) (DType, error) {
	d.what = "datatype message"
	off := d.offset()
	cv := d.u8()
	b0, b1 := d.u8(), d.u8()
	d.u8()
	size := d.u32()
	if d.err != nil {
		return DType{}, d.err
	}
	t := DType{Class: Class(cv & 0x0F), Size: int(size)}
	version := cv >> 4
	if version < 1 || version > 4 {
		return t, fmt.Errorf("hdf5: datatype version %d at offset %d: %w", version, off, ErrFormat)
	}
	if size == 0 || size > 1<<30 {
		return t, fmt.Errorf("hdf5: datatype size %d at offset %d: %w", size, off+4, ErrFormat)
	}
	switch t.Class {
	case Integer:
		t.BigEndian = b0&1 != 0
		t.Signed = b0&0x08 != 0
		bitOff, prec := d.u16(), d.u16()
		if d.err != nil {
			return t, d.err
		}
		if (size != 1 && size != 2 && size != 4 && size != 8) || bitOff != 0 || int(prec) != 8*int(size) {
			return t, fmt.Errorf("hdf5: %d-byte integer with bit offset %d and precision %d at offset %d: %w", size, bitOff, prec, off, ErrUnsupported)
		}
	case Float:
		if b0&0x40 != 0 {
			return t, fmt.Errorf("hdf5: VAX float at offset %d: %w", off, ErrUnsupported)
		}
		t.BigEndian = b0&1 != 0
		bitOff, prec := d.u16(), d.u16()
		expLoc, expSize, manLoc, manSize := d.u8(), d.u8(), d.u8(), d.u8()
		bias := d.u32()
		if d.err != nil {
			return t, d.err
		}
		ieee := bitOff == 0 && int(prec) == 8*int(size) && manLoc == 0 &&
			((size == 4 && expLoc == 23 && expSize == 8 && manSize == 23 && bias == 127) ||
				(size == 8 && expLoc == 52 && expSize == 11 && manSize == 52 && bias == 1023))
		if !ieee {
			return t, fmt.Errorf("hdf5: %d-byte float (exponent %d bits at %d, mantissa %d bits, bias %d) at offset %d is not IEEE binary32/64: %w",
				size, expSize, expLoc, manSize, bias, off, ErrUnsupported)
		}
	case String:
		t.StrPad = int(b0 & 0x0F)
	case VarLen:
		if b0&0x0F != 1 {
			return t, fmt.Errorf("hdf5: variable-length sequence at offset %d: %w", off, ErrUnsupported)
		}
		_ = b1
		t.VarString = true
		if int(size) != 4+d.O+4 {
			return t, fmt.Errorf("hdf5: variable-length string of size %d at offset %d, want %d: %w", size, off, 4+d.O+4, ErrFormat)
		}
	default:
		return t, fmt.Errorf("hdf5: datatype class %v at offset %d: %w", t.Class, off, ErrUnsupported)
	}
	return t, nil
}

// parseDataspace decodes a dataspace message and returns the dimensions
// (nil for a scalar) and the number of elements (0 for a null dataspace).
func parseDataspace(d *decoder) ([]int, int, error) {
	d.what = "dataspace message"
	off := d.offset()
	version, rank, flags := d.u8(), int(d.u8()), d.u8()
	null := false
	switch version {
	case 1:
		d.skip(5)
	case 2:
		null = d.u8() == 2
	default:
		if d.err == nil {
			return nil, 0, fmt.Errorf("hdf5: dataspace version %d at offset %d: %w", version, off, ErrFormat)
		}
	}
	if d.err != nil {
		return nil, 0, d.err
	}
	if rank > maxRank {
		return nil, 0, fmt.Errorf("hdf5: dataspace rank %d at offset %d, at most %d: %w", rank, off+1, maxRank, ErrFormat)
	}
	var dims []int
	n := 1
	for i := range rank {
		v := d.length()
		if d.err != nil {
			return nil, 0, d.err
		}
		hi, lo := bits.Mul64(uint64(n), v)
		if v > maxInt || hi != 0 || lo > maxInt {
			return nil, 0, fmt.Errorf("hdf5: dataspace dimension %d is %d at offset %d: too large: %w", i, v, d.offset()-int64(d.L), ErrFormat)
		}
		dims = append(dims, int(v))
		n = int(lo)
	}
	_ = flags // maximum dimensions and permutations are not needed
	if null {
		return nil, 0, nil
	}
	return dims, n, nil
}

const maxInt = math.MaxInt
