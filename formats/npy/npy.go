// Package npy reads and writes NumPy .npy files of float32 arrays (format
// versions 1.0, 2.0 and 3.0; little-endian '<f4', C order), the exchange
// format of Capa's cross-checking commands.
package npy

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/capa-ml/capa/internal/atomicfile"
)

// ErrFormat is returned (wrapped) for a file that is not a float32 .npy
// array this package reads.
var ErrFormat = errors.New("npy: not a float32 .npy array")

const magic = "\x93NUMPY"

// maxHeader bounds the header length read from a file.
const maxHeader = 1 << 16

var (
	descrRE = regexp.MustCompile(`'descr'\s*:\s*'([^']*)'`)
	orderRE = regexp.MustCompile(`'fortran_order'\s*:\s*(True|False)`)
	shapeRE = regexp.MustCompile(`'shape'\s*:\s*\(([^)]*)\)`)
)

// Read reads a float32 array from r, of at most size bytes in all (size < 0:
// unknown), and returns its shape and values.
func Read(r io.Reader, size int64) ([]int, []float32, error) {
	br := bufio.NewReader(r)
	pre := make([]byte, 8)
	if _, err := io.ReadFull(br, pre); err != nil {
		return nil, nil, fmt.Errorf("npy: header: %w (%w)", err, ErrFormat)
	}
	if string(pre[:6]) != magic {
		return nil, nil, fmt.Errorf("npy: magic %q at offset 0: %w", pre[:6], ErrFormat)
	}
	var hlen int
	switch pre[6] {
	case 1:
		b := make([]byte, 2)
		if _, err := io.ReadFull(br, b); err != nil {
			return nil, nil, fmt.Errorf("npy: header length: %w (%w)", err, ErrFormat)
		}
		hlen = int(binary.LittleEndian.Uint16(b))
	case 2, 3:
		b := make([]byte, 4)
		if _, err := io.ReadFull(br, b); err != nil {
			return nil, nil, fmt.Errorf("npy: header length: %w (%w)", err, ErrFormat)
		}
		hlen = int(binary.LittleEndian.Uint32(b))
	default:
		return nil, nil, fmt.Errorf("npy: format version %d.%d: %w", pre[6], pre[7], ErrFormat)
	}
	if hlen > maxHeader || (size >= 0 && int64(hlen) > size) {
		return nil, nil, fmt.Errorf("npy: header of %d bytes: %w", hlen, ErrFormat)
	}
	hb := make([]byte, hlen)
	if _, err := io.ReadFull(br, hb); err != nil {
		return nil, nil, fmt.Errorf("npy: header: %w (%w)", err, ErrFormat)
	}
	h := string(hb)
	d := descrRE.FindStringSubmatch(h)
	if d == nil || (d[1] != "<f4" && d[1] != "=f4" && d[1] != "f4") {
		return nil, nil, fmt.Errorf("npy: dtype %q, only little-endian float32 ('<f4') is read: %w", strings.TrimSpace(h), ErrFormat)
	}
	if o := orderRE.FindStringSubmatch(h); o == nil || o[1] != "False" {
		return nil, nil, fmt.Errorf("npy: only C-order arrays are read: %w", ErrFormat)
	}
	sm := shapeRE.FindStringSubmatch(h)
	if sm == nil {
		return nil, nil, fmt.Errorf("npy: no shape in header %q: %w", h, ErrFormat)
	}
	var shape []int
	n := 1
	for _, f := range strings.Split(sm[1], ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		v, err := strconv.Atoi(f)
		if err != nil || v < 0 || (v > 0 && n > math.MaxInt32/v) {
			return nil, nil, fmt.Errorf("npy: shape (%s): %w", sm[1], ErrFormat)
		}
		shape = append(shape, v)
		n *= v
	}
	if size >= 0 && int64(n)*4 > size {
		return nil, nil, fmt.Errorf("npy: shape %v needs %d bytes, the file has %d: %w", shape, n*4, size, ErrFormat)
	}
	raw, err := readData(br, n*4, size >= 0)
	if err != nil {
		return nil, nil, fmt.Errorf("npy: data of shape %v: %w (%w)", shape, err, ErrFormat)
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return shape, out, nil
}

// readData reads n bytes from r. Unless the size of the file is known to
// hold them (known), the buffer grows as the bytes arrive, so that a header
// declaring a huge shape cannot make Read allocate more than r holds.
func readData(r io.Reader, n int, known bool) ([]byte, error) {
	if known {
		raw := make([]byte, n)
		_, err := io.ReadFull(r, raw)
		return raw, err
	}
	raw, err := io.ReadAll(io.LimitReader(r, int64(n)))
	if err != nil {
		return nil, err
	}
	if len(raw) < n {
		return nil, io.ErrUnexpectedEOF
	}
	return raw, nil
}

// ReadFile reads a float32 .npy file.
func ReadFile(path string) ([]int, []float32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("npy: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("npy: %w", err)
	}
	shape, data, err := Read(f, st.Size())
	if err != nil {
		return nil, nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return shape, data, nil
}

// Write writes data with the given shape as a version 1.0 .npy array.
func Write(w io.Writer, shape []int, data []float32) error {
	n := 1
	dims := make([]string, len(shape))
	for i, d := range shape {
		n *= d
		dims[i] = strconv.Itoa(d)
	}
	if n != len(data) {
		return fmt.Errorf("npy: shape %v holds %d values, got %d", shape, n, len(data))
	}
	s := strings.Join(dims, ", ")
	if len(shape) == 1 {
		s += ","
	}
	h := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", s)
	// Pad with spaces so that the data starts at a multiple of 64 bytes.
	total := len(magic) + 2 + 2 + len(h) + 1
	h += strings.Repeat(" ", (64-total%64)%64) + "\n"
	bw := bufio.NewWriter(w)
	bw.WriteString(magic)
	bw.Write([]byte{1, 0})
	binary.Write(bw, binary.LittleEndian, uint16(len(h)))
	bw.WriteString(h)
	buf := make([]byte, 4)
	for _, v := range data {
		binary.LittleEndian.PutUint32(buf, math.Float32bits(v))
		bw.Write(buf)
	}
	return bw.Flush()
}

// WriteFile writes a .npy file atomically (internal/atomicfile).
func WriteFile(path string, shape []int, data []float32) error {
	if err := atomicfile.Write(path, 0o644, func(w io.Writer) error { return Write(w, shape, data) }); err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	return nil
}

func dirOf(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[:i+1]
	}
	return "."
}
