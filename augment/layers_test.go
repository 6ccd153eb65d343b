package augment_test

import (
	"encoding/json"
	"io"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/capa-ml/capa/augment"
	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/train"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

var _ graph.BatchTransform = (*augment.Pipeline)(nil)

// tinyData is n random 8x8x1 images with labels 0..2.
func tinyData(n int) graph.Data {
	r := rand.New(rand.NewPCG(4, 5))
	d := graph.Data{X: make([]float32, n*64), Y: make([]float32, n), N: n}
	for i := range d.X {
		d.X[i] = r.Float32()
	}
	for i := range d.Y {
		d.Y[i] = float32(i % 3)
	}
	return d
}

func augLayers() []graph.Layer {
	zw := augment.Sym(0.05)
	return []graph.Layer{
		&augment.RandomFlip{Mode: "horizontal"},
		&augment.RandomRotation{Factor: augment.Sym(0.05)},
		&augment.RandomTranslation{HeightFactor: augment.Sym(0.1), WidthFactor: augment.Sym(0.1)},
		&augment.RandomZoom{HeightFactor: augment.Sym(0.1), WidthFactor: &zw},
		&augment.RandomContrast{Factor: augment.ContrastFactor{0.2, 0.2}},
		&augment.RandomBrightness{Factor: augment.Sym(0.1)},
	}
}

func tinyModel(t *testing.T, first ...graph.Layer) *graph.Model {
	t.Helper()
	layers := append([]graph.Layer{graph.Input(8, 8, 1)}, first...)
	layers = append(layers,
		&graph.Conv2D{Filters: 2, KernelSize: [2]int{3, 3}, Activation: "relu"},
		&graph.Flatten{},
		&graph.Dense{Units: 3, Activation: "softmax"},
	)
	m, err := graph.SequentialSeed(2, layers...)
	if err != nil {
		t.Fatal(err)
	}
	tr := m
	err = tr.Compile(&train.Adam{LearningRate: 1e-2}, train.SparseCategoricalCrossentropy{})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// A model whose first layers augment trains (their op needs no gradient),
// saves and loads with its layers' configuration and random state, and a
// loaded checkpoint continues exactly as the original run.
func TestLayersTrainSaveLoad(t *testing.T) {
	tr := tinyModel(t, augLayers()...)
	d := tinyData(48)
	opts := graph.FitOptions{Epochs: 1, BatchSize: 16, Progress: io.Discard}
	if _, err := tr.Fit(d, opts); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "aug.safetensors")
	if err := tr.Save(path); err != nil {
		t.Fatal(err)
	}
	h1, err := tr.Fit(d, opts)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := graph.Load(path)
	tr2 := m2
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range tr.Layers() {
		l2 := m2.Layers()[i]
		if reflect.TypeOf(l) != reflect.TypeOf(l2) {
			t.Fatalf("layer %d: %T loaded as %T", i, l, l2)
		}
		s1, _ := graph.Spec(l)
		s2, _ := graph.Spec(l2)
		if string(s1.Config) != string(s2.Config) {
			t.Errorf("layer %d: config %s loaded as %s", i, s1.Config, s2.Config)
		}
	}
	h2, err := tr2.Fit(d, opts)
	if err != nil {
		t.Fatal(err)
	}
	if h1["loss"][1] != h2["loss"][1] {
		t.Errorf("the loaded checkpoint's epoch has loss %v, the original's %v", h2["loss"][1], h1["loss"][1])
	}
	// In inference the layers are the identity: Evaluate twice agrees.
	r1, err := tr2.Evaluate(d, 16)
	if err != nil {
		t.Fatal(err)
	}
	r2, _ := tr2.Evaluate(d, 16)
	if r1.Loss != r2.Loss {
		t.Errorf("Evaluate is not deterministic: %v, %v", r1.Loss, r2.Loss)
	}
}

// The layers are the identity in an inference graph and transform the batch
// in a training graph.
func TestLayersActOnlyInTraining(t *testing.T) {
	for _, l := range augLayers() {
		m, err := graph.Sequential(graph.Input(8, 8, 1), l)
		if err != nil {
			t.Fatal(err)
		}
		x := tinyData(16).X
		for _, training := range []bool{false, true} {
			gr, err := m.Graph(16, training)
			if err != nil {
				t.Fatal(err)
			}
			if !training {
				if gr.Out != gr.X {
					t.Errorf("%s: not the identity in inference", l.Class())
				}
				continue
			}
			r, err := graph.NewRunner(gr, gr.Out)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Run(x); err != nil {
				t.Fatal(err)
			}
			out := r.Output()
			if len(out) != len(x) {
				t.Fatalf("%s: %d outputs for %d inputs", l.Class(), len(out), len(x))
			}
			if slices.Equal(out, x) {
				t.Errorf("%s: changed nothing in training", l.Class())
			}
			r.Close()
		}
	}
}

// A layer after one with weights has no gradient to pass on: compiling the
// training step fails with an error naming it.
func TestLayerAfterWeightsFails(t *testing.T) {
	m, err := graph.Sequential(graph.Input(8, 8, 1),
		&graph.Conv2D{Filters: 1, KernelSize: [2]int{1, 1}},
		&augment.RandomFlip{},
		&graph.Flatten{}, &graph.Dense{Units: 3, Activation: "softmax"})
	if err != nil {
		t.Fatal(err)
	}
	tr := m
	tr.Compile(&train.SGD{LearningRate: 0.1}, train.SparseCategoricalCrossentropy{})
	_, err = tr.Fit(tinyData(8), graph.FitOptions{BatchSize: 8, Progress: io.Discard})
	if err == nil || !strings.Contains(err.Error(), `"random_flip" (RandomFlip) has no gradient`) {
		t.Errorf("error %v, want one naming random_flip", err)
	}
}

func TestLayerConfigs(t *testing.T) {
	for _, tc := range []struct{ class, config, err string }{
		{"RandomRotation", `{"factor": 0.1, "fill_mode": "wrap", "interpolation": "nearest", "seed": 3}`, ""},
		{"RandomRotation", `{"factor": [-0.1, 0.2]}`, ""},
		{"RandomZoom", `{"height_factor": [-0.2, 0.1], "width_factor": null}`, ""},
		{"RandomContrast", `{"factor": 0.3}`, ""},
		{"RandomBrightness", `{"factor": 0.2, "value_range": [0, 255]}`, ""},
		{"RandomFlip", `{"mode": "vertical"}`, ""},
		{"RandomFlip", `{"mode": "diagonal"}`, "flip mode"},
		{"RandomRotation", `{"factor": 0.1, "fill_mode": "mirror"}`, "fill mode"},
		{"RandomTranslation", `{"height_factor": 0.1, "width_factor": 0.1, "interpolation": "cubic"}`, "interpolation"},
		{"RandomContrast", `{"factor": [-0.1, 0.2]}`, "must not be negative"},
		{"RandomBrightness", `{"factor": 1.5}`, "factor must be within"},
		{"RandomZoom", `{"height_factor": [-1.5, 0]}`, "> -1"},
	} {
		// A bad configuration is refused when parsed (FromSpec validates).
		l, err := graph.FromSpec(graph.LayerSpec{Class: tc.class, Config: json.RawMessage(tc.config)})
		if err == nil {
			_, err = graph.Sequential(graph.Input(6, 6, 3), l)
		} else if tc.err == "" {
			t.Fatalf("%s %s: %v", tc.class, tc.config, err)
		}
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s %s: error %v, want %q", tc.class, tc.config, err, tc.err)
		}
	}
	l, _ := graph.FromSpec(graph.LayerSpec{Class: "RandomContrast", Config: json.RawMessage(`{"factor": 0.3}`)})
	if f := l.(*augment.RandomContrast).Factor; f != (augment.ContrastFactor{0.3, 0.3}) {
		t.Errorf("contrast factor 0.3 read as %v", f)
	}
	l, _ = graph.FromSpec(graph.LayerSpec{Class: "RandomRotation", Config: json.RawMessage(`{"factor": 0.1}`)})
	if f := l.(*augment.RandomRotation).Factor; f != augment.Sym(0.1) {
		t.Errorf("rotation factor 0.1 read as %v", f)
	}
	if _, err := graph.Sequential(graph.Input(10), &augment.RandomFlip{}); err == nil {
		t.Error("RandomFlip on vectors: no error")
	}
}

// The op works on a bare Gorgonia graph too, through a TapeMachine.
func TestLayerOpTapeMachine(t *testing.T) {
	m, err := graph.Sequential(graph.Input(4, 4, 1), &augment.RandomFlip{Mode: "horizontal", Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	l := m.Layers()[0]
	g := G.NewGraph()
	xt := tensor.New(tensor.WithShape(64, 4, 4, 1), tensor.WithBacking(tinyData(64).X[:64*16]))
	x := G.NodeFromAny(g, xt, G.WithName("x"))
	y, err := l.Call(graph.NewCtx(g, true), x)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	out := y.Value().Data().([]float32)
	in := xt.Data().([]float32)
	flipped := 0
	for i := 0; i < 64; i++ {
		a, b := in[i*16:(i+1)*16], out[i*16:(i+1)*16]
		if !slices.Equal(a, b) {
			flipped++
			if b[0] != a[3] || b[15] != a[12] {
				t.Fatalf("image %d is not a horizontal flip", i)
			}
		}
	}
	if flipped < 20 || flipped > 44 {
		t.Errorf("%d of 64 images flipped", flipped)
	}
}
