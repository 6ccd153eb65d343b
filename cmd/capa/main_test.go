package main

import (
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capa-ml/capa/dataset"
	"github.com/capa-ml/capa/internal/fulltest"
)

// The command-line tool end to end, on a subset of the real data. Skipped
// when Fashion-MNIST is not installed (see the README).

var capaBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "capa-cli")
	if err != nil {
		panic(err)
	}
	capaBin = filepath.Join(dir, "capa")
	if out, err := exec.Command("go", "build", "-o", capaBin, ".").CombinedOutput(); err != nil {
		panic(string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func needData(t *testing.T) *dataset.Set {
	t.Helper()
	_, test, err := dataset.LoadFashionMNISTWith(dataset.FashionMNISTOptions{NoDownload: true})
	if err != nil {
		fulltest.Missing(t, "Fashion-MNIST not available: %v", err)
	}
	return test
}

func run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(capaBin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("capa %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func readJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestTrainEvaluatePredictSummary(t *testing.T) {
	test := needData(t)
	dir := t.TempDir()
	model, rep := filepath.Join(dir, "m.safetensors"), filepath.Join(dir, "r.json")
	out := run(t, "train", "--limit", "640", "--epochs", "1", "--out", model, "--report", rep)
	for _, want := range []string{"Total params: 62,346", "(None, 24, 24, 32)", "Test accuracy:"} {
		if !strings.Contains(out, want) {
			t.Errorf("train output lacks %q:\n%s", want, out)
		}
	}
	r := readJSON(t, rep)
	for _, k := range []string{"test_accuracy", "test_loss", "epochs", "batch_size", "train_seconds", "train_images_per_second", "params"} {
		if _, ok := r[k]; !ok {
			t.Errorf("report lacks %q", k)
		}
	}
	if r["params"].(float64) != 62346 || r["epochs"].(float64) != 1 || r["batch_size"].(float64) != 32 {
		t.Errorf("report params/epochs/batch = %v/%v/%v", r["params"], r["epochs"], r["batch_size"])
	}
	if acc := r["test_accuracy"].(float64); acc < 0.5 {
		t.Errorf("test accuracy after one epoch on 640 images = %v, want > 0.5", acc)
	}
	if _, err := os.Stat(checkpointPath(model)); !os.IsNotExist(err) {
		t.Errorf("the checkpoint of a finished run was not removed: %v", err)
	}

	rep2 := filepath.Join(dir, "e.json")
	out = run(t, "evaluate", "--model", model, "--report", rep2)
	e := readJSON(t, rep2)
	if e["test_accuracy"] != r["test_accuracy"] || e["test_loss"] != r["test_loss"] {
		t.Errorf("evaluate gives %v/%v, train reported %v/%v", e["test_accuracy"], e["test_loss"], r["test_accuracy"], r["test_loss"])
	}
	if !strings.Contains(out, "Ankle boot") || e["confusion_matrix"] == nil {
		t.Errorf("evaluate shows no confusion matrix with class names:\n%s", out)
	}

	out = run(t, "summary", "--model", model)
	if !strings.Contains(out, "Total params: 62,346") || !strings.Contains(out, "1 epochs trained") {
		t.Errorf("summary:\n%s", out)
	}

	// A trouser from the test set, drawn dark on a light, larger canvas:
	// predict must invert, crop and fit it like Fashion-MNIST.
	idx := -1
	for i, l := range test.Labels {
		if l == 1 {
			idx = i
			break
		}
	}
	img := image.NewGray(image.Rect(0, 0, 112, 84))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	src := test.Image(idx)
	for y := 0; y < 56; y++ {
		for x := 0; x < 56; x++ {
			v := src[(y/2)*28+x/2]
			img.SetGray(28+x, 14+y, color.Gray{Y: uint8(255 - 255*v)})
		}
	}
	pngPath := filepath.Join(dir, "trouser.png")
	f, _ := os.Create(pngPath)
	png.Encode(f, img)
	f.Close()
	out = run(t, "predict", "--model", model, pngPath)
	if !strings.HasPrefix(out, pngPath+":  Trouser") {
		t.Errorf("predict of a trouser: %s", out)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.safetensors")
	os.WriteFile(junk, []byte("not a model"), 0o644)
	for _, args := range [][]string{
		{"evaluate", "--model", junk},
		{"summary", "--model", filepath.Join(dir, "missing")},
		{"train", "--epochs", "0"},
		{"train", "--optimizer", "nope"},
		{"train", "--resume", "x.safetensors", "--epochs", "3"},
		{"frobnicate"},
	} {
		out, err := exec.Command(capaBin, args...).CombinedOutput()
		if err == nil {
			t.Errorf("capa %v succeeded:\n%s", args, out)
		}
		if !strings.Contains(string(out), "capa") || len(out) > 2000 {
			t.Errorf("capa %v: unclear error:\n%s", args, out)
		}
	}
}
