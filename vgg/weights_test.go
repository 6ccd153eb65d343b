package vgg

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capa-ml/capa/internal/fulltest"
)

// golden is vgg/testdata/golden.json, written by scripts/make_vgg_golden.py
// with PyTorch's forward pass on the weights of the files beside it.
type golden struct {
	Widths  []int `json:"widths"`
	FCUnits int   `json:"fc_units"`
	Classes int   `json:"classes"`
	Base    struct {
		Size     int       `json:"size"`
		N        int       `json:"n"`
		Features []float64 `json:"features"`
	} `json:"base"`
	Top struct {
		N            int       `json:"n"`
		Probs        []float64 `json:"probs"`
		FeaturesNorm float64   `json:"features_norm"`
		FeaturesHead []float64 `json:"features_head"`
	} `json:"top"`
	Files map[string]string `json:"files"`
}

func loadGolden(t *testing.T, dir string) golden {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// testImage is the script's image(): NHWC in [0, 1], Keras-preprocessed.
func testImage(n, h, w int) []float32 {
	x := make([]float32, n*h*w*3)
	for i := range x {
		x[i] = float32(0.5 + 0.5*math.Sin(0.37*float64(i)+0.11*float64(i/3)))
	}
	PreprocessCaffe(x, x)
	return x
}

func relErr(got []float32, want []float64) float64 {
	var d, n float64
	for i := range want {
		e := float64(got[i]) - want[i]
		d += e * e
		n += want[i] * want[i]
	}
	return math.Sqrt(d / n)
}

func (g golden) config(top bool, size int) Config {
	var f [5]int
	copy(f[:], g.Widths)
	return Config{IncludeTop: top, Height: size, Width: size, Filters: f, FCUnits: g.FCUnits, Classes: g.Classes}
}

// checkFile loads one file into the base (and, for files with the top, the
// full model) and compares the outputs with PyTorch's.
func checkFile(t *testing.T, dir string, g golden, file, kind string) {
	base, err := VGG16(g.config(false, g.Base.Size))
	if err != nil {
		t.Fatal(err)
	}
	src, err := LoadWeights(base, filepath.Join(dir, file))
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if want := map[bool]Source{true: Keras, false: Torchvision}[strings.HasPrefix(kind, "keras")]; src != want {
		t.Errorf("%s: source %v, want %v", file, src, want)
	}
	f, err := base.Predict(testImage(g.Base.N, g.Base.Size, g.Base.Size), 2)
	if err != nil {
		t.Fatal(err)
	}
	if e := relErr(f, g.Base.Features); e > 1e-4 {
		t.Errorf("%s: base features at %dx%d: relative error %.3g", file, g.Base.Size, g.Base.Size, e)
	}
	if !strings.HasSuffix(kind, " top") {
		return
	}
	full, err := VGG16(g.config(true, 224))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadWeights(full, filepath.Join(dir, file)); err != nil {
		t.Fatalf("%s (full model): %v", file, err)
	}
	x := testImage(g.Top.N, 224, 224)
	p, err := full.Predict(x, 1)
	if err != nil {
		t.Fatal(err)
	}
	if e := relErr(p, g.Top.Probs); e > 1e-4 {
		t.Errorf("%s: predictions: relative error %.3g", file, e)
	}
	base224, _ := VGG16(g.config(false, 224))
	if _, err := LoadWeights(base224, filepath.Join(dir, file)); err != nil {
		t.Fatal(err)
	}
	f224, _ := base224.Predict(x, 1)
	var norm float64
	for _, v := range f224 {
		norm += float64(v) * float64(v)
	}
	if e := math.Abs(math.Sqrt(norm)-g.Top.FeaturesNorm) / g.Top.FeaturesNorm; e > 1e-4 {
		t.Errorf("%s: 224x224 feature norm %v, want %v", file, math.Sqrt(norm), g.Top.FeaturesNorm)
	}
	if e := relErr(f224, g.Top.FeaturesHead); e > 1e-4 {
		t.Errorf("%s: 224x224 features: relative error %.3g", file, e)
	}
}

func TestLoadWeightsAgainstPyTorch(t *testing.T) {
	dir := "testdata"
	g := loadGolden(t, dir)
	if len(g.Files) < 5 {
		t.Fatalf("golden lists %d files", len(g.Files))
	}
	for file, kind := range g.Files {
		t.Run(file, func(t *testing.T) { checkFile(t, dir, g, file, kind) })
	}
}

// TestLoadWeightsFull checks full-size VGG16 files written by
// `scripts/make_vgg_golden.py --full DIR` (about 3 GB in all): in
// CAPA_VGG_FULL=DIR, or under go test -tags full in the user cache
// (written there first if absent; needs python3-torch).
func TestLoadWeightsFull(t *testing.T) {
	dir := fulltest.Generated(t, "CAPA_VGG_FULL", "vgg16-full", "../scripts/make_vgg_golden.py", "--full")
	g := loadGolden(t, dir)
	for file, kind := range g.Files {
		t.Run(file, func(t *testing.T) { checkFile(t, dir, g, file, kind) })
	}
}

func TestLoadWeightsErrors(t *testing.T) {
	dir := t.TempDir()
	g := loadGolden(t, "testdata")
	// Wrong widths: the error names the layer and the shapes.
	wrong := g.config(false, 32)
	wrong.Filters[2] = 6
	m, _ := VGG16(wrong)
	for file := range g.Files {
		_, err := LoadWeights(m, filepath.Join("testdata", file))
		if !errors.Is(err, ErrWeights) || !strings.Contains(err.Error(), "block") {
			t.Errorf("%s into a model of other widths: %v", file, err)
		}
	}
	// A base file cannot fill a model with the top.
	full, _ := VGG16(g.config(true, 224))
	if _, err := LoadWeights(full, filepath.Join("testdata", "mini_notop_keras1.h5")); err == nil || !strings.Contains(err.Error(), "fc1") {
		t.Errorf("notop file into a full model: %v", err)
	}
	// Not a weight file; truncated files.
	junk := filepath.Join(dir, "junk.h5")
	os.WriteFile(junk, []byte("this is not a weight file"), 0o644)
	base, _ := VGG16(g.config(false, 32))
	if _, err := LoadWeights(base, junk); !errors.Is(err, ErrWeights) {
		t.Errorf("junk: %v", err)
	}
	for file := range g.Files {
		b, _ := os.ReadFile(filepath.Join("testdata", file))
		cut := filepath.Join(dir, "cut-"+file)
		os.WriteFile(cut, b[:len(b)*2/3], 0o644)
		if _, err := LoadWeights(base, cut); err == nil {
			t.Errorf("%s truncated: no error", file)
		}
	}
}
