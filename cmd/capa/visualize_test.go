package main

import (
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capa-ml/capa"
	"github.com/capa-ml/capa/dataset"
	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/internal/fulltest"
	"github.com/capa-ml/capa/train"
)

// vizModel trains the course's CNN for one step on 32 Fashion-MNIST images
// and saves it, with its trainer (and so a one-epoch history), into dir.
func vizModel(t *testing.T, dir string) (model string, test *dataset.Set) {
	t.Helper()
	trainSet, test, err := dataset.LoadFashionMNISTWith(dataset.FashionMNISTOptions{NoDownload: true})
	if err != nil {
		fulltest.Missing(t, "Fashion-MNIST not available: %v", err)
	}
	m, err := capa.PracticalCNN(0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Compile(&train.Adam{LearningRate: 1e-3}, train.SparseCategoricalCrossentropy{}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Fit(capa.FromSet(trainSet.Slice(0, 32)), graph.FitOptions{Epochs: 1, BatchSize: 32, Progress: io.Discard}); err != nil {
		t.Fatal(err)
	}
	model = filepath.Join(dir, "m.safetensors")
	if err := m.Save(model); err != nil {
		t.Fatal(err)
	}
	return model, test
}

func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

func TestVisualize(t *testing.T) {
	dir := t.TempDir()
	model, test := vizModel(t, dir)

	// A sandal from the test set, as a light-background PNG at another size.
	idx := -1
	for i, l := range test.Labels {
		if l == 5 {
			idx = i
			break
		}
	}
	src := test.Image(idx)
	photo := image.NewGray(image.Rect(0, 0, 56, 56))
	for y := 0; y < 56; y++ {
		for x := 0; x < 56; x++ {
			photo.SetGray(x, y, color.Gray{Y: uint8(255 - 255*src[(y/2)*28+x/2])})
		}
	}
	photoPath := filepath.Join(dir, "sandal.png")
	f, _ := os.Create(photoPath)
	png.Encode(f, photo)
	f.Close()

	out := filepath.Join(dir, "pics")
	log := run(t, "visualize", "--model", model, "--image", photoPath, "--out", out, "--limit", "300", "--samples", "16")
	files := map[string][2]int{ // name: minimum width and height
		"samples.png":                     {8 * 112, 2 * 112},
		"confusion.png":                   {10 * 40, 10 * 40},
		"filters.png":                     {8 * 40, 4 * 40},
		"featuremaps-conv2d.png":          {8 * 72, 4 * 72},
		"featuremaps-max_pooling2d.png":   {8 * 72, 4 * 72},
		"featuremaps-conv2d_1.png":        {8 * 72, 8 * 72},
		"featuremaps-max_pooling2d_1.png": {8 * 72, 8 * 72},
		"curves.png":                      {1000, 300},
	}
	for name, min := range files {
		path := filepath.Join(out, name)
		if !strings.Contains(log, "wrote "+path) {
			t.Errorf("the output does not name %s:\n%s", path, log)
		}
		b := decodePNG(t, path).Bounds()
		if b.Dx() < min[0] || b.Dy() < min[1] || b.Dx() > 2000 || b.Dy() > 2000 {
			t.Errorf("%s is %dx%d, want at least %dx%d and at most 2000x2000", name, b.Dx(), b.Dy(), min[0], min[1])
		}
	}
	for _, want := range []string{"16 test images", "confusion matrix on 300 test images", "for sandal.png"} {
		if !strings.Contains(log, want) {
			t.Errorf("the output lacks %q:\n%s", want, log)
		}
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != len(files) {
		t.Errorf("%d files written, want %d", len(entries), len(files))
	}

	// A model without its trainer: no history, curves skipped and said so;
	// feature maps of the first test image.
	m, err := capa.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	bare := filepath.Join(dir, "bare.safetensors")
	if err := m.Save(bare, graph.WithoutOptimizer()); err != nil {
		t.Fatal(err)
	}
	out2 := filepath.Join(dir, "pics2")
	log = run(t, "visualize", "--model", bare, "--out", out2, "--limit", "100")
	if !strings.Contains(log, "curves.png skipped") || !strings.Contains(log, "test image 0 (Ankle boot)") {
		t.Errorf("visualize of a bare model:\n%s", log)
	}
	if _, err := os.Stat(filepath.Join(out2, "curves.png")); !os.IsNotExist(err) {
		t.Errorf("curves.png written for a model without history: %v", err)
	}
	if b := decodePNG(t, filepath.Join(out2, "samples.png")).Bounds(); b.Dy() < 4*112 {
		t.Errorf("32 samples in a %v picture", b)
	}
}

func TestVisualizeErrors(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.png")
	os.WriteFile(junk, []byte("not an image"), 0o644)
	model := filepath.Join(dir, "m.safetensors")
	m, err := capa.PracticalCNN(0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Save(model); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"visualize"}, []string{"--model FILE is required"}},
		{[]string{"visualize", "--model", filepath.Join(dir, "missing.safetensors")}, []string{"missing.safetensors"}},
		{[]string{"visualize", "--model", model, "--image", junk, "--out", filepath.Join(dir, "o")}, []string{"junk.png", "not a PNG or JPEG"}},
		{[]string{"visualize", "--model", model, "--image", filepath.Join(dir, "nope.png")}, []string{"nope.png"}},
		{[]string{"visualize", "--model", model, "--samples", "0"}, []string{"--samples"}},
		{[]string{"visualize", "--model", model, "extra"}, []string{"unexpected argument"}},
	} {
		out, err := exec.Command(capaBin, c.args...).CombinedOutput()
		if err == nil {
			t.Errorf("capa %v succeeded:\n%s", c.args, out)
			continue
		}
		for _, w := range append([]string{"capa visualize"}, c.want...) {
			if !strings.Contains(string(out), w) {
				t.Errorf("capa %v: the error lacks %q:\n%s", c.args, w, out)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "o")); !os.IsNotExist(err) {
		t.Errorf("a bad image still created the output directory: %v", err)
	}
}
