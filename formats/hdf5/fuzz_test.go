package hdf5

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpen checks that opening and reading every group, dataset and
// attribute of arbitrary input never panics and never allocates much more
// than the input's size. It is seeded from testdata/ (the first 32 KiB of
// each file).
func FuzzOpen(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.h5"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		// Large seeds slow the coverage-guided mutator to a crawl; the
		// VGG16-like files are mostly float data, so their first 32 KiB
		// (superblock, root group and the first layers) are seeded.
		f.Add(b[:min(len(b), 32<<10)])
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		readAll(in)
	})
}
