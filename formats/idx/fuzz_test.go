package idx

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// FuzzRead checks that Read never panics, never returns data inconsistent
// with its dims and round-trips through Write. It is seeded from testdata/.
func FuzzRead(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c, cerr := ReadConfig(bytes.NewReader(in))
		dims, data, err := ReadLimit(bytes.NewReader(in), 1<<20)
		if err != nil {
			return
		}
		if cerr != nil || !slices.Equal(c.Dims, dims) {
			t.Fatalf("ReadConfig = %+v, %v but Read dims %v", c, cerr, dims)
		}
		if n := (Config{Dims: dims}).NumElements(); n != len(data) {
			t.Fatalf("dims %v hold %d elements, data has %d", dims, n, len(data))
		}
		var b bytes.Buffer
		if err := Write(&b, dims, data); err != nil {
			t.Fatal(err)
		}
		dims2, data2, err := Read(&b)
		if err != nil || !slices.Equal(dims, dims2) || !bytes.Equal(data, data2) {
			t.Fatalf("round trip: %v %v %v", dims2, len(data2), err)
		}
	})
}
