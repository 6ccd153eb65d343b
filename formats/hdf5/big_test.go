package hdf5

import (
	"testing"
	"time"

	"github.com/capa-ml/capa/internal/fulltest"
)

// TestBigFile reads the full-size fc1 kernel written by
// `/usr/bin/python3 scripts/make_keras_h5.py --big PATH` (411 MB, not
// committed) when HDF5_BIG=PATH, or under go test -tags full in the user
// cache (written there first if absent), and reports time and allocation:
// the data must be streamed into the result, not copied whole.
func TestBigFile(t *testing.T) {
	path := fulltest.Generated(t, "HDF5_BIG", "fc1.h5", "../../scripts/make_keras_h5.py", "--big")
	f, c, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d, err := f.Dataset("/fc1/fc1_W_1:0")
	if err != nil {
		t.Fatal(err)
	}
	before := memAlloc()
	start := time.Now()
	v, err := d.ReadFloat32()
	elapsed := time.Since(start)
	alloc := memAlloc() - before
	if err != nil {
		t.Fatal(err)
	}
	data := uint64(4 * len(v))
	t.Logf("%v: %d float32 (%d bytes) in %v (%.0f MB/s), allocated %d bytes (%.4f× the data)",
		d.Shape(), len(v), data, elapsed, float64(data)/elapsed.Seconds()/1e6, alloc, float64(alloc)/float64(data))
	if alloc > data+2<<20 {
		t.Errorf("allocated %d bytes for %d bytes of data", alloc, data)
	}
	// Again into the same, already touched, slice: no allocation but the
	// 1 MiB buffer, and no page faults on fresh memory.
	before = memAlloc()
	start = time.Now()
	if err := d.ReadFloat32To(v); err != nil {
		t.Fatal(err)
	}
	elapsed = time.Since(start)
	alloc = memAlloc() - before
	t.Logf("ReadFloat32To into the same slice: %v (%.0f MB/s), allocated %d bytes", elapsed, float64(data)/elapsed.Seconds()/1e6, alloc)
	for _, i := range []int{0, 1, 4092, 4093, len(v) / 2, len(v) - 1} {
		if want := float32(i%4093-2046) / 1024; v[i] != want {
			t.Fatalf("v[%d] = %v, want %v", i, v[i], want)
		}
	}
}
