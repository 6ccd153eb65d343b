package transfer

import (
	"io"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/train"
)

// tinyBase is a two-block convolutional base named like VGG's.
func tinyBase(t *testing.T) *graph.Model {
	t.Helper()
	conv := func(name string, f int) graph.Layer {
		return &graph.Conv2D{Base: graph.Base{Name: name}, Filters: f, KernelSize: [2]int{3, 3}, Padding: "same", Activation: "relu"}
	}
	m, err := graph.SequentialSeed(5, graph.Input(8, 8, 3),
		conv("block1_conv1", 4), &graph.MaxPooling2D{Base: graph.Base{Name: "block1_pool"}},
		conv("block2_conv1", 6), &graph.MaxPooling2D{Base: graph.Base{Name: "block2_pool"}})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func data(n, in, classes int) graph.Data {
	rng := rand.New(rand.NewPCG(3, 4))
	d := graph.Data{X: make([]float32, n*in), Y: make([]float32, n), N: n}
	for i := 0; i < n; i++ {
		c := rng.IntN(classes)
		d.Y[i] = float32(c)
		for j := 0; j < in; j++ {
			d.X[i*in+j] = float32(rng.Float64()) + float32(c)*float32(j%3)*0.3
		}
	}
	return d
}

func snapshot(m *graph.Model) map[string][]float32 {
	out := map[string][]float32{}
	for _, p := range m.Params() {
		out[p.Name] = append([]float32(nil), p.Data()...)
	}
	return out
}

func same(a, b []float32) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

func TestFeatureExtractionCombineFineTune(t *testing.T) {
	base := tinyBase(t)
	d := data(40, base.InputShape().Size(), 3)
	feats, err := Features(base, d.X, 16, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(feats) != 40*base.OutputShape().Size() {
		t.Fatalf("%d feature values", len(feats))
	}
	direct, _ := base.Predict(d.X, 40)
	if !same(feats, direct) {
		t.Error("features in batches differ from one batch")
	}
	head, err := HeadModel(base.OutputShape(), Head{Units: []int{8}, Dropout: 0.2, Classes: 3}, 7)
	if err != nil {
		t.Fatal(err)
	}
	ht := head
	ht.Compile(&train.Adam{LearningRate: 0.01}, train.SparseCategoricalCrossentropy{})
	if _, err := ht.Fit(graph.Data{X: feats, Y: d.Y, N: d.N}, graph.FitOptions{Epochs: 3, BatchSize: 8, Progress: io.Discard}); err != nil {
		t.Fatal(err)
	}

	m, err := Combine(base, head)
	if err != nil {
		t.Fatal(err)
	}
	tr, non := m.CountParams()
	btr, bnon := base.CountParams()
	htr, _ := head.CountParams()
	if non != btr+bnon || tr != htr {
		t.Errorf("combined: %d trainable, %d non-trainable; want %d and %d", tr, non, htr, btr+bnon)
	}
	if s := m.Summary(); !strings.Contains(s, "Non-trainable params: "+commas(btr+bnon)) {
		t.Errorf("summary:\n%s", s)
	}
	// The combined model computes the head on the base's features.
	hp, _ := head.Predict(feats, 40)
	cp, _ := m.Predict(d.X, 40)
	for i := range hp {
		if d := hp[i] - cp[i]; d > 1e-5 || d < -1e-5 {
			t.Fatalf("combined prediction %d: %v, head on features %v", i, cp[i], hp[i])
		}
	}

	// It is the nested model, base and head used as layers, flattened.
	x := graph.NewInput(base.InputShape()...)
	nested, err := graph.Functional([]*graph.Tensor{x}, []*graph.Tensor{graph.Apply(graph.AsLayer(head), graph.Apply(graph.AsLayer(base), x))})
	if err != nil {
		t.Fatal(err)
	}
	if np, _ := nested.Predict(d.X, 40); !same(np, cp) {
		t.Error("the combined model and the nested one differ")
	}

	// Training the combined model leaves the frozen base bit-identical.
	before := snapshot(m)
	ct := m
	ct.Compile(&train.Adam{LearningRate: 0.01}, train.SparseCategoricalCrossentropy{})
	if _, err := ct.Fit(d, graph.FitOptions{Epochs: 2, BatchSize: 8, Progress: io.Discard}); err != nil {
		t.Fatal(err)
	}
	after := snapshot(m)
	for _, p := range m.Params() {
		frozen := strings.HasPrefix(p.Name, "block")
		if changed := !same(before[p.Name], after[p.Name]); frozen == changed {
			t.Errorf("%s: frozen %v, changed %v", p.Name, frozen, changed)
		}
	}

	// Fine-tuning the last block changes it and nothing before it.
	if err := UnfreezeFrom(m, "block2_conv1"); err != nil {
		t.Fatal(err)
	}
	before = snapshot(m)
	ft := m
	ft.Compile(&train.Adam{LearningRate: 1e-4}, train.SparseCategoricalCrossentropy{})
	if _, err := ft.Fit(d, graph.FitOptions{Epochs: 1, BatchSize: 8, Progress: io.Discard}); err != nil {
		t.Fatal(err)
	}
	after = snapshot(m)
	for _, p := range m.Params() {
		changed := !same(before[p.Name], after[p.Name])
		if strings.HasPrefix(p.Name, "block1") == changed {
			t.Errorf("fine-tuning: %s changed %v", p.Name, changed)
		}
	}

	// Save and Load keep the frozen flags and the weights.
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := ft.Save(path); err != nil {
		t.Fatal(err)
	}
	lm, err := graph.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := lm.Summary(), m.Summary(); a != b {
		t.Errorf("loaded summary differs:\n%s\n%s", a, b)
	}
	lp, _ := lm.Predict(d.X, 40)
	mp, _ := m.Predict(d.X, 40)
	if !same(lp, mp) {
		t.Error("loaded model predicts differently")
	}
	if err := UnfreezeFrom(m, "nope"); err == nil {
		t.Error("unknown layer accepted")
	}
}

func commas(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func TestHeadErrors(t *testing.T) {
	if _, err := (Head{Pooling: "max"}).Layers(); err == nil {
		t.Error("bad pooling accepted")
	}
	if _, err := (Head{Classes: 1}).Layers(); err == nil {
		t.Error("one softmax class accepted")
	}
	ls, _ := Head{Binary: true, Units: []int{}, Dropout: -1}.Layers()
	if len(ls) != 2 {
		t.Errorf("binary head without hidden layers: %d layers", len(ls))
	}
	if _, err := HeadModel(graph.Shape{4, 4, 2}, Head{Pooling: "avg"}, 1); err != nil {
		t.Error(err)
	}
	base := tinyBase(t)
	head, _ := HeadModel(graph.Shape{3}, Head{}, 1)
	if _, err := Combine(base, head); err == nil {
		t.Error("mismatched head accepted")
	}
}
