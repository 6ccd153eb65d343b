package idx

import (
	"bytes"
	"compress/gzip"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// update rewrites testdata/ from fixtures: go test ./formats/idx -run TestFixtures -update
var update = flag.Bool("update", false, "rewrite testdata/ from the fixture generators")

// fixtures generates every file of testdata/, by name. Valid files are
// written with Write; the broken ones are hand-laid headers (see
// testdata/README.md for what each one tests).
func fixtures(t *testing.T) map[string][]byte {
	t.Helper()
	dims, data := testImage() // 3×4×5, byte i is i*17
	images := encode(t, dims, data, false)
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	zw.OS = 3 // Unix, as gzip(1) writes; ModTime stays zero
	if _, err := zw.Write(images); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{
		"images-3x4x5.idx":    images,
		"images-3x4x5.idx.gz": gz.Bytes(),
		"labels-7.idx":        encode(t, []int{7}, []byte{0, 1, 2, 3, 4, 5, 9}, false),
		"empty-0x28x28.idx":   encode(t, []int{0, 28, 28}, nil, false),
		// Magic with nonzero leading bytes, then 1 dimension of 2 and its data.
		"bad-magic.idx": {0x01, 0x00, 0x08, 0x01, 0, 0, 0, 2, 'a', 'b'},
		// Float32 data, which Read does not decode: 2 values, 1.0 and 2.0.
		"float32-2.idx": {0, 0, 0x0D, 1, 0, 0, 0, 2, 0x3f, 0x80, 0, 0, 0x40, 0, 0, 0},
		// Three dimensions whose product (2^32-1)^2 × 65535 overflows any limit.
		"huge-dims.idx": {0, 0, 0x08, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0xff, 0xff},
		// images-3x4x5.idx cut after 14 of its 60 data bytes.
		"truncated.idx": slices.Clone(images[:16+14]),
	}
}

// TestFixtures checks that testdata/ holds exactly the generated files,
// byte for byte, or rewrites them with -update.
func TestFixtures(t *testing.T) {
	want := fixtures(t)
	if *update {
		for name, b := range want {
			if err := os.WriteFile(filepath.Join("testdata", name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	files, err := filepath.Glob(filepath.Join("testdata", "*"))
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, path := range files {
		name := filepath.Base(path)
		if name == "README.md" {
			continue
		}
		b, ok := want[name]
		if !ok {
			t.Errorf("testdata/%s has no generator in fixtures()", name)
			continue
		}
		seen++
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, b) {
			t.Errorf("testdata/%s differs from its generator (%d bytes, generated %d): go test ./formats/idx -run TestFixtures -update", name, len(got), len(b))
		}
	}
	if seen != len(want) {
		t.Errorf("testdata/ holds %d of the %d generated files: go test ./formats/idx -run TestFixtures -update", seen, len(want))
	}
}
