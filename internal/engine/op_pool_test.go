package engine

import (
	"fmt"
	"testing"

	"github.com/capa-ml/capa/internal/naiveref"

	"github.com/capa-ml/capa/internal/gradcheck"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

type poolOpCase struct {
	x             []int // (N, H, W, C)
	pool, strides [2]int
	pad           [4]int
}

func (c poolOpCase) String() string {
	return fmt.Sprintf("x%v k%v s%v p%v", c.x, c.pool, c.strides, c.pad)
}

var poolOpCases = []poolOpCase{
	{[]int{1, 4, 4, 1}, [2]int{2, 2}, [2]int{2, 2}, [4]int{}},                             // batch 1, valid
	{[]int{2, 5, 7, 3}, [2]int{2, 2}, [2]int{2, 2}, kopSamePad(5, 7, 2, 2, [2]int{2, 2})}, // same: pads bottom, right
	{[]int{2, 6, 5, 2}, [2]int{3, 2}, [2]int{1, 2}, [4]int{1, 0, 0, 1}},                   // asymmetric
	{[]int{1, 7, 7, 2}, [2]int{3, 3}, [2]int{2, 2}, kopSamePad(7, 7, 3, 3, [2]int{2, 2})}, // overlapping, padded
	{[]int{1, 9, 8, 1}, [2]int{5, 4}, [2]int{3, 3}, [4]int{2, 1, 3, 0}},                   // large window, stride 3
	{[]int{3, 3, 3, 4}, [2]int{1, 1}, [2]int{1, 1}, [4]int{}},                             // identity
}

func poolOpBuild(isMax bool, c poolOpCase) gradcheck.Build {
	return func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
		if isMax {
			return MaxPool2D(in[0], c.pool, c.strides, c.pad)
		}
		return AvgPool2D(in[0], c.pool, c.strides, c.pad)
	}
}

func TestPool2DForward(t *testing.T) {
	for _, isMax := range []bool{true, false} {
		for i, c := range poolOpCases {
			x := gradcheck.Random(uint64(i), -1, 0, c.x...) // all negative: a padded 0 must never win
			got, shape := kopRunForward(t, poolOpBuild(isMax, c), x)
			p := naiveref.NewWin(c.x, c.pool[0], c.pool[1], c.strides, c.pad)
			if want := (tensor.Shape{p.N, p.OH(), p.OW(), p.C}); !shape.Eq(want) {
				t.Fatalf("max=%v %v: shape %v, want %v", isMax, c, shape, want)
			}
			kopAssertNear(t, fmt.Sprintf("max=%v %v", isMax, c), got, naivePool2D(kopData(x), c.x, isMax, c.pool, c.strides, c.pad), 1e-6)
		}
	}
}

func TestPool2DGrad(t *testing.T) {
	for _, isMax := range []bool{true, false} {
		for i, c := range poolOpCases {
			x := kopDistinct(uint64(i), c.x...) // no ties, winners stable under ±eps
			res, err := gradcheck.Check(poolOpBuild(isMax, c), []*tensor.Dense{x}, gradcheck.Options{Seed: uint64(i)})
			if err != nil {
				t.Errorf("max=%v %v: %v", isMax, c, err)
				continue
			}
			if res.RelErr > 1e-3 {
				t.Errorf("max=%v %v: relative error %.3g", isMax, c, res.RelErr)
			}
		}
	}
}

// TestPool2DGradCheckCatchesBug: a gradient op whose padding offsets the
// wrong sides (Gorgonia v0.9.18's MaxPool2D bug), or, for max pooling, one
// that does not see the winners its forward op recorded, fails the check.
func TestPool2DGradCheckCatchesBug(t *testing.T) {
	c := poolOpCases[2]
	for _, isMax := range []bool{true, false} {
		build := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
			return G.ApplyOp(badPoolOp{&poolOp{max: isMax, pool: c.pool, strides: c.strides, pad: c.pad, scratch: new(poolScratch)}}, in[0])
		}
		if _, err := gradcheck.Check(build, []*tensor.Dense{kopDistinct(1, c.x...)}, gradcheck.Options{}); err == nil {
			t.Errorf("max=%v: a wrong gradient passed the check", isMax)
		}
	}
}

type badPoolOp struct{ *poolOp }

func (op badPoolOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	bad := *op.poolOp
	bad.pad[0], bad.pad[1] = bad.pad[1], bad.pad[0]
	bad.scratch = new(poolScratch)
	return bad.SymDiff(inputs, output, grad)
}

// TestMaxPool2DPrealloc runs the forward op then the gradient op by hand,
// with prealloc: the gradient routes dy to the winners the forward recorded.
func TestMaxPool2DPrealloc(t *testing.T) {
	c := poolOpCases[3]
	// needArgmax as SymDiff sets it: the forward records the winners.
	op := &poolOp{max: true, pool: c.pool, strides: c.strides, pad: c.pad, scratch: &poolScratch{needArgmax: true}}
	x := kopDistinct(4, c.x...)
	s, err := op.InferShape(tensor.Shape(c.x))
	if err != nil {
		t.Fatal(err)
	}
	dy := gradcheck.Random(5, -1, 1, s...)
	diff := &poolDiffOp{*op}
	y, err := op.Do(x)
	if err != nil {
		t.Fatal(err)
	}
	pre := tensor.New(tensor.WithShape(c.x...), tensor.Of(tensor.Float32))
	v, err := diff.UsePreallocDo(pre, x, y, dy)
	if err != nil || v != pre {
		t.Fatalf("UsePreallocDo = %v, %v; want the preallocated tensor", v, err)
	}
	// Reference: route each dy to the argmax found by a naive scan.
	p := naiveref.NewWin(c.x, c.pool[0], c.pool[1], c.strides, c.pad)
	want := make([]float64, len(kopData(x)))
	for n := 0; n < p.N; n++ {
		for oy := 0; oy < p.OH(); oy++ {
			for ox := 0; ox < p.OW(); ox++ {
				for ch := 0; ch < p.C; ch++ {
					best := -1
					for ky := 0; ky < p.KH; ky++ {
						for kx := 0; kx < p.KW; kx++ {
							if i, ok := p.At(n, oy*p.SH-c.pad[0]+ky, ox*p.SW-c.pad[2]+kx, ch); ok && (best < 0 || kopData(x)[i] > kopData(x)[best]) {
								best = i
							}
						}
					}
					want[best] += float64(kopData(dy)[((n*p.OH()+oy)*p.OW()+ox)*p.C+ch])
				}
			}
		}
	}
	kopAssertNear(t, "max pool gradient", kopData(pre), want, 1e-6)
	if _, err := diff.UsePreallocDo(tensor.New(tensor.WithShape(s...), tensor.Of(tensor.Float32)), x, dy); err == nil {
		t.Fatal("UsePreallocDo accepted a tensor of the wrong shape")
	}
}

func TestPool2DHash(t *testing.T) {
	base := poolOp{max: true, pool: [2]int{2, 2}, strides: [2]int{2, 2}, pad: [4]int{0, 1, 0, 1}}
	variants := []poolOp{
		{max: false, pool: base.pool, strides: base.strides, pad: base.pad},
		{max: true, pool: [2]int{2, 3}, strides: base.strides, pad: base.pad},
		{max: true, pool: base.pool, strides: [2]int{1, 2}, pad: base.pad},
		{max: true, pool: base.pool, strides: base.strides, pad: [4]int{1, 0, 0, 1}},
		{max: true, pool: base.pool, strides: base.strides, pad: [4]int{0, 1, 1, 0}},
	}
	seen := map[uint32]string{base.Hashcode(): base.String()}
	for _, v := range variants {
		if prev, ok := seen[v.Hashcode()]; ok {
			t.Errorf("%v hashes like %v", v.String(), prev)
		}
		seen[v.Hashcode()] = v.String()
		d := poolDiffOp{v}
		if prev, ok := seen[d.Hashcode()]; ok {
			t.Errorf("%v hashes like %v", d.String(), prev)
		}
		seen[d.Hashcode()] = d.String()
	}
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(1, 6, 6, 2), G.WithName("x"))
	a := G.Must(MaxPool2D(x, [2]int{2, 2}, [2]int{2, 2}, [4]int{}))
	b := G.Must(AvgPool2D(x, [2]int{2, 2}, [2]int{2, 2}, [4]int{}))
	if a == b {
		t.Error("max and average pooling of the same input were merged")
	}
}

func TestPool2DRejects(t *testing.T) {
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(2, 3, 8, 4), G.WithName("x"))
	_, err := MaxPool2D(x, [2]int{4, 2}, [2]int{1, 1}, [4]int{})
	kopWantErr(t, "too large", err, "MaxPool2D", "4x2 window", "(2, 3, 8, 4)", "3x8")
	if _, err := MaxPool2D(x, [2]int{4, 2}, [2]int{1, 1}, [4]int{0, 1, 0, 0}); err != nil {
		t.Errorf("a window fitting after padding was rejected: %v", err)
	}
	_, err = AvgPool2D(x, [2]int{0, 2}, [2]int{1, 1}, [4]int{})
	kopWantErr(t, "pool size", err, "AvgPool2D", "pool size", "[0 2]")
	_, err = AvgPool2D(x, [2]int{2, 2}, [2]int{1, -1}, [4]int{})
	kopWantErr(t, "stride", err, "strides", "[1 -1]")
	_, err = MaxPool2D(x, [2]int{2, 2}, [2]int{1, 1}, [4]int{0, 0, -2, 0})
	kopWantErr(t, "padding", err, "padding", "[0 0 -2 0]")
	x2 := G.NewMatrix(g, tensor.Float32, G.WithShape(6, 6), G.WithName("x2"))
	_, err = MaxPool2D(x2, [2]int{2, 2}, [2]int{2, 2}, [4]int{})
	kopWantErr(t, "rank", err, "(N, H, W, C)", "(6, 6)")
	x64 := G.NewTensor(g, tensor.Float64, 4, G.WithShape(2, 3, 8, 4), G.WithName("x64"))
	_, err = AvgPool2D(x64, [2]int{2, 2}, [2]int{2, 2}, [4]int{})
	kopWantErr(t, "dtype", err, "float64", "only float32")
}

// TestMaxPoolArgmaxOnlyForGradients: an inference graph's max pooling
// records no winners; building its gradient (SymDiff) makes the forward
// record them.
func TestMaxPoolArgmaxOnlyForGradients(t *testing.T) {
	g := G.NewGraph()
	x := G.NewTensor(g, G.Float32, 4, G.WithShape(1, 4, 4, 2), G.WithValue(kopDistinct(4, 1, 4, 4, 2)))
	y, err := MaxPool2D(x, [2]int{3, 3}, [2]int{1, 1}, [4]int{1, 1, 1, 1})
	if err != nil {
		t.Fatal(err)
	}
	op := y.Op().(*poolOp)
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	if op.scratch.needArgmax || len(op.scratch.argmax) != 0 {
		t.Fatal("the inference forward recorded winners")
	}
	if _, err := op.SymDiff(G.Nodes{x}, y, y); err != nil {
		t.Fatal(err)
	}
	if !op.scratch.needArgmax {
		t.Fatal("SymDiff did not ask the forward for the winners")
	}
}
