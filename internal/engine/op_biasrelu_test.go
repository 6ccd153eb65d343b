package engine

import (
	"testing"

	"github.com/capa-ml/capa/internal/gradcheck"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestBiasReluMatchesComposite: the fused op equals Relu(BiasAdd(x, b)),
// forward and both gradients, for 2-D and 4-D inputs.
func TestBiasReluMatchesComposite(t *testing.T) {
	for _, shape := range [][]int{{5, 3}, {2, 3, 4, 6}} {
		c := shape[len(shape)-1]
		x, b := awayFromZero(7, shape...), gradcheck.Random(8, -0.05, 0.05, c)
		run := func(fused bool) (y, dx, db []float32) {
			g := G.NewGraph()
			xn := G.NodeFromAny(g, x, G.WithName("x"))
			bn := G.NodeFromAny(g, b, G.WithName("b"))
			var out *G.Node
			if fused {
				out = G.Must(BiasRelu(xn, bn))
			} else {
				out = G.Must(Relu(G.Must(BiasAdd(xn, bn))))
			}
			r := G.NodeFromAny(g, gradcheck.Random(9, -1, 1, shape...), G.WithName("r"))
			loss := G.Must(G.Sum(G.Must(G.HadamardProd(out, r))))
			grads, err := G.Grad(loss, xn, bn)
			if err != nil {
				t.Fatal(err)
			}
			ex, err := NewExecutor(g, out, grads[0], grads[1])
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ { // twice: buffers reused
				if err := ex.Run(); err != nil {
					t.Fatal(err)
				}
			}
			val := func(n *G.Node) []float32 {
				v, err := ex.Value(n)
				if err != nil {
					t.Fatal(err)
				}
				return append([]float32(nil), v.Data().([]float32)...)
			}
			return val(out), val(grads[0]), val(grads[1])
		}
		y1, dx1, db1 := run(true)
		y2, dx2, db2 := run(false)
		for name, pair := range map[string][2][]float32{"y": {y1, y2}, "dx": {dx1, dx2}, "db": {db1, db2}} {
			a, b := pair[0], pair[1]
			if len(a) != len(b) {
				t.Fatalf("%v %s: lengths %d, %d", shape, name, len(a), len(b))
			}
			for i := range a {
				if d := a[i] - b[i]; d > 1e-5 || d < -1e-5 {
					t.Fatalf("%v %s[%d]: fused %v, composite %v", shape, name, i, a[i], b[i])
				}
			}
		}
		if _, err := gradcheck.Check(func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return BiasRelu(in[0], in[1]) },
			[]*tensor.Dense{x, b}, gradcheck.Options{Eps: 1e-3}); err != nil {
			t.Errorf("%v: %v", shape, err)
		}
	}
}

func TestBiasReluHash(t *testing.T) {
	if opHash(&biasReluOp{biasAddOp{rank: 2}}) == opHash(&biasAddOp{rank: 2}) {
		t.Error("BiasRelu and BiasAdd hash alike")
	}
}
