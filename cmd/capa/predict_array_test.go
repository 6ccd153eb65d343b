package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capa-ml/capa"
	"github.com/capa-ml/capa/formats/npy"
)

// capa predict --input X.npy --output Y.npy runs a saved model on an array
// as it is: the outputs are Predict's in Go (to rounding: other batches), with the model's output
// shape after N; an array of the wrong shape and half-given flags are
// refused with what the model takes.
func TestPredictArray(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "m.safetensors")
	m, err := capa.PracticalCNN(0, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Save(model); err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 3*28*28)
	for i := range x {
		x[i] = float32(i%97) / 97
	}
	in, out := filepath.Join(dir, "x.npy"), filepath.Join(dir, "y.npy")
	if err := npy.WriteFile(in, []int{3, 28, 28, 1}, x); err != nil {
		t.Fatal(err)
	}
	run(t, "predict", "--model", model, "--input", in, "--output", out, "--batch", "2")
	shape, y, err := npy.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := m.Predict(x, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(shape) != 2 || shape[0] != 3 || shape[1] != 10 || len(y) != len(want) {
		t.Fatalf("output shape %v (%d values), want [3 10]", shape, len(y))
	}
	for i := range y {
		if d := y[i] - want[i]; d > 1e-6 || d < -1e-6 { // batches of 2 against one of 3
			t.Fatalf("output %d: %v, Predict gives %v", i, y[i], want[i])
		}
	}

	bad := filepath.Join(dir, "bad.npy")
	if err := npy.WriteFile(bad, []int{2, 28, 28, 3}, make([]float32, 2*28*28*3)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--input", bad, "--output", out}, "but the model takes (None, 28, 28, 1)"},
		{[]string{"--input", in}, "--input X.npy and --output Y.npy go together"},
		{[]string{"--input", in, "--output", out, "img.png"}, "without images"},
	} {
		b, err := exec.Command(capaBin, append([]string{"predict", "--model", model}, c.args...)...).CombinedOutput()
		if err == nil || !strings.Contains(string(b), c.want) {
			t.Errorf("capa predict %v: err %v, want %q in\n%s", c.args, err, c.want, b)
		}
	}
}
