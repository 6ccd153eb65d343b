package engine

import (
	"math"
	"testing"

	"github.com/capa-ml/capa/internal/gradcheck"
	"github.com/capa-ml/capa/internal/naiveref"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// conv2dBiasReluCases adds to convOpCases a 3x3 "same" case with 16
// channels (Winograd's, at inference), a 1x1 map padded to one pixel, and
// a batch large enough that the streamed kernel and the training kernel
// both work in several chunks per worker.
var conv2dBiasReluCases = append(append([]convOpCase(nil), convOpCases...),
	convOpCase{[]int{2, 6, 6, 16}, []int{3, 3, 16, 5}, [2]int{1, 1}, [4]int{1, 1, 1, 1}},
	convOpCase{[]int{3, 1, 1, 4}, []int{3, 3, 4, 6}, [2]int{1, 1}, [4]int{1, 1, 1, 1}},
	convOpCase{[]int{40, 28, 28, 1}, []int{5, 5, 1, 32}, [2]int{1, 1}, [4]int{}},
	convOpCase{[]int{24, 12, 12, 32}, []int{5, 5, 32, 64}, [2]int{1, 1}, [4]int{}},
)

// runConvBiasRelu runs x → relu(conv(x, k) + b), fused or as Convolution2D
// then BiasRelu, and returns the output and, when grad is set, the
// gradients of sum(y·r) with respect to x, k and b (which makes the
// forward op keep its im2col matrix, the training kernel).
func runConvBiasRelu(t *testing.T, c convOpCase, x, k, b, r *tensor.Dense, fused, grad bool) [][]float32 {
	t.Helper()
	g := G.NewGraph()
	xn := G.NodeFromAny(g, x, G.WithName("x"))
	kn := G.NodeFromAny(g, k, G.WithName("k"))
	bn := G.NodeFromAny(g, b, G.WithName("b"))
	var y *G.Node
	if fused {
		y = G.Must(Conv2DBiasRelu(xn, kn, bn, c.strides, c.pad))
	} else {
		y = G.Must(BiasRelu(G.Must(Convolution2D(xn, kn, c.strides, c.pad)), bn))
	}
	outs := G.Nodes{y}
	if grad {
		rn := G.NodeFromAny(g, r, G.WithName("r"))
		loss := G.Must(G.Sum(G.Must(G.HadamardProd(y, rn))))
		gs, err := G.Grad(loss, xn, kn, bn)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, gs...)
	}
	ex, err := NewExecutor(g, outs...)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // twice: scratch and buffers reused
		if err := ex.Run(); err != nil {
			t.Fatal(err)
		}
	}
	var res [][]float32
	for _, n := range outs {
		v, err := ex.Value(n)
		if err != nil {
			t.Fatal(err)
		}
		res = append(res, append([]float32(nil), v.Data().([]float32)...))
	}
	return res
}

// TestConv2DBiasReluMatchesComposite: the fused op's output and gradients
// are bit for bit those of Convolution2D followed by BiasRelu, with the
// inference kernels (streamed im2col, Winograd's, a single pixel) and the
// training kernel, and the ReLU cuts a fair share of the outputs.
func TestConv2DBiasReluMatchesComposite(t *testing.T) {
	for i, c := range conv2dBiasReluCases {
		x, k := gradcheck.Random(uint64(i), -1, 1, c.x...), gradcheck.Random(uint64(i+100), -1, 1, c.k...)
		b := gradcheck.Random(uint64(i+200), -0.5, 0.5, c.k[3])
		p := naiveref.NewWin(c.x, c.k[0], c.k[1], c.strides, c.pad)
		r := gradcheck.Random(uint64(i+300), -1, 1, p.N, p.OH(), p.OW(), c.k[3])
		for _, grad := range []bool{false, true} {
			got := runConvBiasRelu(t, c, x, k, b, r, true, grad)
			want := runConvBiasRelu(t, c, x, k, b, r, false, grad)
			for j, name := range []string{"y", "dx", "dk", "db"}[:len(want)] {
				if len(got[j]) != len(want[j]) {
					t.Fatalf("%v grad %v %s: %d values, want %d", c, grad, name, len(got[j]), len(want[j]))
				}
				for e := range want[j] {
					if math.Float32bits(got[j][e]) != math.Float32bits(want[j][e]) {
						t.Fatalf("%v grad %v %s[%d]: fused %v, composite %v", c, grad, name, e, got[j][e], want[j][e])
					}
				}
			}
			zeros := 0
			for _, v := range got[0] {
				if v == 0 {
					zeros++
				}
			}
			if zeros == 0 || zeros == len(got[0]) {
				t.Errorf("%v: %d of %d outputs are 0: the ReLU is not exercised", c, zeros, len(got[0]))
			}
		}
	}
}

// TestConv2DBiasReluGrad checks the fused op's three gradients against
// finite differences.
func TestConv2DBiasReluGrad(t *testing.T) {
	for i, c := range convOpCases {
		x, k := gradcheck.Random(uint64(i), -1, 1, c.x...), gradcheck.Random(uint64(i+100), -1, 1, c.k...)
		b := gradcheck.Random(uint64(i+200), -0.5, 0.5, c.k[3])
		build := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
			return Conv2DBiasRelu(in[0], in[1], in[2], c.strides, c.pad)
		}
		if _, err := gradcheck.Check(build, []*tensor.Dense{x, k, b}, gradcheck.Options{Seed: uint64(i), Eps: 1e-3}); err != nil {
			t.Errorf("%v: %v", c, err)
		}
	}
}

// TestConv2DBiasReluRejects: a bias that does not match the filters is an
// error naming the shapes, as are Convolution2D's bad windows.
func TestConv2DBiasReluRejects(t *testing.T) {
	g := G.NewGraph()
	x := G.NewTensor(g, G.Float32, 4, G.WithShape(2, 8, 8, 3), G.WithName("x"))
	k := G.NewTensor(g, G.Float32, 4, G.WithShape(3, 3, 3, 4), G.WithName("k"))
	b5 := G.NewVector(g, G.Float32, G.WithShape(5), G.WithName("b5"))
	b4 := G.NewVector(g, G.Float32, G.WithShape(4), G.WithName("b4"))
	_, err := Conv2DBiasRelu(x, k, b5, [2]int{1, 1}, [4]int{})
	kopWantErr(t, "bias length", err, "bias must be 1-D of length 4", "(5)")
	_, err = Conv2DBiasRelu(x, k, b4, [2]int{0, 1}, [4]int{})
	kopWantErr(t, "stride 0", err, "stride")
	if _, err := Conv2DBiasRelu(x, k, b4, [2]int{1, 1}, [4]int{}); err != nil {
		t.Fatal(err)
	}
	if opHash(&conv2dBiasReluOp{conv2dOp{strides: [2]int{1, 1}}}) == opHash(&conv2dOp{strides: [2]int{1, 1}}) {
		t.Error("Conv2DBiasRelu and Convolution2D hash alike")
	}
}
