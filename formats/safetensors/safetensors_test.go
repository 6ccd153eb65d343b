package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// mixedTensors are the tensors of testdata/mixed.safetensors.
func mixedTensors() (map[string]Tensor, map[string]string) {
	return map[string]Tensor{
		"step": I64(nil, []int64{-7}),
		"b":    F64([]int{2}, []float64{1.5, -2.25}),
		"w":    F32([]int{2, 2}, []float32{1, 2, 3, 4}),
		"idx":  I32([]int{3}, []int32{-1, 0, 1}),
		"mask": U8([]int{2}, []uint8{0, 255}),
	}, map[string]string{"format": "pt", "epoch": "3"}
}

// TestGolden checks that Write reproduces, byte for byte, the files in
// testdata/, which were written by hand from the format specification, and
// that the readers decode them.
func TestGolden(t *testing.T) {
	mixed, mixedMeta := mixedTensors()
	cases := []struct {
		file    string
		tensors map[string]Tensor
		meta    map[string]string
	}{
		{"attn0.safetensors", map[string]Tensor{"attn0": F32([]int{1, 1, 2, 3}, []float32{0, 1, 2, 3, 4, 5})}, nil},
		{"mixed.safetensors", mixed, mixedMeta},
		{"empty.safetensors", map[string]Tensor{}, map[string]string{"framework": "pt"}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("testdata", c.file))
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := Write(&buf, c.tensors, c.meta); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("Write mismatch\n got %q\nwant %q", buf.Bytes(), want)
			}
			f, err := ReadFile(filepath.Join("testdata", c.file))
			if err != nil {
				t.Fatal(err)
			}
			checkEqual(t, f, c.tensors, c.meta)
		})
	}
}

// checkEqual compares a read file with the tensors and metadata written.
func checkEqual(t *testing.T, f *File, tensors map[string]Tensor, meta map[string]string) {
	t.Helper()
	if len(meta) == 0 {
		meta = nil
	}
	if !reflect.DeepEqual(f.Metadata, meta) {
		t.Errorf("metadata = %v, want %v", f.Metadata, meta)
	}
	if len(f.Tensors) != len(tensors) {
		t.Errorf("read %d tensors, want %d", len(f.Tensors), len(tensors))
	}
	for name, want := range tensors {
		got, ok := f.Tensors[name]
		if !ok {
			t.Errorf("tensor %q missing", name)
			continue
		}
		if got.DType != want.DType || len(got.Shape) != len(want.Shape) || !bytes.Equal(got.Data, want.Data) {
			t.Errorf("tensor %q = %+v, want %+v", name, got, want)
		}
		for i := range want.Shape {
			if got.Shape[i] != want.Shape[i] {
				t.Errorf("tensor %q shape = %v, want %v", name, got.Shape, want.Shape)
			}
		}
	}
}

func TestTypedAccessors(t *testing.T) {
	f, err := ReadFile("testdata/mixed.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := f.Tensors["w"].Float32(); err != nil || !reflect.DeepEqual(v, []float32{1, 2, 3, 4}) {
		t.Errorf("w.Float32() = %v, %v", v, err)
	}
	if v, err := f.Tensors["b"].Float64(); err != nil || !reflect.DeepEqual(v, []float64{1.5, -2.25}) {
		t.Errorf("b.Float64() = %v, %v", v, err)
	}
	if v, err := f.Tensors["step"].Int64(); err != nil || !reflect.DeepEqual(v, []int64{-7}) {
		t.Errorf("step.Int64() = %v, %v", v, err)
	}
	if v, err := f.Tensors["idx"].Int32(); err != nil || !reflect.DeepEqual(v, []int32{-1, 0, 1}) {
		t.Errorf("idx.Int32() = %v, %v", v, err)
	}
	if v, err := f.Tensors["mask"].Uint8(); err != nil || !reflect.DeepEqual(v, []uint8{0, 255}) {
		t.Errorf("mask.Uint8() = %v, %v", v, err)
	}
	if _, err := f.Tensors["b"].Float32(); !errors.Is(err, ErrTensor) {
		t.Errorf("F64 tensor .Float32() error = %v, want ErrTensor", err)
	}
	bad := Tensor{DType: Float32, Shape: []int{3}, Data: make([]byte, 8)}
	if _, err := bad.Float32(); !errors.Is(err, ErrTensor) {
		t.Errorf("short tensor .Float32() error = %v, want ErrTensor", err)
	}
	if got := f.Tensors["w"].NumElements(); got != 4 {
		t.Errorf("NumElements = %d, want 4", got)
	}
	// Reader tensors must not let an append spill into a neighbour.
	w := f.Tensors["w"]
	_ = append(w.Data, 0xff)
	if v, _ := f.Tensors["idx"].Int32(); v[0] != -1 {
		t.Errorf("append to w.Data overwrote idx: %v", v)
	}
}

// randomTensors builds n tensors of random dtypes and shapes.
func randomTensors(r *rand.Rand, n int) map[string]Tensor {
	dtypes := []DType{Bool, Uint8, Int8, Int16, Uint16, Float16, BFloat16, Int32, Uint32, Float32, Float64, Int64, Uint64, Complex, F8E4M3}
	ts := make(map[string]Tensor)
	for i := 0; i < n; i++ {
		dt := dtypes[r.IntN(len(dtypes))]
		shape := make([]int, r.IntN(4))
		for j := range shape {
			shape[j] = r.IntN(4)
		}
		data := make([]byte, Tensor{Shape: shape}.NumElements()*dt.Size())
		for j := range data {
			data[j] = byte(r.Uint32())
		}
		ts[string(rune('a'+i))+"/layer.weight"] = Tensor{DType: dt, Shape: shape, Data: data}
	}
	return ts
}

func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	dir := t.TempDir()
	for i := 0; i < 50; i++ {
		ts := randomTensors(r, r.IntN(8))
		meta := map[string]string{"i": string(rune('0' + i%10)), "quote\"<&>": "ünïcode\n"}
		var buf bytes.Buffer
		if err := Write(&buf, ts, meta); err != nil {
			t.Fatal(err)
		}
		f, err := Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		checkEqual(t, f, ts, meta)

		h, err := ReadHeader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatal(err)
		}
		if h.DataOffset%8 != 0 {
			t.Errorf("data buffer at offset %d, not a multiple of 8", h.DataOffset)
		}
		for _, info := range h.Tensors {
			if info.Begin%int64(info.DType.Size()) != 0 {
				t.Errorf("tensor %q (%s) at unaligned offset %d", info.Name, info.DType, info.Begin)
			}
		}

		path := filepath.Join(dir, "model.safetensors")
		if err := WriteFile(path, ts, meta); err != nil {
			t.Fatal(err)
		}
		f, err = ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		checkEqual(t, f, ts, meta)
	}
}

func TestDeterministic(t *testing.T) {
	ts := randomTensors(rand.New(rand.NewPCG(3, 4)), 12)
	meta := map[string]string{"a": "1", "b": "2", "c": "3", "d": "4"}
	var first bytes.Buffer
	if err := Write(&first, ts, meta); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ { // map iteration order differs between runs
		var buf bytes.Buffer
		if err := Write(&buf, ts, meta); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), first.Bytes()) {
			t.Fatal("Write output differs between calls")
		}
	}
}

func TestReadHeaderOnly(t *testing.T) {
	b, err := os.ReadFile("testdata/mixed.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	r := &countingReaderAt{r: bytes.NewReader(b)}
	h, err := ReadHeader(r, int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if r.max > h.DataOffset {
		t.Errorf("ReadHeader read up to offset %d, past the header end %d", r.max, h.DataOffset)
	}
	var names []string
	for _, ti := range h.Tensors {
		names = append(names, ti.Name)
	}
	if want := []string{"step", "b", "w", "idx", "mask"}; !reflect.DeepEqual(names, want) {
		t.Errorf("names = %v, want %v", names, want)
	}
	w, ok := h.Lookup("w")
	if !ok || w.DType != Float32 || !reflect.DeepEqual(w.Shape, []int{2, 2}) || w.Begin != 24 || w.End != 40 {
		t.Errorf("Lookup(w) = %+v, %v", w, ok)
	}
	if _, ok := h.Lookup("nope"); ok {
		t.Error("Lookup(nope) found a tensor")
	}
	if h.Metadata["format"] != "pt" || h.DataOffset != 8+328 {
		t.Errorf("metadata %v, data offset %d", h.Metadata, h.DataOffset)
	}
}

// countingReaderAt records the furthest offset read.
type countingReaderAt struct {
	r   io.ReaderAt
	max int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.max = max(c.max, off+int64(n))
	return n, err
}

// TestTruncated cuts a valid file at every length: each prefix must fail
// cleanly with ErrFormat, whether the size given is the prefix length or the
// full (now wrong) length.
func TestTruncated(t *testing.T) {
	b, err := os.ReadFile("testdata/mixed.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(b); n++ {
		p := b[:n]
		if _, err := Read(bytes.NewReader(p), int64(n)); !errors.Is(err, ErrFormat) {
			t.Errorf("Read of %d-byte prefix: error %v, want ErrFormat", n, err)
		}
		if _, err := Read(bytes.NewReader(p), int64(len(b))); !errors.Is(err, ErrFormat) {
			t.Errorf("Read of %d-byte prefix claiming %d bytes: error %v, want ErrFormat", n, len(b), err)
		}
		if _, err := ReadHeader(bytes.NewReader(p), int64(n)); !errors.Is(err, ErrFormat) {
			t.Errorf("ReadHeader of %d-byte prefix: error %v, want ErrFormat", n, err)
		}
	}
}

// file builds a safetensors file from a raw header (padded here) and data.
func file(header string, data []byte) []byte {
	for len(header)%8 != 0 {
		header += " "
	}
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(b, header...), data...)
}

func TestCorrupt(t *testing.T) {
	withLen := func(n uint64, rest string) []byte {
		return append(binary.LittleEndian.AppendUint64(nil, n), rest...)
	}
	d16 := make([]byte, 16)
	cases := []struct {
		name string
		b    []byte
		want string // a substring of the error message
	}{
		{"short length", []byte{1, 2, 3}, "shorter than the 8-byte"},
		{"header over limit", withLen(MaxHeaderSize+1, "{}"), "exceeds the limit"},
		{"header length huge", withLen(1<<63, "{}"), "exceeds the limit"},
		{"header past EOF", withLen(100, "{}      "), "exceeds the 8 bytes after it"},
		{"empty header", withLen(0, ""), "does not start with '{'"},
		{"leading space", file(` {}`, nil), "does not start with '{'"},
		{"not an object", file(`[1,2]`, nil), "does not start with '{'"},
		{"invalid JSON", file(`{"a":`, nil), "invalid JSON"},
		{"trailing garbage", file(`{}x`, nil), "invalid JSON"},
		{"second object", file(`{}{}`, nil), "invalid JSON"},
		{"invalid UTF-8", file("{\"\xff\":1}", nil), "UTF-8"},
		{"tensor not an object", file(`{"a":1}`, nil), "invalid JSON"},
		{"missing dtype", file(`{"a":{"shape":[4],"data_offsets":[0,16]}}`, d16), "missing"},
		{"null tensor", file(`{"a":null}`, nil), "missing"},
		{"unknown dtype", file(`{"a":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}`, d16), `unknown dtype "F128"`},
		{"shape mismatch", file(`{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,16]}}`, d16), "does not match"},
		{"shape overflow", file(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]}}`, d16), "does not match"},
		{"shape product overflow x size", file(`{"a":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,16]}}`, d16), "does not match"},
		{"negative dim", file(`{"a":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}}`, d16), "invalid dimension -4"},
		{"fractional dim", file(`{"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,16]}}`, d16), "invalid JSON"},
		{"string dim", file(`{"a":{"dtype":"F32","shape":["4"],"data_offsets":[0,16]}}`, d16), "invalid JSON"},
		{"dim too large", file(`{"a":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,16]}}`, d16), "invalid JSON"},
		{"three offsets", file(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16,16]}}`, d16), "must have 2"},
		{"negative offset", file(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[-16,0]}}`, d16), "out of range"},
		{"offsets reversed", file(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[16,0]}}`, d16), "out of range"},
		{"offset past buffer", file(`{"a":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}}`, d16), "out of range"},
		{"buffer not covered", file(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}`, d16), "cover 12 bytes of the 16"},
		{"gap at start", file(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[4,16]}}`, d16), "gap"},
		{"gap between", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}`, d16), "gap"},
		{"overlap", file(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}`, d16), "overlap"},
		{"same range twice", file(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, d16), "overlap"},
		{"duplicate tensor", file(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, d16), "duplicate"},
		{"metadata not strings", file(`{"__metadata__":{"epoch":3}}`, nil), "invalid JSON"},
		{"metadata not a map", file(`{"__metadata__":"x"}`, nil), "invalid JSON"},
		{"data without tensors", file(`{}`, d16), "cover 0 bytes of the 16"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(c.b), int64(len(c.b)))
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("Read error = %v, want ErrFormat", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("Read error %q does not mention %q", err, c.want)
			}
			if _, err := ReadHeader(bytes.NewReader(c.b), int64(len(c.b))); !errors.Is(err, ErrFormat) {
				t.Errorf("ReadHeader error = %v, want ErrFormat", err)
			}
		})
	}
}

func TestAccepted(t *testing.T) {
	cases := []struct {
		name string
		b    []byte
	}{
		{"empty object", file(`{}`, nil)},
		{"null metadata", file(`{"__metadata__":null}`, nil)},
		{"unknown fields ignored", file(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2],"x":1}}`, []byte{1, 2})},
		{"zero-size tensors", file(`{"a":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]},"b":{"dtype":"U8","shape":[],"data_offsets":[0,1]},"c":{"dtype":"F64","shape":[0],"data_offsets":[1,1]}}`, []byte{9})},
		{"any key order", file(`{"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, []byte{1, 2})},
		{"unpadded header", withoutPadding(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, []byte{1})},
	}
	for _, c := range cases {
		if _, err := Read(bytes.NewReader(c.b), int64(len(c.b))); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// withoutPadding builds a file whose header is not padded to 8 bytes, as
// old writers produced.
func withoutPadding(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(b, header...), data...)
}

// TestBoundedAllocation gives the reader a claimed size and header length
// far larger than the data behind them: it must fail without allocating in
// proportion to the claims.
func TestBoundedAllocation(t *testing.T) {
	b := binary.LittleEndian.AppendUint64(nil, MaxHeaderSize)
	b = append(b, `{"a":`...)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := Read(bytes.NewReader(b), 1<<40)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrFormat) {
		t.Fatalf("error = %v, want ErrFormat", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Errorf("allocated %d bytes reading a %d-byte input", got, len(b))
	}

	// A valid header whose data buffer is claimed to be 1 TB.
	h := file(`{"a":{"dtype":"U8","shape":[1099511627776],"data_offsets":[0,1099511627776]}}`, nil)
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err = Read(bytes.NewReader(h), int64(len(h))+1<<40)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrFormat) {
		t.Fatalf("error = %v, want ErrFormat", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Errorf("allocated %d bytes reading a %d-byte input", got, len(h))
	}
}

func TestWriteInvalid(t *testing.T) {
	cases := map[string]map[string]Tensor{
		"unknown dtype":  {"a": {DType: "F4", Shape: []int{2}, Data: []byte{0}}},
		"short data":     {"a": F32([]int{3}, []float32{1, 2})},
		"negative dim":   {"a": {DType: Uint8, Shape: []int{-1}, Data: nil}},
		"reserved name":  {MetadataKey: U8([]int{1}, []uint8{1})},
		"dim overflow":   {"a": {DType: Float64, Shape: []int{1 << 62, 4}, Data: nil}},
		"size overflows": {"a": {DType: Float64, Shape: []int{1 << 61}, Data: nil}},
	}
	for name, ts := range cases {
		var buf bytes.Buffer
		if err := Write(&buf, ts, nil); !errors.Is(err, ErrTensor) {
			t.Errorf("%s: error = %v, want ErrTensor", name, err)
		}
		if buf.Len() != 0 {
			t.Errorf("%s: %d bytes written before the error", name, buf.Len())
		}
	}
}

// failingWriter fails once more than n bytes have been written.
type failingWriter struct {
	w io.Writer
	n int
}

var errInjected = errors.New("injected write failure")

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		k, _ := f.w.Write(p[:f.n])
		f.n = 0
		return k, errInjected
	}
	f.n -= len(p)
	return f.w.Write(p)
}

// dirEntries lists the names in dir.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteFileAtomic(t *testing.T) {
	big := F32([]int{1 << 18}, make([]float32, 1<<18)) // 1 MiB: several buffer flushes
	tensors := map[string]Tensor{"big": big, "small": U8([]int{1}, []uint8{7})}

	t.Run("failing writer", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "model.safetensors")
		old := []byte("previous contents")
		if err := os.WriteFile(path, old, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{0, 5, 100, 1 << 19} {
			wrapWriter = func(w io.Writer) io.Writer { return &failingWriter{w: w, n: n} }
			err := WriteFile(path, tensors, nil)
			wrapWriter = func(w io.Writer) io.Writer { return w }
			if !errors.Is(err, errInjected) {
				t.Fatalf("fail after %d bytes: error = %v, want the injected failure", n, err)
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, old) {
				t.Fatalf("fail after %d bytes: target changed to %d bytes", n, len(got))
			}
			if names := dirEntries(t, dir); !reflect.DeepEqual(names, []string{"model.safetensors"}) {
				t.Fatalf("fail after %d bytes: directory holds %v", n, names)
			}
		}
		// A successful write then replaces the target.
		if err := WriteFile(path, tensors, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadFile(path); err != nil {
			t.Fatal(err)
		}
		if names := dirEntries(t, dir); len(names) != 1 {
			t.Fatalf("directory holds %v", names)
		}
		if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
			t.Errorf("mode = %v, want 0644", st.Mode())
		}
	})

	t.Run("rename fails", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "model.safetensors")
		// A non-empty directory at the target cannot be replaced by rename.
		if err := os.MkdirAll(filepath.Join(path, "keep"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := WriteFile(path, tensors, nil); err == nil {
			t.Fatal("WriteFile over a directory succeeded")
		}
		if names := dirEntries(t, dir); !reflect.DeepEqual(names, []string{"model.safetensors"}) {
			t.Fatalf("directory holds %v", names)
		}
		if names := dirEntries(t, path); !reflect.DeepEqual(names, []string{"keep"}) {
			t.Fatalf("target directory holds %v", names)
		}
	})

	t.Run("invalid tensor", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "model.safetensors")
		err := WriteFile(path, map[string]Tensor{"a": F32([]int{2}, nil)}, nil)
		if !errors.Is(err, ErrTensor) {
			t.Fatalf("error = %v, want ErrTensor", err)
		}
		if names := dirEntries(t, dir); len(names) != 0 {
			t.Fatalf("directory holds %v", names)
		}
	})

	t.Run("missing directory", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "no", "such", "model.safetensors")
		if err := WriteFile(path, tensors, nil); err == nil {
			t.Fatal("WriteFile into a missing directory succeeded")
		}
	})

	t.Run("read-only directory", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root ignores directory permissions")
		}
		dir := t.TempDir()
		path := filepath.Join(dir, "model.safetensors")
		old := []byte("previous contents")
		if err := os.WriteFile(path, old, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(dir, 0o755)
		if err := WriteFile(path, tensors, nil); err == nil {
			t.Fatal("WriteFile into a read-only directory succeeded")
		}
		if got, _ := os.ReadFile(path); !bytes.Equal(got, old) {
			t.Fatal("target changed")
		}
	})
}
