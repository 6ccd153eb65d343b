package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"unicode/utf8"
)

// Header is the parsed and validated header of a safetensors file.
type Header struct {
	// Metadata is the "__metadata__" map, or nil if the file has none.
	Metadata map[string]string
	// Tensors describes every tensor, sorted by data offset (the storage
	// order).
	Tensors []TensorInfo
	// DataOffset is the file offset of the data buffer: 8 plus the header
	// length. Tensor offsets are relative to it.
	DataOffset int64
}

// TensorInfo describes one tensor of a header.
type TensorInfo struct {
	Name  string
	DType DType
	Shape []int
	// Begin and End delimit the tensor's bytes, relative to the start of
	// the data buffer: file bytes [DataOffset+Begin, DataOffset+End).
	Begin, End int64
}

// Lookup returns the description of the tensor called name.
func (h *Header) Lookup(name string) (TensorInfo, bool) {
	for _, t := range h.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return TensorInfo{}, false
}

// File is a fully loaded safetensors file.
type File struct {
	// Metadata is the "__metadata__" map, or nil if the file has none.
	Metadata map[string]string
	// Tensors maps each name to its tensor. All Data slices share one
	// backing buffer.
	Tensors map[string]Tensor
}

// Names returns the tensor names of f in sorted order.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.Tensors))
	for name := range f.Tensors {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// ReadHeader reads and validates only the header of the size-byte
// safetensors file r: names, dtypes, shapes, offsets and metadata. It reads
// 8 plus the header length bytes and never the data buffer, but it checks
// that the tensors exactly cover the size-8-N bytes that follow the header.
// Format violations yield an error wrapping ErrFormat.
func ReadHeader(r io.ReaderAt, size int64) (*Header, error) {
	if size < 0 {
		return nil, fmt.Errorf("safetensors: negative file size %d: %w", size, ErrFormat)
	}
	return readHeader(io.NewSectionReader(r, 0, size), size)
}

// Read reads and validates a whole safetensors file of size bytes from r.
// Memory is allocated as data arrives, so a size larger than what r holds
// cannot cause a large allocation: it is reported as truncated data. Bytes
// of r past size are not read. Format violations yield an error wrapping
// ErrFormat; other I/O errors are returned wrapped.
func Read(r io.Reader, size int64) (*File, error) {
	return read(r, size, false)
}

// ReadFile reads and validates the safetensors file at path, as Read does.
func ReadFile(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("safetensors: %s is not a regular file", path)
	}
	file, err := read(f, st.Size(), true)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return file, nil
}

// read implements Read; exact says that size is known to be the real size
// of r (from a stat), so the buffer may be allocated at once.
func read(r io.Reader, size int64, exact bool) (*File, error) {
	if size < 0 {
		return nil, fmt.Errorf("safetensors: negative file size %d: %w", size, ErrFormat)
	}
	h, err := readHeader(r, size)
	if err != nil {
		return nil, err
	}
	buf, err := readBytes(r, size-h.DataOffset, h.DataOffset, "data buffer", exact)
	if err != nil {
		return nil, err
	}
	f := &File{Metadata: h.Metadata, Tensors: make(map[string]Tensor, len(h.Tensors))}
	for _, t := range h.Tensors {
		f.Tensors[t.Name] = Tensor{DType: t.DType, Shape: t.Shape, Data: buf[t.Begin:t.End:t.End]}
	}
	return f, nil
}

// readHeader reads the header length and the header from the start of r,
// which holds size bytes, and validates it.
func readHeader(r io.Reader, size int64) (*Header, error) {
	if size < 8 {
		return nil, fmt.Errorf("safetensors: file is %d bytes, shorter than the 8-byte header length: %w", size, ErrFormat)
	}
	var nb [8]byte
	if _, err := io.ReadFull(r, nb[:]); err != nil {
		return nil, ioError(err, "header length", 0)
	}
	n := binary.LittleEndian.Uint64(nb[:])
	if n > MaxHeaderSize {
		return nil, fmt.Errorf("safetensors: header length %d at offset 0 exceeds the limit of %d bytes: %w", n, MaxHeaderSize, ErrFormat)
	}
	if n > uint64(size-8) {
		return nil, fmt.Errorf("safetensors: header length %d at offset 0 exceeds the %d bytes after it: %w", n, size-8, ErrFormat)
	}
	hb, err := readBytes(r, int64(n), 8, "header", false)
	if err != nil {
		return nil, err
	}
	h, err := parseHeader(hb, size-8-int64(n))
	if err != nil {
		return nil, err
	}
	h.DataOffset = 8 + int64(n)
	return h, nil
}

// readBytes reads exactly n bytes from r, which are at file offset off.
// Unless exact is set, the buffer grows as data arrives, so a wrong n costs
// no more memory than the data actually read.
func readBytes(r io.Reader, n, off int64, what string, exact bool) ([]byte, error) {
	if n > math.MaxInt {
		return nil, fmt.Errorf("safetensors: %s of %d bytes at offset %d is too large for this platform: %w", what, n, off, ErrFormat)
	}
	const chunk = 64 << 10
	c := n
	if !exact {
		c = min(n, chunk)
	}
	buf := make([]byte, 0, int(c))
	for int64(len(buf)) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, int(min(n-int64(len(buf)), int64(len(buf)))))
		}
		end := int(min(int64(cap(buf)), n))
		m, err := io.ReadFull(r, buf[len(buf):end])
		buf = buf[:len(buf)+m]
		if err != nil {
			return nil, ioError(err, what, off+int64(len(buf)))
		}
	}
	return buf, nil
}

// ioError wraps a read error; an early end of file is a format error.
func ioError(err error, what string, off int64) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("safetensors: %s truncated at offset %d: %w", what, off, ErrFormat)
	}
	return fmt.Errorf("safetensors: reading %s at offset %d: %w", what, off, err)
}

// rawInfo is the JSON form of one tensor entry. Unknown fields are ignored,
// as the reference implementation does.
type rawInfo struct {
	DType   *string  `json:"dtype"`
	Shape   *[]int64 `json:"shape"`
	Offsets *[]int64 `json:"data_offsets"`
}

// parseHeader decodes and validates the JSON header b for a data buffer of
// bufSize bytes. Errors report offsets within the file (the header starts at
// file offset 8).
func parseHeader(b []byte, bufSize int64) (*Header, error) {
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("safetensors: header at offset 8 is not valid UTF-8: %w", ErrFormat)
	}
	if len(b) == 0 || b[0] != '{' {
		return nil, fmt.Errorf("safetensors: header at offset 8 does not start with '{': %w", ErrFormat)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	jsonErr := func(err error) error {
		return fmt.Errorf("safetensors: invalid JSON header near offset %d: %v: %w", 8+dec.InputOffset(), err, ErrFormat)
	}
	if _, err := dec.Token(); err != nil { // the '{' checked above
		return nil, jsonErr(err)
	}
	h := &Header{}
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, jsonErr(err)
		}
		name := tok.(string) // object keys are always strings
		if seen[name] {
			return nil, fmt.Errorf("safetensors: duplicate header key %q near offset %d: %w", name, 8+dec.InputOffset(), ErrFormat)
		}
		seen[name] = true
		if name == MetadataKey {
			if err := dec.Decode(&h.Metadata); err != nil {
				return nil, jsonErr(fmt.Errorf("%s: %v", MetadataKey, err))
			}
			continue
		}
		var raw rawInfo
		if err := dec.Decode(&raw); err != nil {
			return nil, jsonErr(fmt.Errorf("tensor %q: %v", name, err))
		}
		info, err := checkInfo(name, raw, bufSize)
		if err != nil {
			return nil, err
		}
		h.Tensors = append(h.Tensors, info)
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, jsonErr(err)
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = fmt.Errorf("unexpected %v after the header object", tok)
		}
		return nil, jsonErr(err)
	}
	return h, checkLayout(h.Tensors, bufSize)
}

// checkInfo validates one tensor entry on its own: the fields are present,
// the dtype is known, dimensions and offsets are non-negative, the offsets
// lie in the buffer and their span equals the shape's byte size.
func checkInfo(name string, raw rawInfo, bufSize int64) (TensorInfo, error) {
	bad := func(format string, args ...any) (TensorInfo, error) {
		return TensorInfo{}, fmt.Errorf("safetensors: tensor %q: %s: %w", name, fmt.Sprintf(format, args...), ErrFormat)
	}
	if raw.DType == nil || raw.Shape == nil || raw.Offsets == nil {
		return bad("missing dtype, shape or data_offsets")
	}
	dt := DType(*raw.DType)
	if !dt.Valid() {
		return bad("unknown dtype %q", *raw.DType)
	}
	offs := *raw.Offsets
	if len(offs) != 2 {
		return bad("data_offsets %v must have 2 elements", offs)
	}
	begin, end := offs[0], offs[1]
	if begin < 0 || end < begin || end > bufSize {
		return bad("data_offsets [%d, %d] out of range for a %d-byte data buffer", begin, end, bufSize)
	}
	shape := make([]int, len(*raw.Shape))
	elems, overflow := int64(1), false
	for i, d := range *raw.Shape {
		if d < 0 || d > math.MaxInt {
			return bad("shape %v has invalid dimension %d", *raw.Shape, d)
		}
		shape[i] = int(d)
		if d != 0 && elems > math.MaxInt64/d {
			overflow = true
		}
		elems *= d
	}
	for _, d := range shape {
		if d == 0 {
			elems, overflow = 0, false
		}
	}
	size := int64(dt.Size())
	if overflow || elems > math.MaxInt64/size || elems*size != end-begin {
		return bad("shape %v of %s does not match data_offsets [%d, %d] (%d bytes)", *raw.Shape, dt, begin, end, end-begin)
	}
	return TensorInfo{Name: name, DType: dt, Shape: shape, Begin: begin, End: end}, nil
}

// checkLayout sorts the tensors by offset and verifies that they are
// contiguous, do not overlap and cover the bufSize-byte buffer.
func checkLayout(ts []TensorInfo, bufSize int64) error {
	slices.SortFunc(ts, func(a, b TensorInfo) int {
		return cmp.Or(cmp.Compare(a.Begin, b.Begin), cmp.Compare(a.End, b.End), cmp.Compare(a.Name, b.Name))
	})
	var pos int64
	for _, t := range ts {
		if t.Begin < pos {
			return fmt.Errorf("safetensors: tensor %q: data_offsets [%d, %d] overlap the previous tensor, which ends at %d: %w", t.Name, t.Begin, t.End, pos, ErrFormat)
		}
		if t.Begin > pos {
			return fmt.Errorf("safetensors: tensor %q: data_offsets [%d, %d] leave a gap after offset %d: %w", t.Name, t.Begin, t.End, pos, ErrFormat)
		}
		pos = t.End
	}
	if pos != bufSize {
		return fmt.Errorf("safetensors: tensors cover %d bytes of the %d-byte data buffer: %w", pos, bufSize, ErrFormat)
	}
	return nil
}
