package graph

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/capa-ml/capa/internal/engine"
	G "gorgonia.org/gorgonia"
)

// The forward kernels of a convolution, as engine.ConvRun names them.
const (
	pathIm2col   = "im2col"
	pathStream   = "stream"
	pathWinograd = "winograd"
)

// convPaths returns the forward kernel each convolution of the graph ran
// last, in graph order.
func convPaths(gr *Graph) []string {
	var out []string
	for _, n := range gr.G.AllNodes() {
		if path, _, ok := engine.ConvRun(n); ok {
			out = append(out, path)
		}
	}
	return out
}

// winoTestModel has two 3x3 stride-1 convolutions with enough input
// channels for Winograd ("same" and "valid", odd sizes, channels not
// multiples of 8), one with 3 input channels (im2col) and one 3x3 with
// stride 2 (im2col).
func winoTestModel(t *testing.T) *Model {
	t.Helper()
	m, err := SequentialSeed(3,
		Input(13, 11, 3),
		&Conv2D{Filters: 17, KernelSize: [2]int{3, 3}, Padding: "same", Activation: "relu"},
		&Conv2D{Filters: 21, KernelSize: [2]int{3, 3}, Padding: "same", Activation: "relu"},
		&Conv2D{Filters: 19, KernelSize: [2]int{3, 3}, Activation: "relu"},
		&Conv2D{Filters: 6, KernelSize: [2]int{3, 3}, Strides: [2]int{2, 2}},
	)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func randInput(m *Model, batch int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, batch*m.InputShape().Size())
	for i := range x {
		x[i] = rng.Float32()
	}
	return x
}

func relDiff(a, b []float32) float64 {
	var d, n float64
	for i := range a {
		e := float64(a[i]) - float64(b[i])
		d += e * e
		n += float64(b[i]) * float64(b[i])
	}
	return math.Sqrt(d / n)
}

// TestConvolution2DWinogradInference checks that an inference graph runs
// its 3x3 stride-1 convolutions with enough channels through Winograd's
// algorithm, and the others through im2col, and that the output matches
// the im2col-only graph's.
func TestConvolution2DWinogradInference(t *testing.T) {
	defer SetWinograd(Engine().Winograd)
	m := winoTestModel(t)
	const batch = 3
	x := randInput(m, batch, 1)
	var outs [2][]float32
	for i, wino := range []bool{false, true} {
		SetWinograd(wino)
		gr, err := m.Graph(batch, false)
		if err != nil {
			t.Fatal(err)
		}
		r, err := NewRunner(gr)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Run(x); err != nil {
			t.Fatal(err)
		}
		outs[i] = append([]float32(nil), r.Output()...)
		want := []string{pathStream, pathStream, pathStream, pathStream}
		if wino {
			want = []string{pathStream, pathWinograd, pathWinograd, pathStream}
		}
		if got := convPaths(gr); !equalPaths(got, want) {
			t.Errorf("winograd %v: convolution kernels %v, want %v", wino, got, want)
		}
	}
	if d := relDiff(outs[1], outs[0]); !(d < 1e-6) {
		t.Errorf("Winograd's output differs from im2col's by %.3g (relative)", d)
	}
	// Predict's cached runner follows the setting from one call to the next.
	for i, wino := range []bool{false, true, false} {
		SetWinograd(wino)
		p, err := m.Predict(x, batch)
		if err != nil {
			t.Fatal(err)
		}
		want := outs[0]
		if wino {
			want = outs[1]
		}
		if d := relDiff(p, want); d != 0 {
			t.Errorf("Predict call %d (winograd %v) differs from the graph's output by %.3g (relative)", i, wino, d)
		}
	}
}

// TestConvolution2DWinogradTraining checks a training graph: a layer whose
// kernel gets a gradient keeps the im2col matrix for it, while frozen
// layers before the first trainable one, whose convolutions are not
// differentiated at all, run Winograd's algorithm.
func TestConvolution2DWinogradTraining(t *testing.T) {
	defer SetWinograd(Engine().Winograd)
	SetWinograd(true)
	m := winoTestModel(t)
	for _, l := range m.Layers()[:2] { // the first two convolutions
		l.(*Conv2D).SetTrainable(false)
	}
	const batch = 2
	gr, err := m.Graph(batch, true)
	if err != nil {
		t.Fatal(err)
	}
	loss := G.Must(G.Sum(G.Must(G.Square(gr.Out))))
	nodes, _ := gr.TrainableNodes(m)
	grads, err := G.Grad(loss, nodes...)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRunner(gr, append(G.Nodes{loss}, grads...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(randInput(m, batch, 2)); err != nil {
		t.Fatal(err)
	}
	want := []string{pathStream, pathWinograd, pathIm2col, pathIm2col}
	if got := convPaths(gr); !equalPaths(got, want) {
		t.Errorf("convolution kernels %v, want %v", got, want)
	}
}

func equalPaths(a, b []string) bool {
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

// TestWinogradReusesFiltersUntilWeightsChange checks that a second run on
// the same weights reuses the transformed filters and gives the same
// output, and that a weight changed in place between runs (as an optimizer
// or a user does) is seen: the filters are transformed again and the
// output matches the im2col convolution of the new weights.
func TestWinogradReusesFiltersUntilWeightsChange(t *testing.T) {
	defer SetWinograd(Engine().Winograd)
	SetWinograd(true)
	m := winoTestModel(t)
	const batch = 2
	x := randInput(m, batch, 5)
	gr, err := m.Graph(batch, false)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRunner(gr)
	if err != nil {
		t.Fatal(err)
	}
	reused := func() (n int) {
		for _, nd := range gr.G.AllNodes() {
			if path, reused, ok := engine.ConvRun(nd); ok && path == pathWinograd && reused {
				n++
			}
		}
		return n
	}
	run := func() []float32 {
		if err := r.Run(x); err != nil {
			t.Fatal(err)
		}
		return append([]float32(nil), r.Output()...)
	}
	first := run()
	if n := reused(); n != 0 {
		t.Fatalf("first run reused %d transforms", n)
	}
	second := run()
	if n := reused(); n != 2 {
		t.Errorf("second run reused %d transforms, want 2", n)
	}
	if relDiff(second, first) != 0 {
		t.Error("reusing the transformed filters changed the output")
	}
	k, err := m.Param("conv2d_1/kernel")
	if err != nil {
		t.Fatal(err)
	}
	k.Data()[7] += 0.5
	third := run()
	if n := reused(); n != 1 {
		t.Errorf("after a weight change %d transforms were reused, want 1 (the unchanged layer)", n)
	}
	SetWinograd(false)
	want, err := m.Predict(x, batch)
	if err != nil {
		t.Fatal(err)
	}
	if d := relDiff(third, want); d > 1e-5 || relDiff(third, first) == 0 {
		t.Errorf("after a weight change: relative difference %g from im2col (want < 1e-5), %g from before", d, relDiff(third, first))
	}
}
