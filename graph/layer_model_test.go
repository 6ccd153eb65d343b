package graph_test

import (
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/train"
)

// mtNested is a Functional model with a Sequential model and a two-input
// Functional model used as layers.
func mtNested(t *testing.T) (outer, base *graph.Model) {
	t.Helper()
	base, err := graph.SequentialSeed(5, graph.Input(6, 6, 1),
		&graph.Conv2D{Base: graph.Base{Name: "base_conv"}, Filters: 3, KernelSize: [2]int{3, 3}, Activation: "relu"},
		&graph.BatchNormalization{Base: graph.Base{Name: "base_bn"}},
		&graph.Dropout{Base: graph.Base{Name: "base_drop"}, Rate: 0.2})
	if err != nil {
		t.Fatal(err)
	}
	base.Name = "base"
	a, b := graph.NamedInput("pair_a", 4, 4, 3), graph.NamedInput("pair_b", 4, 4, 3)
	sum := graph.Apply(&graph.Add{Base: graph.Base{Name: "pair_add"}}, graph.Apply(&graph.Conv2D{Base: graph.Base{Name: "pair_conv"}, Filters: 3, KernelSize: [2]int{1, 1}}, a), b)
	pair, err := graph.FunctionalSeed(6, []*graph.Tensor{a, b}, []*graph.Tensor{sum})
	if err != nil {
		t.Fatal(err)
	}
	pair.Name = "pair"
	x := graph.NewInput(6, 6, 1)
	f := graph.Apply(graph.AsLayer(base), x)
	y := graph.Apply(graph.AsLayer(pair), f, f)
	y = graph.Apply(&graph.Flatten{}, y)
	y = graph.Apply(&graph.Dense{Units: 3, Activation: "softmax"}, y)
	outer, err = graph.FunctionalSeed(7, []*graph.Tensor{x}, []*graph.Tensor{y})
	if err != nil {
		t.Fatal(err)
	}
	return outer, base
}

// TestModelAsLayer: a model used as a layer shares its weights with the
// model it wraps, computes what it computes, trains, freezes as a whole,
// and saves and loads (nested architecture, weights, random state) bit
// for bit.
func TestModelAsLayer(t *testing.T) {
	outer, base := mtNested(t)
	if got := len(outer.Params()); got != 4+2+2+2 {
		t.Errorf("%d weights, want the base's 6 (BatchNormalization's statistics included), pair's 2 and the dense's 2", got)
	}
	if p, _ := outer.Param("base_conv/kernel"); p != base.Params()[0] {
		t.Error("the nested layer does not share the base's kernel")
	}
	s := outer.Summary()
	for _, want := range []string{"base (Sequential)", "pair (Functional)", "base[0][0]"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
	// The nested base computes what the base computes.
	x := mtInputs(2, 36)
	want, err := base.Predict(x, 2)
	if err != nil {
		t.Fatal(err)
	}
	in := graph.NewInput(6, 6, 1)
	alone, err := graph.Functional([]*graph.Tensor{in}, []*graph.Tensor{graph.Apply(graph.AsLayer(base), in)})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := alone.Predict(x, 2); !slices.Equal(got, want) {
		t.Error("the base as a layer computes something else than the base")
	}
	// Training moves the nested weights; a frozen nested model keeps them.
	fit := func(m *graph.Model) {
		t.Helper()
		if err := m.Compile(train.NewAdam(), train.SparseCategoricalCrossentropy{}); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Fit(graph.Data{X: mtInputs(8, 36), Y: []float32{0, 1, 2, 0, 1, 2, 0, 1}, N: 8}, graph.FitOptions{BatchSize: 4, Progress: io.Discard}); err != nil {
			t.Fatal(err)
		}
	}
	k := append([]float32(nil), base.Params()[0].Data()...)
	fit(outer)
	if slices.Equal(k, base.Params()[0].Data()) {
		t.Error("training the outer model did not train the nested base")
	}
	path := filepath.Join(t.TempDir(), "nested.safetensors")
	if err := outer.Save(path); err != nil {
		t.Fatal(err)
	}
	back, err := graph.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	mtSameWeights(t, outer, back)
	y1, _ := outer.Predict(x, 2)
	y2, err := back.Predict(x, 2)
	if err != nil || !slices.Equal(y1, y2) {
		t.Errorf("reloaded model predicts differently (%v)", err)
	}
	if back.Summary() != outer.Summary() {
		t.Errorf("summary changed:\n%s\n%s", outer.Summary(), back.Summary())
	}
	// Freezing the nested layer freezes all of its weights.
	l, _ := back.Layer("base")
	l.(*graph.ModelLayer).SetTrainable(false)
	kb := append([]float32(nil), back.Params()[0].Data()...)
	fit(back)
	if !slices.Equal(kb, back.Params()[0].Data()) {
		t.Error("a frozen nested model was trained")
	}
	if tr, _ := back.CountParams(); tr != (3*3+3)+(4*4*3*3+3) {
		t.Errorf("%d trainable weights with the base frozen", tr)
	}
	// Errors: a weight name clash, a wrong input shape.
	x2 := graph.NewInput(6, 6, 1)
	c := graph.Apply(&graph.Conv2D{Base: graph.Base{Name: "base_conv"}, Filters: 1, KernelSize: [2]int{1, 1}}, x2)
	c = graph.Apply(&graph.Activation{Activation: "relu"}, c)
	_, otherBase := mtNested(t)
	if _, err := graph.Functional([]*graph.Tensor{x2}, []*graph.Tensor{graph.Apply(graph.AsLayer(otherBase), c)}); err == nil || !strings.Contains(err.Error(), "base_conv/kernel") {
		t.Errorf("weight name clash: %v", err)
	}
	x3 := graph.NewInput(5, 5, 1)
	if _, err := graph.Functional([]*graph.Tensor{x3}, []*graph.Tensor{graph.Apply(graph.AsLayer(base), x3)}); err == nil || !strings.Contains(err.Error(), "(None, 6, 6, 1)") {
		t.Errorf("wrong input shape: %v", err)
	}
}
