package hdf5

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
)

// manifestEntry describes one testdata file, as scripts/make_keras_h5.py
// writes it to testdata/manifest.json.
type manifestEntry struct {
	Superblock int                 `json:"superblock"`
	LayerNames []string            `json:"layer_names"`
	Layers     map[string][]string `json:"layers"`
	Datasets   []struct {
		Path  string  `json:"path"`
		Shape []int   `json:"shape"`
		DType string  `json:"dtype"`
		Seed  int64   `json:"seed"`
		Scale float64 `json:"scale"`
		Shift float64 `json:"shift"`
	} `json:"datasets"`
	Attrs []struct {
		Object  string    `json:"object"`
		Name    string    `json:"name"`
		Strings []string  `json:"strings"`
		Ints    []int64   `json:"ints"`
		Floats  []float64 `json:"floats"`
		Shape   []int     `json:"shape"`
		Scalar  bool      `json:"scalar"`
	} `json:"attrs"`
	Errors []struct {
		Path     string `json:"path"`
		Contains string `json:"contains"`
	} `json:"errors"`
}

func loadManifest(t testing.TB) map[string]manifestEntry {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]manifestEntry
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// splitmix64 is the generator of scripts/make_keras_h5.py.
func splitmix64(x uint64) uint64 {
	z := x + 0x9E3779B97F4A7C15
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return z ^ z>>31
}

// value is element i of the dataset with the given seed: exact in float32.
func value(seed int64, i int) float64 {
	if seed < 0 {
		return 0 // unwritten dataset
	}
	v := int64(splitmix64(uint64(seed)<<32|uint64(i))>>40) - 1<<23
	return float64(v) / (1 << 23)
}

// pyRound is numpy's round-half-to-even.
func pyRound(x float64) float64 {
	r := float64(int64(x))
	d := x - r
	switch {
	case d > 0.5 || d == 0.5 && int64(r)%2 != 0:
		r++
	case d < -0.5 || d == -0.5 && int64(r)%2 != 0:
		r--
	}
	return r
}

func openTestFile(t testing.TB, name string) *File {
	t.Helper()
	f, c, err := OpenFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return f
}

// TestManifest checks every testdata file against the manifest: layer and
// weight names, every dataset's shape, dtype and values, attributes and the
// datasets that must fail.
func TestManifest(t *testing.T) {
	m := loadManifest(t)
	files, _ := filepath.Glob(filepath.Join("testdata", "*.h5"))
	if len(files) != len(m) {
		t.Errorf("%d .h5 files in testdata, %d in the manifest", len(files), len(m))
	}
	for name, e := range m {
		t.Run(name, func(t *testing.T) {
			f := openTestFile(t, name)
			if f.SuperblockVersion() != e.Superblock {
				t.Errorf("superblock version %d, want %d", f.SuperblockVersion(), e.Superblock)
			}
			if e.LayerNames != nil {
				got := attrStrings(t, f.Root(), "layer_names")
				if !slices.Equal(got, e.LayerNames) {
					t.Errorf("layer_names = %q, want %q", got, e.LayerNames)
				}
			}
			for layer, want := range e.Layers {
				g, err := f.Group(layer)
				if err != nil {
					t.Fatal(err)
				}
				got := attrStrings(t, g, "weight_names")
				if !slices.Equal(got, want) {
					t.Errorf("%s weight_names = %q, want %q", layer, got, want)
				}
				for _, w := range want {
					if _, err := g.Dataset(w); err != nil {
						t.Errorf("weight %q of layer %s: %v", w, layer, err)
					}
				}
			}
			for _, want := range e.Datasets {
				checkDataset(t, f, want.Path, want.Shape, want.DType, want.Seed, want.Scale, want.Shift)
			}
			for _, want := range e.Attrs {
				checkAttr(t, f, want.Object, want.Name, want.Strings, want.Ints, want.Floats, want.Shape, want.Scalar)
			}
			for _, want := range e.Errors {
				d, err := f.Dataset(want.Path)
				if err == nil {
					_, err = d.ReadFloat32()
				}
				if err == nil || !strings.Contains(err.Error(), want.Contains) || !errors.Is(err, ErrUnsupported) {
					t.Errorf("%s: error %v, want ErrUnsupported containing %q", want.Path, err, want.Contains)
				}
			}
			// Every dataset in the file is in the manifest.
			var all []string
			walk(t, f.Root(), &all)
			var listed []string
			for _, d := range e.Datasets {
				listed = append(listed, d.Path)
			}
			for _, d := range e.Errors {
				if !strings.Contains(d.Contains, "link") {
					listed = append(listed, d.Path)
				}
			}
			sort.Strings(all)
			sort.Strings(listed)
			if !slices.Equal(all, listed) {
				t.Errorf("datasets in file %q, manifest %q", all, listed)
			}
		})
	}
}

// walk collects the paths of all datasets under g.
func walk(t *testing.T, g *Group, out *[]string) {
	for _, name := range g.Names() {
		if sub, err := g.Group(name); err == nil {
			walk(t, sub, out)
			continue
		}
		d, err := g.Dataset(name)
		if errors.Is(err, ErrUnsupported) && strings.Contains(err.Error(), "soft link") {
			continue
		}
		if err != nil {
			t.Errorf("%s/%s is neither a group nor a dataset: %v", g.Path(), name, err)
			continue
		}
		*out = append(*out, d.Path())
	}
}

func attrStrings(t *testing.T, g *Group, name string) []string {
	t.Helper()
	a, err := g.Attr(name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := a.Strings()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func checkDataset(t *testing.T, f *File, path string, shape []int, dtype string, seed int64, scale, shift float64) {
	t.Helper()
	d, err := f.Dataset(path)
	if err != nil {
		t.Error(err)
		return
	}
	if !slices.Equal(d.Shape(), shape) && !(len(shape) == 0 && d.Shape() == nil) {
		t.Errorf("%s: shape %v, want %v", path, d.Shape(), shape)
	}
	if d.DType().String() != dtype {
		t.Errorf("%s: dtype %v, want %s", path, d.DType(), dtype)
	}
	v32, err := d.ReadFloat32()
	if err != nil {
		t.Error(err)
		return
	}
	v64, err := d.ReadFloat64()
	if err != nil {
		t.Error(err)
		return
	}
	if len(v32) != d.Len() || len(v64) != d.Len() {
		t.Fatalf("%s: %d and %d values, want %d", path, len(v32), len(v64), d.Len())
	}
	for i := range v32 {
		want := value(seed, i)
		if scale != 0 && scale != 1 {
			want = pyRound((want + shift) * scale)
		}
		if float64(v32[i]) != want || v64[i] != want {
			t.Errorf("%s[%d] = %v (float32), %v (float64), want %v", path, i, v32[i], v64[i], want)
			return
		}
	}
}

func checkAttr(t *testing.T, f *File, obj, name string, strs []string, ints []int64, floats []float64, shape []int, scalar bool) {
	t.Helper()
	var o interface {
		Attr(string) (*Attribute, error)
	}
	if g, err := f.Group(obj); err == nil {
		o = g
	} else if d, err := f.Dataset(obj); err == nil {
		o = d
	} else {
		t.Errorf("%s: %v", obj, err)
		return
	}
	a, err := o.Attr(name)
	if err != nil {
		t.Error(err)
		return
	}
	if shape != nil && !slices.Equal(a.Shape(), shape) || scalar && a.Shape() != nil {
		t.Errorf("%s %s: shape %v, want %v (scalar %v)", obj, name, a.Shape(), shape, scalar)
	}
	switch {
	case strs != nil:
		got, err := a.Strings()
		if err != nil || !slices.Equal(got, strs) {
			t.Errorf("%s %s: Strings() = %q, %v, want %q", obj, name, got, err, strs)
		}
	case ints != nil:
		got, err := a.Int64s()
		if err != nil || !slices.Equal(got, ints) {
			t.Errorf("%s %s: Int64s() = %v, %v, want %v", obj, name, got, err, ints)
		}
	case floats != nil:
		got, err := a.Float64s()
		if err != nil || !slices.Equal(got, floats) {
			t.Errorf("%s %s: Float64s() = %v, %v, want %v", obj, name, got, err, floats)
		}
	}
}

// TestLayouts checks that the "latest" files use the new-style structures
// the reader must handle, so that the tests above cover them.
func TestLayouts(t *testing.T) {
	f := openTestFile(t, "vgg16_notop_keras2_latest.h5")
	if !hasDense(f.Root().msgs, msgLinkInfo) {
		t.Error("vgg16_notop_keras2_latest.h5: root links are not in a fractal heap")
	}
	f = openTestFile(t, "attrs_latest.h5")
	if !hasDense(f.Root().msgs, msgAttrInfo) {
		t.Error("attrs_latest.h5: root attributes are not in a fractal heap")
	}
	f = openTestFile(t, "vgg16_notop_keras1_earliest.h5")
	if !hasMessage(f.Root().msgs, msgSymbolTable) || f.SuperblockVersion() != 0 {
		t.Error("vgg16_notop_keras1_earliest.h5: root is not a symbol-table group in a version-0 file")
	}
}

// hasDense reports whether a link info or attribute info message points to
// a fractal heap.
func hasDense(msgs []message, typ int) bool {
	for _, m := range msgs {
		if m.typ == typ {
			d := *m.raw
			d.p = 0
			d.u8()
			flags := d.u8()
			if typ == msgLinkInfo && flags&1 != 0 {
				d.skip(8)
			}
			if typ == msgAttrInfo && flags&1 != 0 {
				d.skip(2)
			}
			return d.addr() != undef
		}
	}
	return false
}

// readAll opens b and reads every dataset and attribute it can reach.
func readAll(b []byte) error {
	f, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return err
	}
	var firstErr error
	seen := map[uint64]bool{} // hard links may form cycles
	var visit func(g *Group, depth int)
	visit = func(g *Group, depth int) {
		if depth > 8 || seen[g.addr] {
			return
		}
		seen[g.addr] = true
		attrAll(g.Attr, g.AttrNames, &firstErr)
		for _, name := range g.Names() {
			if sub, err := g.Group(name); err == nil {
				visit(sub, depth+1)
				continue
			}
			d, err := g.Dataset(name)
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			if seen[d.addr] {
				continue
			}
			seen[d.addr] = true
			attrAll(d.Attr, d.AttrNames, &firstErr)
			if _, err := d.ReadFloat32(); err != nil && firstErr == nil {
				firstErr = err
			}
		}
	}
	visit(f.Root(), 0)
	return firstErr
}

func attrAll(get func(string) (*Attribute, error), names func() ([]string, error), firstErr *error) {
	ns, err := names()
	if err != nil {
		if *firstErr == nil {
			*firstErr = err
		}
		return
	}
	for _, n := range ns {
		a, err := get(n)
		if err == nil {
			a.Strings()
			a.Float64s()
			a.Int64s()
		}
	}
}

// TestTruncated cuts every testdata file at many offsets: opening and
// reading must fail with an error (wrapping ErrFormat when Open fails),
// never panic, and never allocate much more than the file size.
func TestTruncated(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.h5"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		step := max(1, len(b)/400)
		for n := 0; n < len(b); n += step {
			if n > 64 && n%step != 0 {
				continue
			}
			cut := b[:n]
			before := memAlloc()
			err := readAll(cut)
			if alloc := memAlloc() - before; alloc > uint64(64*len(b))+1<<22 {
				t.Errorf("%s cut at %d: allocated %d bytes", name, n, alloc)
			}
			if err == nil {
				// Data past the cut can only be unreferenced free space.
				continue
			}
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrNotFound) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("%s cut at %d: error %v wraps none of the sentinels", name, n, err)
			}
		}
		// Every cut in the first 200 bytes (superblock, root header) fails,
		// and where Open itself fails it says ErrFormat.
		for n := 0; n < 200 && n < len(b); n++ {
			if _, err := Open(bytes.NewReader(b[:n]), int64(n)); err != nil && !errors.Is(err, ErrFormat) {
				t.Errorf("%s cut at %d: %v, want ErrFormat", name, n, err)
			}
			if readAll(b[:n]) == nil {
				t.Errorf("%s cut at %d: reading everything succeeded", name, n)
			}
		}
	}
}

// TestTruncatedKeras checks that every cut of a Keras file that removes
// part of a dataset makes reading that dataset fail.
func TestTruncatedKeras(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "vgg16_notop_keras1_earliest.h5"))
	if err != nil {
		t.Fatal(err)
	}
	fails := 0
	for n := 0; n < len(b); n += 97 {
		if readAll(b[:n]) != nil {
			fails++
		}
	}
	// The last structure in the file is data or metadata; nearly every cut
	// must fail.
	if total := (len(b) + 96) / 97; fails < total*9/10 {
		t.Errorf("only %d of %d cuts failed", fails, total)
	}
}

func TestNotHDF5(t *testing.T) {
	for _, in := range []string{"", "\x89HDF", "PK\x03\x04 not an hdf5 file at all", strings.Repeat("x", 5000)} {
		_, err := Open(strings.NewReader(in), int64(len(in)))
		if !errors.Is(err, ErrFormat) {
			t.Errorf("Open(%.10q): %v, want ErrFormat", in, err)
		}
	}
	_, _, err := OpenFile(filepath.Join("testdata", "manifest.json"))
	if !errors.Is(err, ErrFormat) {
		t.Errorf("OpenFile(manifest.json): %v, want ErrFormat", err)
	}
}

func TestNotFound(t *testing.T) {
	f := openTestFile(t, "vgg16_notop_keras2_latest.h5")
	for _, p := range []string{"/nope", "/block1_conv1/nope", "/block1_conv1/block1_conv1/kernel:0/x"} {
		if _, err := f.Dataset(p); !errors.Is(err, ErrNotFound) {
			t.Errorf("Dataset(%q): %v, want ErrNotFound", p, err)
		}
	}
	if _, err := f.Group("/block1_conv1/block1_conv1/kernel:0"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Group(dataset): %v, want ErrNotFound", err)
	}
	if _, err := f.Dataset("/block1_conv1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Dataset(group): %v, want ErrNotFound", err)
	}
	if _, err := f.Root().Attr("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Attr(nope): %v, want ErrNotFound", err)
	}
	g, err := f.Group("block1_conv1")
	if err != nil {
		t.Fatal(err)
	}
	d, err := g.Dataset("block1_conv1/kernel:0")
	if err != nil {
		t.Fatal(err)
	}
	if d.Path() != "/block1_conv1/block1_conv1/kernel:0" {
		t.Errorf("Path() = %q", d.Path())
	}
	if err := d.ReadFloat32To(make([]float32, 3)); err == nil {
		t.Error("ReadFloat32To with a short destination succeeded")
	}
	if r, err := g.Group("/"); err != nil || r != f.Root() {
		t.Errorf("Group(\"/\") = %v, %v, want the root", r, err)
	}
}

func memAlloc() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}
