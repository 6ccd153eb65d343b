package main

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capa-ml/capa"
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
