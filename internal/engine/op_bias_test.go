package engine

import (
	"fmt"
	"testing"

	"github.com/capa-ml/capa/internal/gradcheck"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

var biasOpShapes = [][]int{{3, 1}, {4, 5}, {2, 3, 3, 4}, {1, 2, 2, 1}, {2, 3, 2}}

func biasOpBuild(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return BiasAdd(in[0], in[1]) }

func TestBiasAddForward(t *testing.T) {
	for i, s := range biasOpShapes {
		x, b := gradcheck.Random(uint64(i), -1, 1, s...), gradcheck.Random(uint64(i+9), -1, 1, s[len(s)-1])
		got, shape := kopRunForward(t, biasOpBuild, x, b)
		if !shape.Eq(tensor.Shape(s)) {
			t.Fatalf("%v: shape %v", s, shape)
		}
		kopAssertNear(t, fmt.Sprint(s), got, naiveBiasAdd(kopData(x), kopData(b)), 1e-6)
	}
}

func TestBiasAddGrad(t *testing.T) {
	for i, s := range biasOpShapes {
		x, b := gradcheck.Random(uint64(i), -1, 1, s...), gradcheck.Random(uint64(i+9), -1, 1, s[len(s)-1])
		if _, err := gradcheck.Check(biasOpBuild, []*tensor.Dense{x, b}, gradcheck.Options{Seed: uint64(i)}); err != nil {
			t.Errorf("%v: %v", s, err)
		}
	}
}

// badBiasOp's bias gradient drops the last row of the output gradient.
type badBiasOp struct{ *biasAddOp }

func (op badBiasOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	s := grad.Shape()
	part, err := G.Slice(grad, G.S(0, s[0]-1))
	if err != nil {
		return nil, err
	}
	db, err := G.Sum(part, 0)
	if err != nil {
		return nil, err
	}
	return G.Nodes{grad, db}, nil
}

func TestBiasAddGradCheckCatchesBug(t *testing.T) {
	build := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
		return G.ApplyOp(badBiasOp{&biasAddOp{rank: 2}}, in[0], in[1])
	}
	x, b := gradcheck.Random(1, -1, 1, 4, 3), gradcheck.Random(2, -1, 1, 3)
	if _, err := gradcheck.Check(build, []*tensor.Dense{x, b}, gradcheck.Options{Wrt: []int{1}}); err == nil {
		t.Error("a wrong bias gradient passed the check")
	}
}

// TestConvBiasPoolGrad checks a whole conv block, as the Conv2D layer and a
// pooling layer build it.
func TestConvBiasPoolGrad(t *testing.T) {
	xs, ks := []int{2, 7, 7, 2}, []int{3, 3, 2, 3}
	pad := kopSamePad(7, 7, 3, 3, [2]int{1, 1})
	build := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
		y, err := Convolution2D(in[0], in[1], [2]int{1, 1}, pad)
		if err != nil {
			return nil, err
		}
		if y, err = BiasAdd(y, in[2]); err != nil {
			return nil, err
		}
		return AvgPool2D(y, [2]int{2, 2}, [2]int{2, 2}, kopSamePad(7, 7, 2, 2, [2]int{2, 2}))
	}
	in := []*tensor.Dense{gradcheck.Random(1, -1, 1, xs...), gradcheck.Random(2, -1, 1, ks...), gradcheck.Random(3, -1, 1, 3)}
	if _, err := gradcheck.Check(build, in, gradcheck.Options{}); err != nil {
		t.Error(err)
	}
}

func TestBiasAddHash(t *testing.T) {
	ops := []interface {
		Hashcode() uint32
		String() string
	}{&biasAddOp{rank: 2}, &biasAddOp{rank: 4}, &biasGradOp{rank: 2}, &biasGradOp{rank: 4}}
	seen := map[uint32]string{}
	for _, op := range ops {
		if prev, ok := seen[op.Hashcode()]; ok {
			t.Errorf("%v hashes like %v", op, prev)
		}
		seen[op.Hashcode()] = op.String()
	}
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float32, G.WithShape(4, 3), G.WithName("x"))
	b := G.NewVector(g, tensor.Float32, G.WithShape(3), G.WithName("b"))
	c := G.NewVector(g, tensor.Float32, G.WithShape(3), G.WithName("c"))
	if G.Must(BiasAdd(x, b)) == G.Must(BiasAdd(x, c)) {
		t.Error("bias additions of different biases were merged")
	}
}

func TestBiasAddRejects(t *testing.T) {
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(2, 5, 5, 3), G.WithName("x"))
	b4 := G.NewVector(g, tensor.Float32, G.WithShape(4), G.WithName("b4"))
	_, err := BiasAdd(x, b4)
	kopWantErr(t, "length", err, "BiasAdd", "length 3", "(2, 5, 5, 3)", "(4)")
	bm := G.NewMatrix(g, tensor.Float32, G.WithShape(1, 3), G.WithName("bm"))
	_, err = BiasAdd(x, bm)
	kopWantErr(t, "rank of bias", err, "1-D", "(1, 3)")
	v := G.NewVector(g, tensor.Float32, G.WithShape(3), G.WithName("v"))
	b3 := G.NewVector(g, tensor.Float32, G.WithShape(3), G.WithName("b3"))
	_, err = BiasAdd(v, b3)
	kopWantErr(t, "rank of x", err, "rank >= 2", "(3)")
	x64 := G.NewMatrix(g, tensor.Float64, G.WithShape(2, 3), G.WithName("x64"))
	_, err = BiasAdd(x64, b3)
	kopWantErr(t, "dtype", err, "float64", "only float32")
}
