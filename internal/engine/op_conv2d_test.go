package engine

import (
	"fmt"
	"testing"

	"github.com/capa-ml/capa/internal/naiveref"

	"github.com/capa-ml/capa/internal/gradcheck"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

type convOpCase struct {
	x, k    []int // (N, H, W, C), (KH, KW, C, F)
	strides [2]int
	pad     [4]int
}

func (c convOpCase) String() string {
	return fmt.Sprintf("x%v k%v s%v p%v", c.x, c.k, c.strides, c.pad)
}

var convOpCases = []convOpCase{
	{[]int{1, 5, 5, 1}, []int{3, 3, 1, 1}, [2]int{1, 1}, [4]int{}},                             // batch 1, valid
	{[]int{2, 7, 6, 3}, []int{3, 2, 3, 4}, [2]int{2, 1}, [4]int{1, 0, 0, 1}},                   // asymmetric padding
	{[]int{2, 6, 7, 2}, []int{4, 4, 2, 3}, [2]int{2, 2}, kopSamePad(6, 7, 4, 4, [2]int{2, 2})}, // same, even kernel
	{[]int{1, 9, 9, 2}, []int{5, 5, 2, 2}, [2]int{3, 3}, [4]int{2, 2, 2, 2}},                   // stride 3, k 5
	{[]int{3, 4, 5, 1}, []int{1, 1, 1, 5}, [2]int{1, 2}, [4]int{}},                             // 1x1
	{[]int{1, 3, 3, 2}, []int{3, 3, 2, 2}, [2]int{1, 1}, [4]int{0, 2, 1, 0}},                   // window over padding
}

func convOpBuild(c convOpCase) gradcheck.Build {
	return func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
		return Convolution2D(in[0], in[1], c.strides, c.pad)
	}
}

func TestConvolution2DForward(t *testing.T) {
	for i, c := range convOpCases {
		x, k := gradcheck.Random(uint64(i), -1, 1, c.x...), gradcheck.Random(uint64(i+100), -1, 1, c.k...)
		got, shape := kopRunForward(t, convOpBuild(c), x, k)
		p := naiveref.NewWin(c.x, c.k[0], c.k[1], c.strides, c.pad)
		if want := (tensor.Shape{p.N, p.OH(), p.OW(), c.k[3]}); !shape.Eq(want) {
			t.Fatalf("%v: shape %v, want %v", c, shape, want)
		}
		kopAssertNear(t, c.String(), got, naiveConv2D(kopData(x), kopData(k), c.x, c.k, c.strides, c.pad), 1e-5)
	}
}

func TestConvolution2DGrad(t *testing.T) {
	for i, c := range convOpCases {
		x, k := gradcheck.Random(uint64(i), -1, 1, c.x...), gradcheck.Random(uint64(i+100), -1, 1, c.k...)
		res, err := gradcheck.Check(convOpBuild(c), []*tensor.Dense{x, k}, gradcheck.Options{Seed: uint64(i)})
		if err != nil {
			t.Errorf("%v: %v", c, err)
			continue
		}
		if res.RelErr > 1e-3 { // the op is linear in each input: only rounding remains
			t.Errorf("%v: relative error %.3g", c, res.RelErr)
		}
	}
}

// TestConvolution2DGradOneInput differentiates with respect to the kernel
// only (frozen input), then the input only.
func TestConvolution2DGradOneInput(t *testing.T) {
	c := convOpCases[1]
	x, k := gradcheck.Random(1, -1, 1, c.x...), gradcheck.Random(2, -1, 1, c.k...)
	for _, wrt := range []int{0, 1} {
		if _, err := gradcheck.Check(convOpBuild(c), []*tensor.Dense{x, k}, gradcheck.Options{Wrt: []int{wrt}}); err != nil {
			t.Errorf("wrt %d: %v", wrt, err)
		}
	}
}

// badConvOp is a convolution whose gradient ops use the padding with top and
// bottom swapped (the kind of bug Gorgonia's MaxPool2D has) and do not see
// the im2col matrix of the forward op.
type badConvOp struct{ *conv2dOp }

func (op badConvOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	bad := *op.conv2dOp
	bad.pad[0], bad.pad[1] = bad.pad[1], bad.pad[0]
	bad.scratch = new(convScratch)
	return bad.SymDiff(inputs, output, grad)
}

// TestConvolution2DGradCheckCatchesBug shows that the gradient check fails
// on a plausible wrong gradient, for each input.
func TestConvolution2DGradCheckCatchesBug(t *testing.T) {
	c := convOpCases[1] // asymmetric padding
	build := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
		return G.ApplyOp(badConvOp{&conv2dOp{strides: c.strides, pad: c.pad, scratch: new(convScratch)}}, in[0], in[1])
	}
	x, k := gradcheck.Random(1, -1, 1, c.x...), gradcheck.Random(2, -1, 1, c.k...)
	for _, wrt := range []int{0, 1} {
		if _, err := gradcheck.Check(build, []*tensor.Dense{x, k}, gradcheck.Options{Wrt: []int{wrt}}); err == nil {
			t.Errorf("wrt %d: a wrong gradient passed the check", wrt)
		}
	}
}

// TestConvolution2DRepeatedRuns checks that the reused scratch gives the same
// results run after run, with gradients.
func TestConvolution2DRepeatedRuns(t *testing.T) {
	c := convOpCases[2]
	g := G.NewGraph()
	x := G.NodeFromAny(g, gradcheck.Random(1, -1, 1, c.x...), G.WithName("x"))
	k := G.NodeFromAny(g, gradcheck.Random(2, -1, 1, c.k...), G.WithName("k"))
	y, err := Convolution2D(x, k, c.strides, c.pad)
	if err != nil {
		t.Fatal(err)
	}
	loss := G.Must(G.Sum(G.Must(G.Square(y))))
	if _, err := G.Grad(loss, x, k); err != nil {
		t.Fatal(err)
	}
	// Without BindDualValues (which accumulates into the dual values run
	// after run), Grad reads the gradient nodes' values.
	m := G.NewTapeMachine(g)
	defer m.Close()
	var first []float32
	for run := 0; run < 3; run++ {
		m.Reset()
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		gx, _ := x.Grad()
		gk, _ := k.Grad()
		cur := append(append([]float32(nil), gx.Data().([]float32)...), gk.Data().([]float32)...)
		if run == 0 {
			first = cur
			continue
		}
		for i := range cur {
			if cur[i] != first[i] {
				t.Fatalf("run %d: gradient [%d] = %v, first run %v", run, i, cur[i], first[i])
			}
		}
	}
}

func TestConvolution2DPrealloc(t *testing.T) {
	c := convOpCases[1]
	op := &conv2dOp{strides: c.strides, pad: c.pad, scratch: new(convScratch)}
	x, k := gradcheck.Random(1, -1, 1, c.x...), gradcheck.Random(2, -1, 1, c.k...)
	s, err := op.InferShape(tensor.Shape(c.x), tensor.Shape(c.k))
	if err != nil {
		t.Fatal(err)
	}
	pre := tensor.New(tensor.WithShape(s...), tensor.Of(tensor.Float32))
	v, err := op.UsePreallocDo(pre, x, k)
	if err != nil || v != pre {
		t.Fatalf("UsePreallocDo = %v, %v; want the preallocated tensor", v, err)
	}
	kopAssertNear(t, "prealloc", kopData(pre), naiveConv2D(kopData(x), kopData(k), c.x, c.k, c.strides, c.pad), 1e-5)
	wrong := tensor.New(tensor.WithShape(s[0], s[1], s[2], s[3]+1), tensor.Of(tensor.Float32))
	if _, err := op.UsePreallocDo(wrong, x, k); err == nil {
		t.Fatal("UsePreallocDo accepted a tensor of the wrong shape")
	}
	// A larger batch through the same op: the scratch grows.
	x2 := gradcheck.Random(3, -1, 1, 5, c.x[1], c.x[2], c.x[3])
	v, err = op.Do(x2, k)
	if err != nil {
		t.Fatal(err)
	}
	kopAssertNear(t, "batch 5", kopData(v.(*tensor.Dense)), naiveConv2D(kopData(x2), kopData(k), []int{5, c.x[1], c.x[2], c.x[3]}, c.k, c.strides, c.pad), 1e-5)
}

func TestConvolution2DHash(t *testing.T) {
	base := conv2dOp{strides: [2]int{1, 2}, pad: [4]int{1, 2, 3, 4}}
	variants := []conv2dOp{
		{strides: [2]int{2, 2}, pad: base.pad},
		{strides: [2]int{1, 1}, pad: base.pad},
		{strides: base.strides, pad: [4]int{2, 1, 3, 4}},
		{strides: base.strides, pad: [4]int{1, 2, 4, 3}},
		{strides: base.strides, pad: [4]int{0, 2, 3, 4}},
	}
	same := base
	same.scratch = new(convScratch)
	if base.Hashcode() != same.Hashcode() {
		t.Error("equal ops hash differently")
	}
	seen := map[uint32]string{base.Hashcode(): base.String()}
	for _, v := range variants {
		h := v.Hashcode()
		if prev, ok := seen[h]; ok {
			t.Errorf("%v hashes like %v", v.String(), prev)
		}
		seen[h] = v.String()
	}
	for wrt := 0; wrt < 2; wrt++ {
		d := conv2dDiffOp{conv2dOp: base, wrt: wrt}
		if _, ok := seen[d.Hashcode()]; ok {
			t.Errorf("%v hashes like a forward op", d.String())
		}
		seen[d.Hashcode()] = d.String()
	}

	// In a graph: convolutions differing only in a parameter stay distinct
	// nodes, identical ones are merged.
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(1, 6, 6, 2), G.WithName("x"))
	k := G.NewTensor(g, tensor.Float32, 4, G.WithShape(3, 3, 2, 2), G.WithName("k"))
	a := G.Must(Convolution2D(x, k, [2]int{1, 1}, [4]int{1, 0, 1, 1}))
	b := G.Must(Convolution2D(x, k, [2]int{1, 1}, [4]int{0, 1, 1, 1}))
	a2 := G.Must(Convolution2D(x, k, [2]int{1, 1}, [4]int{1, 0, 1, 1}))
	if a == b {
		t.Error("convolutions with different paddings were merged")
	}
	if a != a2 {
		t.Error("identical convolutions were not merged")
	}
}

func TestConvolution2DRejects(t *testing.T) {
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(2, 5, 5, 3), G.WithName("x"))
	k := G.NewTensor(g, tensor.Float32, 4, G.WithShape(3, 3, 4, 8), G.WithName("k"))
	_, err := Convolution2D(x, k, [2]int{1, 1}, [4]int{})
	kopWantErr(t, "channels", err, "(2, 5, 5, 3)", "(3, 3, 4, 8)", "3 channels", "expects 4")

	k6 := G.NewTensor(g, tensor.Float32, 4, G.WithShape(6, 3, 3, 8), G.WithName("k6"))
	_, err = Convolution2D(x, k6, [2]int{1, 1}, [4]int{})
	kopWantErr(t, "too large", err, "6x3 window", "(2, 5, 5, 3)", "5x5")
	if _, err := Convolution2D(x, k6, [2]int{1, 1}, [4]int{1, 0, 0, 0}); err != nil {
		t.Errorf("a window fitting after padding was rejected: %v", err)
	}

	_, err = Convolution2D(x, G.NewTensor(g, tensor.Float32, 4, G.WithShape(3, 3, 3, 8), G.WithName("k2")), [2]int{0, 1}, [4]int{})
	kopWantErr(t, "stride", err, "strides", "[0 1]")
	_, err = Convolution2D(x, k, [2]int{1, 1}, [4]int{0, -1, 0, 0})
	kopWantErr(t, "padding", err, "padding", "[0 -1 0 0]")

	x3 := G.NewTensor(g, tensor.Float32, 3, G.WithShape(5, 5, 3), G.WithName("x3"))
	_, err = Convolution2D(x3, k, [2]int{1, 1}, [4]int{})
	kopWantErr(t, "rank", err, "(N, H, W, C)", "(5, 5, 3)")

	x64 := G.NewTensor(g, tensor.Float64, 4, G.WithShape(2, 5, 5, 3), G.WithName("x64"))
	_, err = Convolution2D(x64, k, [2]int{1, 1}, [4]int{})
	kopWantErr(t, "dtype", err, "float64", "only float32")
}
