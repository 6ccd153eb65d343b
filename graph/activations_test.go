package graph

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// A small model with every kind of node LayerOutputs meets: a fused
// bias+ReLU conv, a pooling, a Reshape view, a Dropout that is the
// identity in inference, a BatchNormalization and a softmax.
func loModel(t *testing.T) *Model {
	t.Helper()
	m, err := SequentialSeed(3,
		Input(7, 6, 2),
		&Conv2D{Filters: 3, KernelSize: [2]int{3, 3}, Activation: "relu"},
		&MaxPooling2D{PoolSize: [2]int{2, 2}},
		&Flatten{},
		&Dropout{Rate: 0.5},
		&BatchNormalization{},
		&Dense{Units: 4, Activation: "softmax"},
	)
	if err != nil {
		t.Fatal(err)
	}
	// A bias with both signs, so ReLU cuts where the bias matters.
	b, err := m.Param("conv2d/bias")
	if err != nil {
		t.Fatal(err)
	}
	copy(b.Data(), []float32{0.3, -0.2, 0.05})
	return m
}

func loInput(n, size int) []float32 {
	r := rand.New(rand.NewPCG(7, 8))
	x := make([]float32, n*size)
	for i := range x {
		x[i] = r.Float32()
	}
	return x
}

func TestLayerOutputs(t *testing.T) {
	m := loModel(t)
	n := layerOutputsBatch + 5 // a full batch and a partial one
	x := loInput(n, m.InputShape().Size())
	outs, err := m.LayerOutputs(x, n)
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != len(m.Layers()) {
		t.Fatalf("%d outputs for %d layers", len(outs), len(m.Layers()))
	}
	for i, o := range outs {
		if want := n * m.LayerOutputShape(i).Size(); len(o) != want {
			t.Errorf("layer %d (%s): %d values, want %d", i, NameOf(m.Layers()[i]), len(o), want)
		}
	}

	// The conv layer: relu(conv(x) + bias), against the naive reference.
	k, _ := m.Param("conv2d/kernel")
	b, _ := m.Param("conv2d/bias")
	conv := naiveConv2D(x, k.Data(), []int{n, 7, 6, 2}, k.Shape(), [2]int{1, 1}, [4]int{})
	for i := range conv {
		conv[i] = math.Max(0, conv[i]+float64(b.Data()[i%3]))
	}
	kopAssertNear(t, "conv2d output", outs[0], conv, 1e-5)
	zeros := 0
	for _, v := range outs[0] {
		if v == 0 {
			zeros++
		}
	}
	if zeros == 0 || zeros == len(outs[0]) {
		t.Errorf("conv2d output has %d zeros of %d: the ReLU is not exercised", zeros, len(outs[0]))
	}

	// The pooling of that output, the flattening (same values) and the
	// inference-mode Dropout (identity).
	pool := naivePool2D(outs[0], []int{n, 5, 4, 3}, true, [2]int{2, 2}, [2]int{2, 2}, [4]int{})
	kopAssertNear(t, "max_pooling2d output", outs[1], pool, 0)
	kopAssertNear(t, "flatten output", outs[2], pool, 0)
	kopAssertNear(t, "dropout output", outs[3], pool, 0)

	// The last output is Predict's.
	pred, err := m.Predict(x, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float64, len(pred))
	for i, v := range pred {
		want[i] = float64(v)
	}
	kopAssertNear(t, "last output vs Predict", outs[len(outs)-1], want, 1e-6)

	// Sample by sample gives the same values (batches do not mix).
	one, err := m.LayerOutputs(x[5*m.InputShape().Size():6*m.InputShape().Size()], 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := range one {
		sz := m.LayerOutputShape(i).Size()
		got := make([]float64, sz)
		for j, v := range outs[i][5*sz : 6*sz] {
			got[j] = float64(v)
		}
		kopAssertNear(t, "sample 5 alone, "+NameOf(m.Layers()[i]), one[i], got, 1e-6)
	}
}

func TestLayerOutputsErrors(t *testing.T) {
	m := loModel(t)
	size := m.InputShape().Size()
	_, err := m.LayerOutputs(make([]float32, 2*size+1), 2)
	kopWantErr(t, "odd length", err, "LayerOutputs", "169", "2 samples", "(None, 7, 6, 2)", "want 168")
	_, err = m.LayerOutputs(make([]float32, 3*size), 2)
	kopWantErr(t, "length for 3 samples", err, "LayerOutputs", "2 samples")
	_, err = m.LayerOutputs(nil, -1)
	kopWantErr(t, "negative n", err, "LayerOutputs", "-1")
	_, err = (&Model{}).LayerOutputs(nil, 0)
	kopWantErr(t, "no input", err, "no Input")

	outs, err := m.LayerOutputs(nil, 0)
	if err != nil || len(outs) != len(m.Layers()) {
		t.Fatalf("n = 0: %v, %d outputs", err, len(outs))
	}
	for i, o := range outs {
		if len(o) != 0 {
			t.Errorf("n = 0: layer %d has %d values", i, len(o))
		}
	}
}

func TestLayerIndex(t *testing.T) {
	m := loModel(t)
	for i, l := range m.Layers() {
		if j, err := m.LayerIndex(NameOf(l)); err != nil || j != i {
			t.Errorf("LayerIndex(%q) = %d, %v; want %d", NameOf(l), j, err, i)
		}
	}
	_, err := m.LayerIndex("conv2d_7")
	kopWantErr(t, "unknown layer", err, `"conv2d_7"`, "max_pooling2d")
	if !strings.Contains(err.Error(), "dense") {
		t.Errorf("the error does not list the layers: %v", err)
	}
}

func TestGraphOutputs(t *testing.T) {
	m := loModel(t)
	gr, err := m.Graph(2, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(gr.Outputs) != len(m.Layers()) || gr.Outputs[len(gr.Outputs)-1] != gr.Out {
		t.Fatalf("Graph.Outputs has %d nodes for %d layers, last is Out: %v", len(gr.Outputs), len(m.Layers()), gr.Outputs[len(gr.Outputs)-1] == gr.Out)
	}
	// In inference the Dropout returns its input node.
	if gr.Outputs[3] != gr.Outputs[2] {
		t.Error("inference Dropout is not the identity node")
	}
	for i, nd := range gr.Outputs {
		want := append([]int{2}, m.LayerOutputShape(i)...)
		if got := []int(nd.Shape()); !equalInts(got, want) {
			t.Errorf("Outputs[%d] has shape %v, want %v", i, got, want)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
