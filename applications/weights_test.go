package applications

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capa-ml/capa/graph"
)

type torchGolden struct {
	Height, Width, Batch int
	Models               map[string]struct {
		File          string
		WidthDiv      int       `json:"width_div"`
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

// TestTorchvisionResNets loads reduced-width torchvision ResNets saved by
// torch.save (the published files' layout and key names) and checks the
// whole network's probabilities and the base's feature map against
// torchvision's own forward pass.
func TestTorchvisionResNets(t *testing.T) {
	g := readTorchGolden(t)
	builders := map[string]func(Config) (*graph.Model, error){"resnet18": TorchResNet18, "resnet50": TorchResNet50}
	for name, want := range g.Models {
		x := goldenInput(g.Batch * g.Height * g.Width * 3)
		for _, top := range []bool{true, false} {
			m, err := builders[name](Config{NoTop: !top, WidthDiv: want.WidthDiv, Classes: want.Classes, Height: g.Height, Width: g.Width})
			if err != nil {
				t.Fatal(err)
			}
			if err := LoadTorchvision(m, filepath.Join("testdata", want.File)); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			y, err := m.Predict(x, g.Batch)
			if err != nil {
				t.Fatal(err)
			}
			ref := want.Probs
			if !top {
				ref = want.Features
				if !m.OutputShape().Equal(want.FeaturesShape) {
					t.Fatalf("%s base: output %v, torchvision's %v", name, m.OutputShape(), want.FeaturesShape)
				}
			}
			if e := relErr(y, ref); !(e < 1e-4) {
				t.Errorf("%s (top %v): relative error %.3g against torchvision", name, top, e)
			} else {
				t.Logf("%s (top %v): relative error %.2g", name, top, e)
			}
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
