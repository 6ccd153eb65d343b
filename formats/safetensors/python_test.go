package safetensors

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// python returns the path of a python3 that can import safetensors and
// numpy, or skips the test.
func python(t *testing.T) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found")
	}
	if out, err := exec.Command(py, "-c", "import safetensors, numpy").CombinedOutput(); err != nil {
		t.Skipf("python safetensors library not available: %s", strings.TrimSpace(string(out)))
	}
	return py
}

// TestPythonInterop checks, where the reference Python library is
// installed, that it reads what WriteFile writes and that ReadFile reads
// what it writes.
func TestPythonInterop(t *testing.T) {
	py := python(t)
	dir := t.TempDir()
	goPath := filepath.Join(dir, "go.safetensors")
	pyPath := filepath.Join(dir, "py.safetensors")
	tensors, meta := mixedTensors()
	if err := WriteFile(goPath, tensors, meta); err != nil {
		t.Fatal(err)
	}
	script := `
import sys, numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file
t = load_file(sys.argv[1])
with safe_open(sys.argv[1], framework="np") as f:
    meta = f.metadata()
assert meta == {"format": "pt", "epoch": "3"}, meta
assert t["w"].dtype == np.float32 and t["w"].tolist() == [[1, 2], [3, 4]], t["w"]
assert t["b"].dtype == np.float64 and t["b"].tolist() == [1.5, -2.25]
assert t["step"].dtype == np.int64 and t["step"].shape == () and int(t["step"]) == -7
assert t["idx"].dtype == np.int32 and t["idx"].tolist() == [-1, 0, 1]
assert t["mask"].dtype == np.uint8 and t["mask"].tolist() == [0, 255]
save_file({"x": np.arange(6, dtype=np.float32).reshape(2, 3), "n": np.array([1, 2], dtype=np.int64)},
          sys.argv[2], metadata={"from": "python"})
print("ok")
`
	out, err := exec.Command(py, "-c", script, goPath, pyPath).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("python failed: %v\n%s", err, out)
	}
	f, err := ReadFile(pyPath)
	if err != nil {
		t.Fatal(err)
	}
	checkEqual(t, f, map[string]Tensor{
		"x": F32([]int{2, 3}, []float32{0, 1, 2, 3, 4, 5}),
		"n": I64([]int{2}, []int64{1, 2}),
	}, map[string]string{"from": "python"})
}
