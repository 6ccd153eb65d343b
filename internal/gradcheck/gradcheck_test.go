package gradcheck

import (
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestCorrectGradientsPass(t *testing.T) {
	for name, f := range map[string]func(*G.Node) (*G.Node, error){"tanh": G.Tanh, "square": G.Square} {
		_, err := Check(func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return f(in[0]) },
			[]*tensor.Dense{Random(1, -1, 1, 3, 4)}, Options{})
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestWrongGradientFails ties x·c with c sharing x's values: the symbolic
// gradient with respect to x alone is c = x, while the function x·x has
// derivative 2x: the check must fail.
func TestWrongGradientFails(t *testing.T) {
	x := Random(2, 0.5, 1, 5)
	c := x.Clone().(*tensor.Dense)
	_, err := Check(func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
		// The constant is rebound to the perturbed input by the finite
		// differences, so the numeric derivative is 2x; the symbolic one is x.
		return G.HadamardProd(in[0], in[1])
	}, []*tensor.Dense{x, c}, Options{Wrt: []int{0}, Tie: [][2]int{{0, 1}}})
	if err == nil {
		t.Fatal("a wrong gradient passed the check")
	}
}
