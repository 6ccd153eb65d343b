package applications

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/internal/fulltest"
)

type torchGolden struct {
	Height, Width, Batch int
	Models               map[string]struct {
		File          string
		WidthDiv      int       `json:"width_div"`
		Alpha         float64   `json:"alpha"`
		Classes       int       `json:"classes"`
		Probs         []float32 `json:"probs"`
		FeaturesShape []int     `json:"features_shape"`
		Features      []float32 `json:"features"`
	}
}

func readTorchGolden(t *testing.T) torchGolden {
	t.Helper()
	b, err := os.ReadFile("testdata/torchvision_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g torchGolden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// goldenInput is scripts/applications_golden.py's input: sin(0.37 i) at
// NHWC index i.
func goldenInput(n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(math.Sin(0.37 * float64(i)))
	}
	return x
}

// relErr is |a-b| / |b| over the whole vectors.
func relErr(a, b []float32) float64 {
	var d, n float64
	for i := range a {
		d += float64(a[i]-b[i]) * float64(a[i]-b[i])
		n += float64(b[i]) * float64(b[i])
	}
	return math.Sqrt(d / n)
}

// checkOutputs loads path into m with load and compares m's outputs on x
// with the reference: the probabilities with the top, the base's features
// without.
func checkOutputs(t *testing.T, what string, m *graph.Model, load func(*graph.Model, string) error, path string, x []float32, batch int, top bool, probs, feats []float32) {
	t.Helper()
	if err := load(m, path); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	y, err := m.Predict(x, batch)
	if err != nil {
		t.Fatal(err)
	}
	ref := probs
	if !top {
		ref = feats
	}
	if e := relErr(y, ref); !(e < 1e-4) {
		t.Errorf("%s (top %v): relative error %.3g against the reference", what, top, e)
	} else {
		t.Logf("%s (top %v): relative error %.2g", what, top, e)
	}
}

// TestTorchvisionModels loads reduced-width torchvision ResNets and
// MobileNetV2 (width_mult 0.25) saved by
// torch.save (the published files' layout and key names) and checks the
// whole network's probabilities and the base's feature map against
// torchvision's own forward pass.
func TestTorchvisionModels(t *testing.T) {
	g := readTorchGolden(t)
	builders := map[string]func(Config) (*graph.Model, error){"resnet18": TorchResNet18, "resnet34": TorchResNet34, "resnet50": TorchResNet50, "mobilenet_v2": TorchMobileNetV2}
	for name, build := range builders {
		want := g.Models[name]
		x := goldenInput(g.Batch * g.Height * g.Width * 3)
		for _, top := range []bool{true, false} {
			m, err := build(Config{NoTop: !top, WidthDiv: want.WidthDiv, Alpha: want.Alpha, Classes: want.Classes, Height: g.Height, Width: g.Width})
			if err != nil {
				t.Fatal(err)
			}
			if !top && !m.OutputShape().Equal(want.FeaturesShape) {
				t.Fatalf("%s base: output %v, torchvision's %v", name, m.OutputShape(), want.FeaturesShape)
			}
			checkOutputs(t, name, m, LoadTorchvision, filepath.Join("testdata", want.File), x, g.Batch, top, want.Probs, want.Features)
		}
	}
}

// TestTorchvisionMismatch: a file for another architecture is refused,
// naming the tensor.
func TestTorchvisionMismatch(t *testing.T) {
	m, err := TorchResNet18(Config{WidthDiv: 8, Classes: 10, Height: 64, Width: 64}) // twice the file's widths
	if err != nil {
		t.Fatal(err)
	}
	err = LoadTorchvision(m, "testdata/resnet18_mini.pth")
	if !errors.Is(err, ErrWeights) || !strings.Contains(err.Error(), "conv1.weight") {
		t.Errorf("wrong widths: %v", err)
	}
	m50, _ := TorchResNet50(Config{WidthDiv: 16, Classes: 10, Height: 64, Width: 64})
	if err := LoadTorchvision(m50, "testdata/resnet18_mini.pth"); !errors.Is(err, ErrWeights) {
		t.Errorf("resnet18 file into resnet50: %v", err)
	}
	if err := LoadTorchvision(m, "testdata/missing.pth"); err == nil || !strings.Contains(err.Error(), "missing.pth") {
		t.Errorf("missing file: %v", err)
	}
}

// kerasMinis are the reduced Keras models whose architectures
// scripts/applications_golden.py reads (testdata/*.spec.json) to build the
// reference, in PyTorch with Keras's semantics, and the .h5 files.
var kerasMinis = map[string]func(top bool) (*graph.Model, error){
	"keras_resnet50": func(top bool) (*graph.Model, error) {
		return KerasResNet50(Config{NoTop: !top, WidthDiv: 32, Classes: 10, Height: 64, Width: 64})
	},
	"keras_mobilenet_v2": func(top bool) (*graph.Model, error) {
		return KerasMobileNetV2(Config{NoTop: !top, WidthDiv: 8, Classes: 10, Height: 64, Width: 64})
	},
}

// TestKerasSpecs: the committed architectures the reference was built
// from are the builders' (CAPA_WRITE_SPECS=1 rewrites them).
func TestKerasSpecs(t *testing.T) {
	for name, build := range kerasMinis {
		for _, top := range []bool{true, false} {
			m, err := build(top)
			if err != nil {
				t.Fatal(err)
			}
			s, err := m.Spec()
			if err != nil {
				t.Fatal(err)
			}
			js, _ := json.Marshal(s)
			path := filepath.Join("testdata", fmt.Sprintf("%s_mini_top%v.spec.json", name, top))
			if os.Getenv("CAPA_WRITE_SPECS") == "1" {
				if err := os.WriteFile(path, js, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			old, err := os.ReadFile(path)
			if err != nil || string(old) != string(js) {
				t.Errorf("%s differs from the builder's architecture (%v): rerun with CAPA_WRITE_SPECS=1, then scripts/applications_golden.py", path, err)
			}
		}
	}
}

// TestKerasApplications loads reduced Keras-layout .h5 files into the
// Keras families and checks probabilities and base features against the
// PyTorch reference of Keras's semantics (scripts/golden.py's interpreter
// of the same architecture, same random weights).
func TestKerasApplications(t *testing.T) {
	g := readTorchGolden(t)
	for name, build := range kerasMinis {
		want, ok := g.Models[name]
		if !ok {
			t.Fatalf("no reference for %s", name)
		}
		x := goldenInput(g.Batch * g.Height * g.Width * 3)
		for _, top := range []bool{true, false} {
			m, err := build(top)
			if err != nil {
				t.Fatal(err)
			}
			checkOutputs(t, name, m, LoadKeras, filepath.Join("testdata", want.File), x, g.Batch, top, want.Probs, want.Features)
		}
	}
	// A file for another model is refused.
	m, _ := kerasMinis["keras_resnet50"](true)
	if err := LoadKeras(m, filepath.Join("testdata", g.Models["keras_mobilenet_v2"].File)); !errors.Is(err, ErrWeights) {
		t.Errorf("MobileNetV2's file into ResNet50: %v", err)
	}
}

// TestFullSize runs the same checks on the full-size networks with random
// weights written by scripts/applications_golden.py --full (on request:
// CAPA_APPS_FULL=DIR, or go test -tags full, which writes them into the
// user cache first): every family and file layout against torchvision's
// own models and the Keras-semantics reference, probabilities and base
// features, at 224x224.
func TestFullSize(t *testing.T) {
	if os.Getenv("CAPA_APPS_FULL") == "" && !fulltest.Enabled {
		t.Skip("full-size networks: set CAPA_APPS_FULL or run with go test -tags full")
	}
	specs := t.TempDir()
	full := map[string]func(bool) (*graph.Model, error){
		"keras_resnet50":     func(top bool) (*graph.Model, error) { return KerasResNet50(Config{NoTop: !top}) },
		"keras_mobilenet_v2": func(top bool) (*graph.Model, error) { return KerasMobileNetV2(Config{NoTop: !top}) },
	}
	for name, build := range full {
		for _, top := range []bool{true, false} {
			m, err := build(top)
			if err != nil {
				t.Fatal(err)
			}
			s, err := m.Spec()
			if err != nil {
				t.Fatal(err)
			}
			js, _ := json.Marshal(s)
			if err := os.WriteFile(filepath.Join(specs, fmt.Sprintf("%s_top%v.spec.json", name, top)), js, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	dir := fulltest.Generated(t, "CAPA_APPS_FULL", "applications-full", "../scripts/applications_golden.py", "--full", "--specs", specs)
	b, err := os.ReadFile(filepath.Join(dir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g torchGolden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	torch := map[string]func(Config) (*graph.Model, error){"resnet18": TorchResNet18, "resnet50": TorchResNet50, "mobilenet_v2": TorchMobileNetV2}
	x := goldenInput(g.Batch * g.Height * g.Width * 3)
	for name, want := range g.Models {
		for _, top := range []bool{true, false} {
			var m *graph.Model
			var load func(*graph.Model, string) error
			if b, ok := torch[name]; ok {
				m, err = b(Config{NoTop: !top})
				load = LoadTorchvision
			} else {
				m, err = full[name](top)
				load = LoadKeras
			}
			if err != nil {
				t.Fatal(err)
			}
			checkOutputs(t, name+" full size", m, load, filepath.Join(dir, want.File), x, g.Batch, top, want.Probs, want.Features)
		}
	}
}
