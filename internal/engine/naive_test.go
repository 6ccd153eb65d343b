package engine

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/capa-ml/capa/internal/naiveref"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

var (
	naiveConv2D = naiveref.Conv2D
	naivePool2D = naiveref.Pool2D
)

func naiveBiasAdd(x, b []float32) []float64 {
	out := make([]float64, len(x))
	for i := range x {
		out[i] = float64(x[i]) + float64(b[i%len(b)])
	}
	return out
}

// ---- shared test helpers ----

// kopRunForward builds out = build(inputs) in a new graph, runs it and returns
// the output's data and shape.
func kopRunForward(t *testing.T, build func(g *G.ExprGraph, in []*G.Node) (*G.Node, error), inputs ...*tensor.Dense) ([]float32, tensor.Shape) {
	t.Helper()
	g := G.NewGraph()
	nodes := make([]*G.Node, len(inputs))
	for i, v := range inputs {
		nodes[i] = G.NodeFromAny(g, v, G.WithName(string(rune('a'+i))))
	}
	out, err := build(g, nodes)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatalf("run: %v", err)
	}
	v := out.Value().(*tensor.Dense)
	return append([]float32(nil), v.Data().([]float32)...), v.Shape().Clone()
}

func kopAssertNear(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= tol*(1+math.Abs(want[i]))) {
			t.Fatalf("%s: [%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

func kopData(d *tensor.Dense) []float32 { return d.Data().([]float32) }

// distinct returns a tensor holding a random permutation of well-separated
// values (steps of 0.1), so that max pooling has no ties and the
// finite-difference steps of gradcheck never change a winner.
func kopDistinct(seed uint64, shape ...int) *tensor.Dense {
	t := tensor.New(tensor.WithShape(shape...), tensor.Of(tensor.Float32))
	d := kopData(t)
	rng := rand.New(rand.NewPCG(seed, 3))
	for i, j := range rng.Perm(len(d)) {
		d[i] = float32(j)*0.1 - float32(len(d))*0.05
	}
	return t
}

// kopWantErr fails unless err is non-nil and mentions every fragment.
func kopWantErr(t *testing.T, what string, err error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error", what)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Fatalf("%s: error %q does not mention %q", what, err, f)
		}
	}
}

// kopSamePad is Keras's "same" padding (top, bottom, left, right) of an (h, w)
// input, written out independently of kernels.Padding.
func kopSamePad(h, w, kh, kw int, strides [2]int) [4]int {
	one := func(in, k, s int) (int, int) {
		out := (in + s - 1) / s
		tot := max((out-1)*s+k-in, 0)
		return tot / 2, tot - tot/2
	}
	t, b := one(h, kh, strides[0])
	l, r := one(w, kw, strides[1])
	return [4]int{t, b, l, r}
}
