package hdf5

import (
	"testing"
)

// FuzzOpen checks that opening and reading every group, dataset and
// attribute of arbitrary input never panics and never allocates much more
// than the input's size.
//
// It is seeded with the hand-made files of seed_test.go (a few hundred
// bytes each, superblocks 0 and 2, old- and new-style groups, every
// layout) and with the regression inputs in testdata/fuzz/FuzzOpen. The
// testdata/*.h5 files are not seeded: at 8 to 130 KB they slow the mutator
// to a few executions a second and stall the worker while it minimizes
// them. Run it with scripts/fuzz.sh or
//
//	go test -run='^$' -fuzz='^FuzzOpen$' -fuzztime=5m -parallel=1 ./formats/hdf5
func FuzzOpen(f *testing.F) {
	for _, b := range fuzzSeeds() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		readAll(in)
	})
}
