// Package idx reads and writes IDX files, the format of MNIST and
// Fashion-MNIST (http://yann.lecun.com/exdb/mnist/).
//
// An IDX file is a 4-byte magic number 0x00 0x00 T D, where T is the element
// type (0x08 = uint8, 0x09 = int8, 0x0B = int16, 0x0C = int32, 0x0D =
// float32, 0x0E = float64) and D the number of dimensions, then D big-endian
// uint32 sizes, then the elements in row-major order (the last dimension
// varies fastest), big-endian. An MNIST image file has dims (N, 28, 28) and
// a label file dims (N).
//
// Readers accept the file either raw or gzip-compressed; gzip is detected by
// its magic bytes 0x1f 0x8b, not by the file name. All offsets in errors are
// offsets in the uncompressed IDX stream.
//
// Allocation is bounded: a header may declare at most DefaultMaxBytes of data
// (or the limit given to ReadLimit), the declared size is checked against the
// size of the reader when it is known (*os.File, *bytes.Reader, ...), and
// otherwise the buffer grows only as data actually arrives, so a lying header
// cannot make the reader allocate much more than the input it delivered.
package idx

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
)

// ErrFormat is wrapped by every error about input that is not a valid IDX
// file: wrong magic, unknown type, bad dimensions, trailing bytes.
var ErrFormat = errors.New("idx: not an IDX file")

// ErrUnsupported is wrapped by the error Read returns for a valid IDX file
// whose element type is not uint8. ReadConfig accepts every IDX type.
var ErrUnsupported = errors.New("idx: unsupported element type")

// ErrTooLarge is wrapped by the error returned when a header declares more
// data than the reader's limit or than the input can hold.
var ErrTooLarge = errors.New("idx: declared size too large")

// DefaultMaxBytes is the largest data section Read accepts (1 GiB). Use
// ReadLimit for another bound.
const DefaultMaxBytes = 1 << 30

// MaxDims is the largest number of dimensions a header may declare.
const MaxDims = 16

// DType is the element type byte of an IDX header.
type DType byte

// The IDX element types.
const (
	Uint8   DType = 0x08
	Int8    DType = 0x09
	Int16   DType = 0x0B
	Int32   DType = 0x0C
	Float32 DType = 0x0D
	Float64 DType = 0x0E
)

// Size returns the size in bytes of one element, or 0 for an unknown type.
func (t DType) Size() int {
	switch t {
	case Uint8, Int8:
		return 1
	case Int16:
		return 2
	case Int32, Float32:
		return 4
	case Float64:
		return 8
	}
	return 0
}

// String returns the Go name of the type ("uint8", ...) or "DType(0xNN)".
func (t DType) String() string {
	switch t {
	case Uint8:
		return "uint8"
	case Int8:
		return "int8"
	case Int16:
		return "int16"
	case Int32:
		return "int32"
	case Float32:
		return "float32"
	case Float64:
		return "float64"
	}
	return fmt.Sprintf("DType(0x%02X)", byte(t))
}

// Config is the content of an IDX header.
type Config struct {
	DType DType // element type
	Dims  []int // sizes, outermost first; each fits in a uint32
}

// NumElements returns the product of the dimensions. ReadConfig guarantees
// that it does not overflow; for a hand-made Config it returns -1 on overflow.
func (c Config) NumElements() int {
	n := 1
	for _, d := range c.Dims {
		if d < 0 {
			return -1
		}
		if d != 0 && n > maxInt/d {
			return -1
		}
		n *= d
	}
	return n
}

// HeaderSize returns the size in bytes of the header: 4 + 4*len(Dims).
func (c Config) HeaderSize() int { return 4 + 4*len(c.Dims) }

const maxInt = int(^uint(0) >> 1)

// Decompress returns a reader of the uncompressed bytes of r: a gzip reader
// if r starts with the gzip magic 0x1f 0x8b, otherwise r itself (buffered).
// It reads nothing beyond the first bytes. Use it to hash the uncompressed
// stream while it is parsed, by wrapping the result in an io.TeeReader
// before passing it to Read: Read does not decompress twice.
func Decompress(r io.Reader) (io.Reader, error) {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	magic, err := br.Peek(2)
	if err != nil && len(magic) < 2 {
		if err == io.EOF {
			return br, nil // too short for gzip; header parsing reports it
		}
		return nil, fmt.Errorf("idx: reading magic at offset 0: %w", err)
	}
	if magic[0] != 0x1f || magic[1] != 0x8b {
		return br, nil
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("idx: gzip header: %w", err)
	}
	return zr, nil
}

// ReadConfig reads only the header of the raw or gzip-compressed IDX file r.
// It does not parse the data and it allocates only the dimension slice (and
// a read buffer: it may consume up to 64 KiB of r beyond the header).
func ReadConfig(r io.Reader) (Config, error) {
	zr, err := Decompress(r)
	if err != nil {
		return Config{}, err
	}
	return readHeader(zr)
}

func readHeader(r io.Reader) (Config, error) {
	var magic [4]byte
	if n, err := io.ReadFull(r, magic[:]); err != nil {
		return Config{}, truncated("magic number", 0, 4, n, err)
	}
	if magic[0] != 0 || magic[1] != 0 {
		return Config{}, fmt.Errorf("idx: magic 0x%02X%02X%02X%02X at offset 0 does not start with 0x0000: %w",
			magic[0], magic[1], magic[2], magic[3], ErrFormat)
	}
	t := DType(magic[2])
	if t.Size() == 0 {
		return Config{}, fmt.Errorf("idx: unknown element type 0x%02X at offset 2: %w", magic[2], ErrFormat)
	}
	nd := int(magic[3])
	if nd == 0 || nd > MaxDims {
		return Config{}, fmt.Errorf("idx: %d dimensions at offset 3, want 1..%d: %w", nd, MaxDims, ErrFormat)
	}
	var buf [4 * MaxDims]byte
	if n, err := io.ReadFull(r, buf[:4*nd]); err != nil {
		return Config{}, truncated(fmt.Sprintf("%d dimension sizes", nd), 4, 4*nd, n, err)
	}
	c := Config{DType: t, Dims: make([]int, nd)}
	for i := range c.Dims {
		c.Dims[i] = int(binary.BigEndian.Uint32(buf[4*i:]))
	}
	if c.NumElements() < 0 {
		return Config{}, fmt.Errorf("idx: dimensions %v at offset 4 overflow: %w", c.Dims, ErrTooLarge)
	}
	return c, nil
}

// truncated builds the error for a short read of want bytes at offset off,
// of which got arrived; err is the read error (io.EOF becomes
// io.ErrUnexpectedEOF, other errors, such as corrupt gzip, are kept).
func truncated(what string, off int64, want, got int, err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err == io.ErrUnexpectedEOF {
		return fmt.Errorf("idx: truncated at offset %d: want %d bytes of %s, got %d: %w",
			off+int64(got), want, what, got, err)
	}
	return fmt.Errorf("idx: reading %s at offset %d: %w", what, off+int64(got), err)
}

// Read reads a raw or gzip-compressed IDX file of type uint8 and returns its
// dimensions and its len = product(dims) bytes of data, row-major. It accepts
// at most DefaultMaxBytes of data, and it reads r to its end: trailing bytes
// after the data are an error (and a gzip stream's checksum is verified).
func Read(r io.Reader) (dims []int, data []byte, err error) {
	return ReadLimit(r, DefaultMaxBytes)
}

// ReadLimit is like Read but accepts at most maxBytes of data. It returns an
// error wrapping ErrTooLarge, without allocating, when the header declares
// more.
func ReadLimit(r io.Reader, maxBytes int64) (dims []int, data []byte, err error) {
	size := int64(-1) // raw input size when known
	switch s := r.(type) {
	case interface{ Stat() (fs.FileInfo, error) }:
		if fi, err := s.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
	case interface{ Size() int64 }: // *bytes.Reader, *strings.Reader
		size = s.Size()
	}
	zr, err := Decompress(r)
	if err != nil {
		return nil, nil, err
	}
	if _, ok := zr.(*gzip.Reader); ok {
		size = -1 // the compressed size does not bound the data
	}
	c, err := readHeader(zr)
	if err != nil {
		return nil, nil, err
	}
	if c.DType != Uint8 {
		return nil, nil, fmt.Errorf("idx: element type %v (0x%02X) at offset 2, want uint8: %w", c.DType, byte(c.DType), ErrUnsupported)
	}
	hdr := int64(c.HeaderSize())
	n := int64(c.NumElements())
	if n > maxBytes {
		return nil, nil, fmt.Errorf("idx: dimensions %v at offset 4 declare %d bytes, limit %d: %w", c.Dims, n, maxBytes, ErrTooLarge)
	}
	if size >= 0 && n > size-hdr {
		return nil, nil, fmt.Errorf("idx: truncated: dimensions %v at offset 4 declare %d data bytes at offset %d, file has %d: %w",
			c.Dims, n, hdr, max(size-hdr, 0), io.ErrUnexpectedEOF)
	}
	data, err = readData(zr, int(n), hdr)
	if err != nil {
		return nil, nil, err
	}
	var one [1]byte
	if k, err := io.ReadFull(zr, one[:]); k > 0 {
		return nil, nil, fmt.Errorf("idx: trailing data at offset %d after %v data: %w", hdr+n, c.Dims, ErrFormat)
	} else if err != io.EOF {
		return nil, nil, fmt.Errorf("idx: reading end of data at offset %d: %w", hdr+n, err)
	}
	return c.Dims, data, nil
}

// readData reads exactly n bytes. The buffer starts at min(n, 1 MiB) and
// grows 4× (capped at n) only when it is full, so memory stays within 4× the
// input actually delivered, not the size declared, and copying within ~n/3.
func readData(r io.Reader, n int, off int64) ([]byte, error) {
	const chunk = 1 << 20
	buf := make([]byte, 0, min(n, chunk))
	for len(buf) < n {
		if len(buf) == cap(buf) {
			nb := make([]byte, len(buf), min(n, 4*cap(buf)))
			copy(nb, buf)
			buf = nb
		}
		k, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+k]
		if err != nil {
			return nil, truncated("data", off, n, len(buf), err)
		}
	}
	return buf, nil
}

// Write writes a raw (uncompressed) uint8 IDX file with the given dimensions
// and data. It returns an error if len(data) is not the product of dims, if
// there are no or more than MaxDims dimensions, or if a size is negative or
// does not fit in a uint32. Wrap w in a gzip.Writer for a compressed file.
func Write(w io.Writer, dims []int, data []byte) error {
	if len(dims) == 0 || len(dims) > MaxDims {
		return fmt.Errorf("idx: write: %d dimensions, want 1..%d", len(dims), MaxDims)
	}
	hdr := make([]byte, 4+4*len(dims))
	hdr[2], hdr[3] = byte(Uint8), byte(len(dims))
	for i, d := range dims {
		if d < 0 || uint64(d) > 0xFFFFFFFF {
			return fmt.Errorf("idx: write: dimension %d is %d, want 0..4294967295", i, d)
		}
		binary.BigEndian.PutUint32(hdr[4+4*i:], uint32(d))
	}
	if n := (Config{Dims: dims}).NumElements(); n != len(data) {
		return fmt.Errorf("idx: write: dimensions %v hold %d elements, data has %d", dims, n, len(data))
	}
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	_, err := w.Write(data)
	return err
}
