package graph

import (
	"testing"

	"github.com/capa-ml/capa/internal/gradcheck"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestLayerGradMerge checks every merge layer's gradient with respect to
// each input against finite differences, with and without broadcasting,
// and a tensor consumed several times (its gradients must add up).
func TestLayerGradMerge(t *testing.T) {
	cases := []struct {
		name   string
		layer  MultiInput
		shapes [][]int // batched
	}{
		{"Add", &Add{}, [][]int{{2, 3, 3, 2}, {2, 3, 3, 2}, {2, 3, 3, 2}}},
		{"Add broadcast", &Add{}, [][]int{{2, 3, 1, 2}, {2, 1, 3, 2}}},
		{"Subtract", &Subtract{}, [][]int{{2, 4, 3}, {2, 4, 3}}},
		{"Subtract broadcast", &Subtract{}, [][]int{{2, 4, 3}, {2, 4, 1}}},
		{"Multiply", &Multiply{}, [][]int{{2, 3, 3, 2}, {2, 3, 3, 2}, {2, 3, 3, 2}}},
		{"Multiply broadcast", &Multiply{}, [][]int{{2, 3, 3, 2}, {2, 1, 1, 2}}},
		{"Average", &Average{}, [][]int{{2, 5}, {2, 5}, {2, 5}}},
		{"Maximum", &Maximum{}, [][]int{{2, 3, 3, 2}, {2, 3, 3, 2}, {2, 3, 3, 2}}},
		{"Minimum", &Minimum{}, [][]int{{2, 6}, {2, 6}}},
		{"Concatenate channels", &Concatenate{}, [][]int{{2, 3, 3, 2}, {2, 3, 3, 1}, {2, 3, 3, 3}}},
		{"Concatenate height", &Concatenate{Axis: 1}, [][]int{{2, 1, 3, 2}, {2, 3, 3, 2}}},
		{"Concatenate vectors", &Concatenate{Axis: 1}, [][]int{{2, 4}, {2, 3}}},
	}
	for _, c := range cases {
		c.layer.SetDefaults()
		per := make([]Shape, len(c.shapes))
		inputs := make([]*tensor.Dense, len(c.shapes))
		for i, s := range c.shapes {
			per[i] = Shape(s[1:])
			// Distinct values, so that Maximum and Minimum have no ties.
			inputs[i] = ltDistinct(uint64(30+i), s...)
			d := inputs[i].Data().([]float32)
			for j := range d {
				d[j] += float32(i) * 0.37
			}
		}
		out, err := c.layer.BuildMulti(per, nil)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		build := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
			y, err := c.layer.CallMulti(NewCtx(g, true), in)
			if err != nil {
				return nil, err
			}
			if want := out.WithBatch(c.shapes[0][0]); !y.Shape().Eq(tensor.Shape(want)) {
				t.Errorf("%s: output %v, BuildMulti said %v", c.name, y.Shape(), want)
			}
			return y, nil
		}
		res, err := gradcheck.Check(build, inputs, gradcheck.Options{Eps: 1e-3})
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		t.Logf("%s: rel err %.2g", c.name, res.RelErr)
	}
	// x consumed three times: x + x*y + max(x, y).
	build := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
		ctx := NewCtx(g, true)
		p, err := (&Multiply{}).CallMulti(ctx, []*G.Node{in[0], in[1]})
		if err != nil {
			return nil, err
		}
		q, err := (&Maximum{}).CallMulti(ctx, []*G.Node{in[0], in[1]})
		if err != nil {
			return nil, err
		}
		return (&Add{}).CallMulti(ctx, []*G.Node{in[0], p, q})
	}
	x, y := ltDistinct(41, 2, 3, 3, 2), ltDistinct(42, 2, 3, 3, 2)
	if _, err := gradcheck.Check(build, []*tensor.Dense{x, y}, gradcheck.Options{Eps: 1e-3}); err != nil {
		t.Errorf("fan-out: %v", err)
	}
}
