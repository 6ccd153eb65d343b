package npy

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/capa-ml/capa/internal/fulltest"
)

func TestRoundTrip(t *testing.T) {
	for _, shape := range [][]int{{3}, {2, 3}, {1, 2, 2, 3}, {0, 4}} {
		n := 1
		for _, d := range shape {
			n *= d
		}
		data := make([]float32, n)
		for i := range data {
			data[i] = float32(i) * 0.5
		}
		var b bytes.Buffer
		if err := Write(&b, shape, data); err != nil {
			t.Fatal(err)
		}
		if (b.Len()-4*n)%64 != 0 {
			t.Errorf("%v: data does not start at a multiple of 64 (%d bytes)", shape, b.Len())
		}
		s, d, err := Read(bytes.NewReader(b.Bytes()), int64(b.Len()))
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(s) != fmt.Sprint(shape) || fmt.Sprint(d) != fmt.Sprint(data) {
			t.Errorf("%v: got %v %v", shape, s, d)
		}
	}
}

func TestErrors(t *testing.T) {
	var b bytes.Buffer
	Write(&b, []int{2, 2}, []float32{1, 2, 3, 4})
	good := b.Bytes()
	for i := 0; i < len(good); i++ {
		if _, _, err := Read(bytes.NewReader(good[:i]), int64(i)); err == nil {
			t.Fatalf("truncated at %d: no error", i)
		}
	}
	f64 := bytes.Replace(good, []byte("<f4"), []byte("<f8"), 1)
	if _, _, err := Read(bytes.NewReader(f64), int64(len(f64))); !errors.Is(err, ErrFormat) {
		t.Errorf("float64: %v", err)
	}
	if _, _, err := Read(bytes.NewReader([]byte("PK\x03\x04 not npy")), 14); !errors.Is(err, ErrFormat) {
		t.Errorf("not npy: %v", err)
	}
	if err := Write(&b, []int{3}, []float32{1}); err == nil {
		t.Error("wrong length accepted")
	}
	// Found by FuzzRead: a header declaring 2^29 values, followed by
	// four bytes, once allocated 2 GB before finding the data short.
	huge := rawSeed(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (32768, 16384), }\n", 1)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, _, err := Read(bytes.NewReader(huge), -1); !errors.Is(err, ErrFormat) {
		t.Errorf("huge shape, short data: %v", err)
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Errorf("huge shape, short data: allocated %d MB before failing", grew>>20)
	}
}

// TestNumPy reads a file written by NumPy and has NumPy read ours, when
// Debian's python3-numpy is installed.
func TestNumPy(t *testing.T) {
	py := "/usr/bin/python3"
	if exec.Command(py, "-c", "import numpy").Run() != nil {
		fulltest.Missing(t, "python3-numpy not installed")
	}
	dir := t.TempDir()
	theirs, ours := filepath.Join(dir, "theirs.npy"), filepath.Join(dir, "ours.npy")
	script := fmt.Sprintf(`import numpy as np
np.save(%q, np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 4)
`, theirs)
	if out, err := exec.Command(py, "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	shape, data, err := ReadFile(theirs)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(shape) != "[2 3 4]" || data[5] != 1.25 {
		t.Errorf("numpy's file: %v %v", shape, data)
	}
	if err := WriteFile(ours, shape, data); err != nil {
		t.Fatal(err)
	}
	check := fmt.Sprintf(`import numpy as np
a = np.load(%q)
assert a.shape == (2, 3, 4) and a.dtype == np.float32 and a[0, 1, 1] == 1.25, (a.shape, a.dtype)
`, ours)
	if out, err := exec.Command(py, "-c", check).CombinedOutput(); err != nil {
		t.Fatalf("numpy cannot read ours: %v: %s", err, out)
	}
	os.Remove(ours)
}
