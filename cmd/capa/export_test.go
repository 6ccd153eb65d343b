package main

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capa-ml/capa"
	"github.com/capa-ml/capa/formats/npy"
	"github.com/capa-ml/capa/formats/onnx"
)

// TestExportONNX exports a saved model and reads the file back; that ONNX
// Runtime runs such files with Capa's outputs is interchange's test.
func TestExportONNX(t *testing.T) {
	dir := t.TempDir()
	model, out := filepath.Join(dir, "m.safetensors"), filepath.Join(dir, "m.onnx")
	m, err := capa.PracticalCNN(64, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Save(model); err != nil {
		t.Fatal(err)
	}
	msg := run(t, "export", "--model", model, "--out", out)
	if !strings.Contains(msg, "input (None, 28, 28, 1), output (None, 10)") {
		t.Errorf("export printed %q", msg)
	}
	pm, err := onnx.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(pm.Graph.Initializer); n != 8 {
		t.Errorf("%d initializers, want 8 (4 kernels, 4 biases)", n)
	}
	tdir := filepath.Join(dir, "tfjs")
	if msg := run(t, "export", "--model", model, "--format", "tfjs", "--out", tdir); !strings.Contains(msg, "model.json") {
		t.Errorf("export --format tfjs printed %q", msg)
	}
	back := filepath.Join(dir, "back.safetensors")
	if msg := run(t, "import", filepath.Join(tdir, "model.json"), "--out", back); !strings.Contains(msg, "Total params: 118,346") {
		t.Errorf("import of the TensorFlow.js export printed:\n%s", msg)
	}
	if msg := run(t, "import", filepath.Join("..", "..", "interchange", "testdata", "keras2_cnn.h5"), "--out", back); !strings.Contains(msg, "Total params") {
		t.Errorf("import of a Keras 2 file printed:\n%s", msg)
	}
	if msg := run(t, "import", filepath.Join("..", "..", "interchange", "testdata", "keras3_cnn.keras"), "--out", back); !strings.Contains(msg, "Total params") {
		t.Errorf("import of a Keras 3 file printed:\n%s", msg)
	}
	for _, args := range [][]string{
		{"export", "--model", model},
		{"export", "--model", model, "--out", out, "--format", "tflite"},
		{"export", "--out", out},
		{"export", "--model", model, "--out", out, "extra"},
	} {
		b, err := exec.Command(capaBin, args...).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("capa %s: %v, want exit status 2\n%s", strings.Join(args, " "), err, b)
		}
	}
	if b, err := exec.Command(capaBin, "export", "--model", filepath.Join(dir, "none.safetensors"), "--out", out).CombinedOutput(); err == nil || !strings.Contains(string(b), "none.safetensors") {
		t.Errorf("export of a missing model: %v\n%s", err, b)
	}
}

// TestImportONNX imports PyTorch's export of the practical's CNN and runs
// it with capa predict on PyTorch's (N, C, H, W) input: PyTorch's outputs.
func TestImportONNX(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join("..", "..", "interchange", "testdata")
	raw, err := os.ReadFile(filepath.Join(src, "onnx_golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var golden struct {
		Models map[string]struct {
			InputShape []int     `json:"input_shape"`
			Input      []float32 `json:"input"`
			Output     []float32 `json:"output"`
		} `json:"models"`
	}
	if err := json.Unmarshal(raw, &golden); err != nil {
		t.Fatal(err)
	}
	g := golden.Models["practical"]
	model := filepath.Join(dir, "m.safetensors")
	msg := run(t, "import", filepath.Join(src, "practical.onnx"), "--out", model)
	if !strings.Contains(msg, "input (None, 1, 28, 28), output (None, 10)") || !strings.Contains(msg, "Total params: 118,346") {
		t.Errorf("import printed:\n%s", msg)
	}
	in, out := filepath.Join(dir, "x.npy"), filepath.Join(dir, "y.npy")
	if err := npy.WriteFile(in, g.InputShape, g.Input); err != nil {
		t.Fatal(err)
	}
	run(t, "predict", "--model", model, "--input", in, "--output", out)
	_, y, err := npy.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(y) != len(g.Output) {
		t.Fatalf("%d outputs, want %d", len(y), len(g.Output))
	}
	for i := range y {
		if math.Abs(float64(y[i]-g.Output[i])) > 1e-5 {
			t.Fatalf("output %d = %v, PyTorch's %v", i, y[i], g.Output[i])
		}
	}
	bad := filepath.Join(dir, "bad.onnx")
	if err := os.WriteFile(bad, []byte("not an onnx file"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(capaBin, "import", bad, "--out", model).CombinedOutput(); err == nil || !strings.Contains(string(b), "truncated or corrupt") {
		t.Errorf("import of a corrupt file: %v\n%s", err, b)
	}
	if b, err := exec.Command(capaBin, "import", "--out", model).CombinedOutput(); err == nil {
		t.Errorf("import without a file succeeded\n%s", b)
	}
}
