package idx

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func testImage() ([]int, []byte) {
	dims := []int{3, 4, 5}
	data := make([]byte, 60)
	for i := range data {
		data[i] = byte(i * 17)
	}
	return dims, data
}

func encode(t testing.TB, dims []int, data []byte, gz bool) []byte {
	t.Helper()
	var b bytes.Buffer
	w := io.Writer(&b)
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(&b)
		w = zw
	}
	if err := Write(w, dims, data); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func TestRoundTrip(t *testing.T) {
	dims, data := testImage()
	for _, gz := range []bool{false, true} {
		raw := encode(t, dims, data, gz)
		// io.MultiReader hides the Size method: exercises the unknown-size path.
		for _, r := range []io.Reader{bytes.NewReader(raw), io.MultiReader(bytes.NewReader(raw))} {
			gotDims, gotData, err := Read(r)
			if err != nil {
				t.Fatalf("gz=%v: %v", gz, err)
			}
			if !slices.Equal(gotDims, dims) || !bytes.Equal(gotData, data) {
				t.Fatalf("gz=%v: got dims %v data %v", gz, gotDims, gotData)
			}
		}
		c, err := ReadConfig(bytes.NewReader(raw))
		if err != nil || c.DType != Uint8 || !slices.Equal(c.Dims, dims) || c.NumElements() != 60 || c.HeaderSize() != 16 {
			t.Fatalf("gz=%v: ReadConfig = %+v, %v", gz, c, err)
		}
	}
}

func TestTestdata(t *testing.T) {
	tests := []struct {
		file    string
		dims    []int
		wantErr error
		inMsg   string
	}{
		{"images-3x4x5.idx", []int{3, 4, 5}, nil, ""},
		{"images-3x4x5.idx.gz", []int{3, 4, 5}, nil, ""},
		{"labels-7.idx", []int{7}, nil, ""},
		{"empty-0x28x28.idx", []int{0, 28, 28}, nil, ""},
		{"bad-magic.idx", nil, ErrFormat, "magic 0x01000801 at offset 0"},
		{"truncated.idx", nil, io.ErrUnexpectedEOF, "file has 14"},
		{"huge-dims.idx", nil, ErrTooLarge, "at offset 4"},
		{"float32-2.idx", nil, ErrUnsupported, "float32 (0x0D) at offset 2"},
	}
	for _, tc := range tests {
		f, err := os.Open(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		dims, data, err := Read(f)
		f.Close()
		if tc.wantErr != nil {
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.inMsg) {
				t.Errorf("%s: err = %v, want %v containing %q", tc.file, err, tc.wantErr, tc.inMsg)
			}
			continue
		}
		if err != nil || !slices.Equal(dims, tc.dims) || len(data) != (Config{Dims: dims}).NumElements() {
			t.Errorf("%s: dims %v, %d bytes, err %v", tc.file, dims, len(data), err)
		}
	}
}

func TestErrors(t *testing.T) {
	dims, data := testImage()
	good := encode(t, dims, data, false)
	gz := encode(t, dims, data, true)
	corrupt := slices.Clone(gz)
	corrupt[len(corrupt)-6] ^= 0xFF // CRC-32 in the trailer

	tests := []struct {
		name  string
		in    []byte
		want  error
		inMsg string
	}{
		{"empty", nil, io.ErrUnexpectedEOF, "offset 0"},
		{"short magic", []byte{0, 0, 8}, io.ErrUnexpectedEOF, "truncated at offset 3"},
		{"unknown type", []byte{0, 0, 0x07, 1, 0, 0, 0, 0}, ErrFormat, "0x07 at offset 2"},
		{"zero dims", []byte{0, 0, 8, 0}, ErrFormat, "0 dimensions at offset 3"},
		{"too many dims", []byte{0, 0, 8, 17}, ErrFormat, "17 dimensions at offset 3"},
		{"short dims", good[:9], io.ErrUnexpectedEOF, "truncated at offset 9"},
		{"truncated data stream", good[:40], io.ErrUnexpectedEOF, "truncated at offset 40: want 60 bytes of data, got 24"},
		{"trailing", append(slices.Clone(good), 1), ErrFormat, "trailing data at offset 76"},
		{"gzip checksum", corrupt, gzip.ErrChecksum, "offset 76"},
		{"gzip truncated", gz[:len(gz)-10], io.ErrUnexpectedEOF, ""},
	}
	for _, tc := range tests {
		// MultiReader: unknown size, so truncation is found while reading.
		_, _, err := Read(io.MultiReader(bytes.NewReader(tc.in)))
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.inMsg) {
			t.Errorf("%s: err = %v, want %v containing %q", tc.name, err, tc.want, tc.inMsg)
		}
	}
}

// A header declaring 1 GiB over an unknown-size stream that delivers little
// must fail without allocating the declared size.
func TestBoundedAllocation(t *testing.T) {
	hdr := []byte{0, 0, 8, 3, 0, 0, 0x40, 0, 0, 0, 1, 0, 0, 0, 0, 0x40} // 16384*256*64 = 256 MiB
	in := io.MultiReader(bytes.NewReader(hdr), bytes.NewReader(make([]byte, 1000)))
	before := memAlloc()
	_, _, err := Read(in)
	after := memAlloc()
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v", err)
	}
	if after-before > 16<<20 {
		t.Errorf("allocated %d bytes for a 1 KB input", after-before)
	}
	// Over the limit: rejected from the header alone.
	if _, _, err := ReadLimit(bytes.NewReader(hdr), 1<<20); !errors.Is(err, ErrTooLarge) {
		t.Errorf("ReadLimit err = %v, want ErrTooLarge", err)
	}
	// Known size: rejected before reading data.
	if _, _, err := Read(bytes.NewReader(hdr)); !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), "file has 0") {
		t.Errorf("sized Read err = %v", err)
	}
}

func TestWriteErrors(t *testing.T) {
	for _, tc := range []struct {
		dims []int
		n    int
	}{{nil, 0}, {[]int{-1}, 0}, {[]int{2, 3}, 5}, {[]int{1 << 33}, 0}, {make([]int, 17), 0}} {
		if err := Write(io.Discard, tc.dims, make([]byte, tc.n)); err == nil {
			t.Errorf("Write(%v, %d bytes) succeeded", tc.dims, tc.n)
		}
	}
}

func TestDType(t *testing.T) {
	for _, tc := range []struct {
		t    DType
		size int
		name string
	}{{Uint8, 1, "uint8"}, {Int8, 1, "int8"}, {Int16, 2, "int16"}, {Int32, 4, "int32"}, {Float32, 4, "float32"}, {Float64, 8, "float64"}, {0x42, 0, "DType(0x42)"}} {
		if tc.t.Size() != tc.size || tc.t.String() != tc.name {
			t.Errorf("%v: size %d name %q", byte(tc.t), tc.t.Size(), tc.t.String())
		}
	}
	c, err := ReadConfig(bytes.NewReader([]byte{0, 0, 0x0D, 1, 0, 0, 0, 2}))
	if err != nil || c.DType != Float32 || !slices.Equal(c.Dims, []int{2}) {
		t.Errorf("ReadConfig float32 = %+v, %v", c, err)
	}
}
