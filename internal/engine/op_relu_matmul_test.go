package engine

import (
	"strings"
	"testing"

	"github.com/capa-ml/capa/internal/gradcheck"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// awayFromZero returns values in ±[0.1, 1] so finite differences never
// cross ReLU's kink.
func awayFromZero(seed uint64, shape ...int) *tensor.Dense {
	t := gradcheck.Random(seed, -1, 1, shape...)
	d := t.Data().([]float32)
	for i, v := range d {
		if v > -0.1 && v < 0.1 {
			d[i] = 0.1 + v
		}
	}
	return t
}

func TestReluForwardAndGradient(t *testing.T) {
	x := awayFromZero(3, 2, 3, 4, 2)
	g := G.NewGraph()
	n := G.NodeFromAny(g, x)
	y := G.Must(Relu(n))
	if err := G.NewTapeMachine(g).RunAll(); err != nil {
		t.Fatal(err)
	}
	for i, v := range x.Data().([]float32) {
		if got := y.Value().Data().([]float32)[i]; got != max(v, 0) {
			t.Fatalf("relu(%v) = %v", v, got)
		}
	}
	for _, shape := range [][]int{{3, 5}, {2, 3, 4, 2}} {
		if _, err := gradcheck.Check(func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return Relu(in[0]) },
			[]*tensor.Dense{awayFromZero(5, shape...)}, gradcheck.Options{Eps: 1e-3}); err != nil {
			t.Errorf("%v: %v", shape, err)
		}
	}
}

func TestMatMulForwardAndGradient(t *testing.T) {
	a, b := gradcheck.Random(1, -1, 1, 3, 4), gradcheck.Random(2, -1, 1, 4, 5)
	g := G.NewGraph()
	y := G.Must(MatMul(G.NodeFromAny(g, a), G.NodeFromAny(g, b)))
	if err := G.NewTapeMachine(g).RunAll(); err != nil {
		t.Fatal(err)
	}
	ad, bd, yd := a.Data().([]float32), b.Data().([]float32), y.Value().Data().([]float32)
	for i := 0; i < 3; i++ {
		for j := 0; j < 5; j++ {
			var s float64
			for k := 0; k < 4; k++ {
				s += float64(ad[i*4+k]) * float64(bd[k*5+j])
			}
			if d := float64(yd[i*5+j]) - s; d > 1e-5 || d < -1e-5 {
				t.Fatalf("y[%d,%d] = %v, want %v", i, j, yd[i*5+j], s)
			}
		}
	}
	if _, err := gradcheck.Check(func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return MatMul(in[0], in[1]) },
		[]*tensor.Dense{a, b}, gradcheck.Options{}); err != nil {
		t.Error(err)
	}
}

func TestMatMulShapeError(t *testing.T) {
	g := G.NewGraph()
	_, err := MatMul(G.NodeFromAny(g, gradcheck.Random(1, 0, 1, 3, 4)), G.NodeFromAny(g, gradcheck.Random(1, 0, 1, 3, 4)))
	if err == nil || !strings.Contains(err.Error(), "(3, 4)") {
		t.Fatalf("error %v", err)
	}
}

func TestMatMulReluHashes(t *testing.T) {
	if opHash(&matMulOp{}) == opHash(&matMulOp{tA: true}) || opHash(&matMulOp{tA: true}) == opHash(&matMulOp{tB: true}) {
		t.Error("MatMul transposes do not change the hash")
	}
	if opHash(&reluOp{rank: 2}) == opHash(&reluOp{rank: 4}) || opHash(&reluOp{rank: 2}) == opHash(&reluDiffOp{rank: 2}) {
		t.Error("Relu hashes collide")
	}
}
