package torchpth

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// vggFiles are the three serializations of the same state dict.
var vggFiles = map[string]Format{
	"vgg16mini-zip.pth":       FormatZip,
	"vgg16mini-legacy-v2.pth": FormatLegacyV2,
	"vgg16mini-cd586040.pth":  FormatLegacy,
}

// sidecar is the JSON written next to the test files by
// scripts/make_torch_pth.py.
type sidecar struct {
	Keys    []string `json:"keys"`
	Tensors map[string]struct {
		DType  DType     `json:"dtype"`
		Shape  []int     `json:"shape"`
		First  []float32 `json:"first"`
		Sum    float64   `json:"sum"`
		SHA256 string    `json:"sha256"`
	} `json:"tensors"`
}

func readSidecar(t *testing.T, name string) sidecar {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var s sidecar
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// checkSidecar compares every tensor of sd with the sidecar: key order,
// dtype, shape and the SHA-256 of the float32 data, which makes the
// comparison exact.
func checkSidecar(t *testing.T, sd *StateDict, want sidecar) {
	t.Helper()
	if got := sd.Keys(); !slices.Equal(got, want.Keys) {
		t.Fatalf("keys\n got %q\nwant %q", got, want.Keys)
	}
	for _, name := range want.Keys {
		w := want.Tensors[name]
		info, ok := sd.Lookup(name)
		if !ok || info.Name != name || info.DType != w.DType || !slices.Equal(info.Shape, w.Shape) {
			t.Errorf("Lookup(%q) = %+v, %v; want dtype %s shape %v", name, info, ok, w.DType, w.Shape)
			continue
		}
		tt, err := sd.Tensor(name)
		if !w.DType.IsFloat() {
			if !errors.Is(err, ErrUnsupported) {
				t.Errorf("Tensor(%q) of %s: err = %v, want ErrUnsupported", name, w.DType, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Tensor(%q): %v", name, err)
			continue
		}
		data := tt.Float32()
		if len(data) != info.NumElements() || !slices.Equal(tt.Shape, w.Shape) {
			t.Errorf("%s: %d elements, shape %v; want %d, %v", name, len(data), tt.Shape, info.NumElements(), w.Shape)
			continue
		}
		raw := make([]byte, 4*len(data))
		var sum float64
		for i, v := range data {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
			sum += float64(v)
		}
		if h := sha256.Sum256(raw); hex.EncodeToString(h[:]) != w.SHA256 {
			t.Errorf("%s: data differs from the sidecar (first %v, want %v; sum %v, want %v)", name, data[:min(4, len(data))], w.First, sum, w.Sum)
		}
		if n := min(4, len(data)); !slices.Equal(data[:n], w.First) || math.Abs(sum-w.Sum) > 1e-9*math.Max(1, math.Abs(w.Sum)) {
			t.Errorf("%s: first %v sum %v, want %v and %v", name, data[:n], sum, w.First, w.Sum)
		}
	}
}

func TestVGG16Mini(t *testing.T) {
	want := readSidecar(t, "vgg16mini.json")
	if len(want.Keys) != 32 || want.Keys[0] != "features.0.weight" || want.Keys[31] != "classifier.6.bias" {
		t.Fatalf("unexpected sidecar keys %q", want.Keys)
	}
	for name, format := range vggFiles {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", name)
			sd, err := OpenFile(path)
			if err != nil {
				t.Fatal(err)
			}
			defer sd.Close()
			if sd.Format() != format {
				t.Errorf("Format() = %q, want %q", sd.Format(), format)
			}
			checkSidecar(t, sd, want)

			// classifier.6.weight is the transpose of a (32, 10) matrix
			// whose storage the bias shares from offset 320.
			w, _ := sd.Lookup("classifier.6.weight")
			b, _ := sd.Lookup("classifier.6.bias")
			if !slices.Equal(w.Stride, []int{1, 10}) || w.StorageOffset != 0 || b.StorageOffset != 320 || w.StorageKey != b.StorageKey {
				t.Errorf("classifier.6: weight %+v, bias %+v", w, b)
			}
			conv, _ := sd.Lookup("features.28.weight")
			if !slices.Equal(conv.Shape, []int{16, 16, 3, 3}) || !slices.Equal(conv.Stride, []int{144, 9, 3, 1}) {
				t.Errorf("features.28.weight: %+v", conv)
			}

			// ReadFile holds the same values and needs no open file.
			all, err := ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			checkSidecar(t, all, want)
		})
	}
}

func TestDTypes(t *testing.T) {
	sd, err := OpenFile(filepath.Join("testdata", "dtypes.pth"))
	if err != nil {
		t.Fatal(err)
	}
	defer sd.Close()
	checkSidecar(t, sd, readSidecar(t, "dtypes.json"))
	half, err := sd.Tensor("half")
	if err != nil {
		t.Fatal(err)
	}
	if got := half.Float32(); got[2] != 65504 || got[3] != 0x1p-14 || !math.Signbit(float64(got[4])) {
		t.Errorf("half = %v", got)
	}
	if s, err := sd.Tensor("scalar"); err != nil || len(s.Shape) != 0 || !slices.Equal(s.Float32(), []float32{1.5}) {
		t.Errorf("scalar = %+v, %v", s, err)
	}
	if _, err := sd.Tensor("nope"); err == nil {
		t.Error("Tensor of a missing name succeeded")
	}
	sd.Close()
	if _, err := sd.Tensor("half"); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Tensor after Close: %v, want os.ErrClosed", err)
	}
}

func TestHalfToFloat32(t *testing.T) {
	for _, c := range []struct {
		h    uint16
		want float32
	}{
		{0x0000, 0}, {0x3c00, 1}, {0xc000, -2}, {0x7bff, 65504}, {0x3555, 0x555p-12},
		{0x0400, 0x1p-14}, {0x0001, 0x1p-24}, {0x03ff, 0x3ffp-24}, {0x8001, -0x1p-24},
		{0x7c00, float32(math.Inf(1))}, {0xfc00, float32(math.Inf(-1))},
	} {
		if got := halfToFloat32(c.h); got != c.want {
			t.Errorf("halfToFloat32(%#04x) = %v, want %v", c.h, got, c.want)
		}
	}
	if v := halfToFloat32(0x7e00); !math.IsNaN(float64(v)) {
		t.Errorf("halfToFloat32(0x7e00) = %v, want NaN", v)
	}
	if v := halfToFloat32(0x8000); v != 0 || !math.Signbit(float64(v)) {
		t.Errorf("halfToFloat32(0x8000) = %v, want -0", v)
	}
}

func TestChecksum(t *testing.T) {
	if got := nameHash("/x/vgg16-397923af.pth"); got != "397923af" {
		t.Errorf("nameHash = %q", got)
	}
	for _, p := range []string{"model.pth", "vgg16-final.pth", "a-397923a.pth", "b-397923AF.pth", "dir-397923af/model.pth"} {
		if got := nameHash(p); got != "" {
			t.Errorf("nameHash(%q) = %q, want none", p, got)
		}
	}
	if _, err := OpenFile(filepath.Join("testdata", "vgg16mini-cd586040.pth")); err != nil {
		t.Errorf("correct hash: %v", err)
	}
	_, err := OpenFile(filepath.Join("testdata", "wrong-hash-deadbeef.pth"))
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "deadbeef") {
		t.Errorf("wrong hash: err = %v, want ErrChecksum naming the prefix", err)
	}
	if _, err := ReadFile(filepath.Join("testdata", "wrong-hash-deadbeef.pth")); !errors.Is(err, ErrChecksum) {
		t.Errorf("ReadFile with a wrong hash: err = %v", err)
	}
	// The same bytes under a name without a hash, or with the full digest.
	b, err := os.ReadFile(filepath.Join("testdata", "wrong-hash-deadbeef.pth"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	dir := t.TempDir()
	for _, name := range []string{"plain.pth", "full-" + hex.EncodeToString(sum[:]) + ".pth"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadFile(p); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestMalicious(t *testing.T) {
	const marker = "/tmp/capa-torchpth-pwned"
	os.Remove(marker)
	for name, global := range map[string]string{
		"malicious-os-system.pth": "posix.system",
		"malicious-eval-zip.pth":  "builtins.eval",
	} {
		_, err := ReadFile(filepath.Join("testdata", name))
		if !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), global) {
			t.Errorf("%s: err = %v, want ErrUnsafe naming %s", name, err, global)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatalf("%s exists: something was executed", marker)
	}
}

// seeds returns the contents of the test files.
func seeds(t testing.TB) map[string][]byte {
	paths, err := filepath.Glob(filepath.Join("testdata", "*.pth"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	out := make(map[string][]byte)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = b
	}
	return out
}

// readAll reads b and every float tensor in it.
func readAll(b []byte, size int64) (*StateDict, error) {
	sd, err := ReadStateDict(bytes.NewReader(b), size)
	if err != nil {
		return nil, err
	}
	for _, k := range sd.Keys() {
		if info, _ := sd.Lookup(k); !info.DType.IsFloat() {
			continue
		}
		t, err := sd.Tensor(k)
		if err != nil {
			return nil, err
		}
		if len(t.Float32()) != t.NumElements() {
			panic("tensor length does not match its shape")
		}
	}
	return sd, nil
}

func isSentinel(err error) bool {
	return errors.Is(err, ErrFormat) || errors.Is(err, ErrUnsupported) || errors.Is(err, ErrUnsafe)
}

// TestTruncated cuts every test file at many offsets: each cut must be
// rejected with a sentinel error, and reading must allocate no more than a
// small multiple of the bytes given.
func TestTruncated(t *testing.T) {
	for name, b := range seeds(t) {
		if strings.HasPrefix(name, "malicious") {
			continue
		}
		var cuts []int
		for n := 0; n < len(b); n++ {
			if n < 2048 || n > len(b)-2048 || n%127 == 0 {
				cuts = append(cuts, n)
			}
		}
		for _, n := range cuts {
			before := memAlloc()
			_, err := readAll(b[:n], int64(n))
			if alloc := memAlloc() - before; alloc > uint64(4*n+1<<20) {
				t.Errorf("%s cut at %d: allocated %d bytes", name, n, alloc)
			}
			if err == nil || !isSentinel(err) {
				t.Errorf("%s cut at %d: err = %v", name, n, err)
			}
		}
		// A reader shorter than the size it claims. (A zip archive that
		// lacks only the last byte of its end record is still readable.)
		for _, n := range []int{len(b) / 2, len(b) - 1} {
			_, err := readAll(b[:n], int64(len(b)))
			if (err == nil && n == len(b)/2) || (err != nil && !isSentinel(err)) {
				t.Errorf("%s: %d bytes claiming %d: err = %v", name, n, len(b), err)
			}
		}
	}
}

// TestCorrupted flips bytes: never a panic, and any error is a sentinel.
func TestCorrupted(t *testing.T) {
	for name, b := range seeds(t) {
		c := slices.Clone(b)
		for i := 0; i < len(c) && i < 2048; i++ {
			for _, x := range []byte{0xff, 0x01} {
				old := c[i]
				c[i] ^= x
				if _, err := readAll(c, int64(len(c))); err != nil && !isSentinel(err) {
					t.Errorf("%s byte %d ^ %#x: err = %v", name, i, x, err)
				}
				c[i] = old
			}
		}
	}
}
