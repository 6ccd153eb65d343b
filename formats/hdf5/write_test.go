package hdf5

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestLookup3 checks the checksum against lookup3.c's own test vectors and
// against the superblock checksums libhdf5 wrote in the testdata files.
func TestLookup3(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint32
	}{
		{"", 0xdeadbeef},
		{"Four score and seven years ago", 0x17770551},
	} {
		if got := lookup3([]byte(c.in)); got != c.want {
			t.Errorf("lookup3(%q) = %#x, want %#x", c.in, got, c.want)
		}
	}
	n := 0
	for _, name := range []string{"attrs_latest.h5", "layouts_latest.h5", "vgg16_notop_keras2_latest.h5"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if b[8] < 2 || b[9] != 8 {
			continue
		}
		n++
		if got, want := lookup3(b[:44]), binary.LittleEndian.Uint32(b[44:]); got != want {
			t.Errorf("%s: superblock checksum %#x, libhdf5 wrote %#x", name, got, want)
		}
	}
	if n == 0 {
		t.Fatal("no testdata file has a version-2 or -3 superblock")
	}
}

// writerFixture is a tree with nested groups, an empty group, a scalar, an
// empty dataset and a dataset larger than the write buffer.
func writerFixture(t *testing.T) (*Writer, map[string][]float32, map[string][]int) {
	t.Helper()
	w := NewWriter()
	data := map[string][]float32{
		"layers/conv2d/vars/0": {1, -2.5, 3, 4, 5, 6},
		"layers/conv2d/vars/1": {0.5},
		"layers/dense/vars/0":  make([]float32, 5000),
		"scalar":               {42},
		"empty":                {},
	}
	for i := range data["layers/dense/vars/0"] {
		data["layers/dense/vars/0"][i] = float32(i) / 7
	}
	shapes := map[string][]int{
		"layers/conv2d/vars/0": {1, 2, 3},
		"layers/conv2d/vars/1": {1},
		"layers/dense/vars/0":  {50, 100},
		"scalar":               {},
		"empty":                {0, 3},
	}
	for _, g := range []string{"vars", "layers/max_pooling2d/vars"} {
		if err := w.Group(g); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"layers/conv2d/vars/0", "layers/conv2d/vars/1", "layers/dense/vars/0", "scalar", "empty"} {
		if err := w.Float32(p, shapes[p], data[p]); err != nil {
			t.Fatal(err)
		}
	}
	return w, data, shapes
}

func TestWriterRoundTrip(t *testing.T) {
	w, data, shapes := writerFixture(t)
	var buf bytes.Buffer
	n, err := w.WriteTo(&buf)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("WriteTo: %d bytes, %v; buffer %d", n, err, buf.Len())
	}
	f, err := Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if f.SuperblockVersion() != 2 {
		t.Errorf("superblock version %d", f.SuperblockVersion())
	}
	if got := f.Root().Names(); !slices.Equal(got, []string{"empty", "layers", "scalar", "vars"}) {
		t.Errorf("root holds %v", got)
	}
	g, err := f.Group("layers/max_pooling2d/vars")
	if err != nil || len(g.Names()) != 0 {
		t.Errorf("empty group: %v, %v", g, err)
	}
	for p, want := range data {
		d, err := f.Dataset(p)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(d.Shape(), shapes[p]) {
			t.Errorf("%s: shape %v, want %v", p, d.Shape(), shapes[p])
		}
		got, err := d.ReadFloat32()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: read %v, want %v", p, got[:min(len(got), 5)], want[:min(len(want), 5)])
		}
	}
	// Every truncation of the file is refused with an error, not a panic.
	b := buf.Bytes()
	for _, cut := range []int{10, 47, 60, 200, len(b) - 5} { // the last cuts the scalar (then 4 bytes of padding) {
		if readWritten(b[:cut], data) == nil {
			t.Errorf("the file cut at %d of %d bytes reads", cut, len(b))
		}
	}
}

// readWritten opens the file in b and reads every dataset in data.
func readWritten(b []byte, data map[string][]float32) error {
	f, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return err
	}
	for p := range data {
		d, err := f.Dataset(p)
		if err != nil {
			return err
		}
		if _, err := d.ReadFloat32(); err != nil {
			return err
		}
	}
	return nil
}

func TestWriterErrors(t *testing.T) {
	w := NewWriter()
	if err := w.Float32("a/b", []int{2}, []float32{1, 2}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		err  error
		want string
	}{
		{w.Float32("a/b", []int{1}, []float32{1}), "exists"},
		{w.Group("a"), "exists"},
		{w.Float32("a/b/c", []int{1}, []float32{1}), "a/b is a dataset"},
		{w.Float32("x", []int{2, 2}, []float32{1}), "holds 4 values, got 1"},
		{w.Float32("y", []int{-1}, nil), "negative dimension"},
		{w.Group("a//c"), "invalid path"},
		{w.Group(""), "invalid path"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("got %v, want an error with %q", c.err, c.want)
		}
	}
}

// TestWriterH5py reads the file with libhdf5 through h5py (Debian's
// python3-h5py), which verifies the checksums: the file is HDF5 as Keras
// reads it, not only as this package reads it. It skips without h5py,
// except under CI.
func TestWriterH5py(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import h5py").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("h5py is missing (CI is set): apt-get install python3-h5py: %v", err)
		}
		t.Skip("no h5py: apt-get install python3-h5py")
	}
	w, data, shapes := writerFixture(t)
	path := filepath.Join(t.TempDir(), "w.h5")
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	const script = `
import json, sys, h5py
out = {}
with h5py.File(sys.argv[1], "r") as f:
    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            out[name] = {"shape": list(obj.shape), "dtype": str(obj.dtype), "data": obj[()].ravel().tolist() if obj.shape else [float(obj[()])]}
        else:
            out[name] = {"group": list(obj.keys())}
    f.visititems(visit)
print(json.dumps(out))
`
	b, err := exec.Command(py, "-c", script, path).CombinedOutput()
	if err != nil {
		t.Fatalf("h5py: %v\n%s", err, b)
	}
	var got map[string]struct {
		Shape []int
		DType string
		Data  []float32
		Group []string
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	for p, want := range data {
		g := got[p]
		if !slices.Equal(g.Shape, shapes[p]) || g.DType != "float32" || !slices.Equal(g.Data, want) {
			t.Errorf("h5py reads %s as shape %v %s %v, want %v %v", p, g.Shape, g.DType, g.Data[:min(len(g.Data), 5)], shapes[p], want[:min(len(want), 5)])
		}
	}
	if g := got["layers"].Group; !slices.Equal(g, []string{"conv2d", "dense", "max_pooling2d"}) {
		t.Errorf("h5py lists layers/ as %v", g)
	}
}
