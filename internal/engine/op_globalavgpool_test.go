package engine

import (
	"fmt"
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/capa-ml/capa/internal/gradcheck"
)

func TestGlobalAvgPool2DForward(t *testing.T) {
	for si, s := range [][4]int{{2, 3, 4, 5}, {1, 1, 1, 3}, {3, 2, 2, 1}, {1, 5, 3, 2}} {
		n, h, w, c := s[0], s[1], s[2], s[3]
		x := gradcheck.Random(uint64(si), -1, 1, n, h, w, c)
		g := G.NewGraph()
		y, err := GlobalAvgPool2D(G.NodeFromAny(g, x, G.WithName("x")))
		if err != nil {
			t.Fatal(err)
		}
		if !y.Shape().Eq(tensor.Shape{n, c}) {
			t.Fatalf("%v: output shape %v, want (%d, %d)", s, y.Shape(), n, c)
		}
		m := G.NewTapeMachine(g)
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		got := y.Value().Data().([]float32)
		d := x.Float32s()
		for b := 0; b < n; b++ {
			for ch := 0; ch < c; ch++ {
				var sum float64
				for p := 0; p < h*w; p++ {
					sum += float64(d[(b*h*w+p)*c+ch])
				}
				if want := sum / float64(h*w); math.Abs(float64(got[b*c+ch])-want) > 1e-6 {
					t.Errorf("%v: y[%d, %d] = %v, want %v", s, b, ch, got[b*c+ch], want)
				}
			}
		}
		m.Close()
	}
}

func TestGlobalAvgPool2DGradcheck(t *testing.T) {
	for si, s := range [][]int{{2, 3, 4, 5}, {1, 2, 3, 2}} {
		t.Run(fmt.Sprint(s), func(t *testing.T) {
			build := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return GlobalAvgPool2D(in[0]) }
			res, err := gradcheck.Check(build, []*tensor.Dense{gradcheck.Random(uint64(si), -1, 1, s...)}, gradcheck.Options{})
			if err != nil {
				t.Error(err)
			}
			t.Logf("%+v", res)
		})
	}
}

func TestGlobalAvgPool2DErrors(t *testing.T) {
	g := G.NewGraph()
	for _, x := range []*G.Node{
		G.NewTensor(g, tensor.Float32, 3, G.WithShape(2, 3, 4), G.WithName("x3")),
		G.NewTensor(g, tensor.Float64, 4, G.WithShape(2, 3, 4, 5), G.WithName("x64")),
		nil,
	} {
		if _, err := GlobalAvgPool2D(x); err == nil {
			t.Errorf("GlobalAvgPool2D(%v): no error", x)
		}
	}
}
