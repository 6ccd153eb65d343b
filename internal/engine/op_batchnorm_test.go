package engine

import (
	"fmt"
	"math"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/capa-ml/capa/internal/gradcheck"
)

// bnReference is batch normalization in float64 over all axes but the last.
// With training it uses (and returns) the batch mean and biased variance,
// otherwise mean and variance as given.
func bnReference(x, gamma, beta []float32, c int, mean, variance []float64, eps float64, training bool) (y []float64, bm, bv []float64) {
	m := len(x) / c
	bm, bv = mean, variance
	if training {
		bm, bv = make([]float64, c), make([]float64, c)
		for i, v := range x {
			bm[i%c] += float64(v) / float64(m)
		}
		for i, v := range x {
			d := float64(v) - bm[i%c]
			bv[i%c] += d * d / float64(m)
		}
	}
	y = make([]float64, len(x))
	for i, v := range x {
		j := i % c
		y[i] = float64(gamma[j])*(float64(v)-bm[j])/math.Sqrt(bv[j]+eps) + float64(beta[j])
	}
	return y, bm, bv
}

func toF64(s []float32) []float64 {
	out := make([]float64, len(s))
	for i, v := range s {
		out[i] = float64(v)
	}
	return out
}

// runBN builds BatchNorm on constant inputs, runs it `runs` times in one
// machine and returns the last output.
func runBN(t *testing.T, x, gamma, beta *tensor.Dense, mm, mv []float32, momentum, eps float64, training bool, runs int) []float32 {
	t.Helper()
	g := G.NewGraph()
	xn := G.NodeFromAny(g, x, G.WithName("x"))
	gn := G.NodeFromAny(g, gamma, G.WithName("gamma"))
	bn := G.NodeFromAny(g, beta, G.WithName("beta"))
	y, err := BatchNorm(xn, gn, bn, mm, mv, momentum, eps, training)
	if err != nil {
		t.Fatal(err)
	}
	var yv G.Value
	G.Read(y, &yv)
	m := G.NewTapeMachine(g)
	defer m.Close()
	for r := 0; r < runs; r++ {
		m.Reset()
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
	}
	return append([]float32(nil), yv.Data().([]float32)...)
}

var bnShapes = [][]int{{6, 3}, {2, 3, 4, 5}, {1, 2, 2, 1}}

func TestBatchNormForward(t *testing.T) {
	for si, shape := range bnShapes {
		c := shape[len(shape)-1]
		x := gradcheck.Random(uint64(si), -2, 3, shape...)
		gamma := gradcheck.Random(10+uint64(si), 0.5, 1.5, c)
		beta := gradcheck.Random(20+uint64(si), -1, 1, c)
		for _, training := range []bool{true, false} {
			t.Run(fmt.Sprintf("%v/training=%v", shape, training), func(t *testing.T) {
				mm := gradcheck.Random(30, -0.5, 0.5, c).Float32s()
				mv := gradcheck.Random(31, 0.5, 2, c).Float32s()
				want, _, _ := bnReference(x.Float32s(), gamma.Float32s(), beta.Float32s(), c, toF64(mm), toF64(mv), 1e-3, training)
				got := runBN(t, x, gamma, beta, mm, mv, 0.99, 1e-3, training, 1)
				for i := range want {
					if math.Abs(float64(got[i])-want[i]) > 1e-5*(1+math.Abs(want[i])) {
						t.Fatalf("y[%d] = %v, want %v", i, got[i], want[i])
					}
				}
			})
		}
	}
}

func TestBatchNormMovingStatistics(t *testing.T) {
	// (4, 2): channel 0 is 1, 2, 3, 4 (mean 2.5, biased variance 1.25),
	// channel 1 is 0, 0, 4, 4 (mean 2, biased variance 4).
	x := tensor.New(tensor.WithShape(4, 2), tensor.WithBacking([]float32{1, 0, 2, 0, 3, 4, 4, 4}))
	gamma := onesDense(2)
	beta := tensor.New(tensor.WithShape(2), tensor.Of(tensor.Float32))
	for _, tc := range []struct {
		runs           int
		wantMM, wantMV []float32
	}{
		// moving = moving*0.9 + batch*0.1 from mean (0, 0), variance (1, 1).
		{1, []float32{0.25, 0.2}, []float32{1.025, 1.3}},
		{2, []float32{0.475, 0.38}, []float32{1.0475, 1.57}},
	} {
		mm, mv := []float32{0, 0}, []float32{1, 1}
		runBN(t, x, gamma, beta, mm, mv, 0.9, 1e-3, true, tc.runs)
		for j := range mm {
			if math.Abs(float64(mm[j]-tc.wantMM[j])) > 1e-6 || math.Abs(float64(mv[j]-tc.wantMV[j])) > 1e-6 {
				t.Errorf("after %d steps: moving mean %v variance %v, want %v %v", tc.runs, mm, mv, tc.wantMM, tc.wantMV)
				break
			}
		}
	}
	// Inference reads the moving statistics and leaves them alone.
	mm, mv := []float32{0.5, -1}, []float32{2, 3}
	runBN(t, x, gamma, beta, mm, mv, 0.9, 1e-3, false, 2)
	if mm[0] != 0.5 || mm[1] != -1 || mv[0] != 2 || mv[1] != 3 {
		t.Errorf("inference changed the moving statistics to %v %v", mm, mv)
	}
}

func TestBatchNormGradcheck(t *testing.T) {
	for si, shape := range [][]int{{6, 3}, {2, 3, 4, 2}} {
		c := shape[len(shape)-1]
		for _, training := range []bool{true, false} {
			t.Run(fmt.Sprintf("%v/training=%v", shape, training), func(t *testing.T) {
				mm := gradcheck.Random(40, -0.5, 0.5, c).Float32s()
				mv := gradcheck.Random(41, 0.5, 2, c).Float32s()
				build := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
					return BatchNorm(in[0], in[1], in[2], mm, mv, 0.99, 1e-3, training)
				}
				in := []*tensor.Dense{
					gradcheck.Random(uint64(si), -1, 2, shape...),
					gradcheck.Random(50, 0.5, 1.5, c),
					gradcheck.Random(51, -1, 1, c),
				}
				for wrt := 0; wrt < 3; wrt++ {
					res, err := gradcheck.Check(build, in, gradcheck.Options{Wrt: []int{wrt}, Seed: uint64(wrt)})
					if err != nil {
						t.Errorf("wrt input %d: %v", wrt, err)
					}
					t.Logf("wrt input %d: %+v", wrt, res)
				}
			})
		}
	}
}

// TestBatchNormTrainingGradientOfSum: in training mode y has zero mean per
// channel whatever x, so the gradient of sum(y) with respect to x is exactly
// zero; an op that ignored the statistics' dependence on x would give gamma
// times invStd instead.
func TestBatchNormTrainingGradientOfSum(t *testing.T) {
	g := G.NewGraph()
	x := G.NodeFromAny(g, gradcheck.Random(3, -1, 1, 5, 4), G.WithName("x"))
	gamma := G.NodeFromAny(g, gradcheck.Random(4, 0.5, 1.5, 4), G.WithName("gamma"))
	beta := G.NodeFromAny(g, gradcheck.Random(5, -1, 1, 4), G.WithName("beta"))
	y, err := BatchNorm(x, gamma, beta, make([]float32, 4), []float32{1, 1, 1, 1}, 0.99, 1e-3, true)
	if err != nil {
		t.Fatal(err)
	}
	loss, _ := G.Sum(y)
	if _, err := G.Grad(loss, x, beta); err != nil {
		t.Fatal(err)
	}
	m := G.NewTapeMachine(g, G.BindDualValues(x, beta))
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	dx, _ := x.Grad()
	for i, v := range dx.Data().([]float32) {
		if math.Abs(float64(v)) > 1e-5 {
			t.Fatalf("dx[%d] = %v, want 0", i, v)
		}
	}
	db, _ := beta.Grad()
	for j, v := range db.Data().([]float32) {
		if v != 5 {
			t.Fatalf("dbeta[%d] = %v, want 5 (the rows)", j, v)
		}
	}
}

func TestBatchNormHashDiffers(t *testing.T) {
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(2, 3, 3, 4), G.WithName("x"))
	gamma := G.NewVector(g, tensor.Float32, G.WithShape(4), G.WithName("gamma"))
	beta := G.NewVector(g, tensor.Float32, G.WithShape(4), G.WithName("beta"))
	mm1, mv1 := make([]float32, 4), make([]float32, 4)
	mm2, mv2 := make([]float32, 4), make([]float32, 4)
	type cfg struct {
		mm, mv        []float32
		momentum, eps float64
		training      bool
	}
	base := cfg{mm1, mv1, 0.99, 1e-3, true}
	variants := map[string]cfg{
		"moving mean": {mm2, mv1, 0.99, 1e-3, true},
		"moving var":  {mm1, mv2, 0.99, 1e-3, true},
		"momentum":    {mm1, mv1, 0.9, 1e-3, true},
		"epsilon":     {mm1, mv1, 0.99, 1e-5, true},
		"training":    {mm1, mv1, 0.99, 1e-3, false},
	}
	build := func(c cfg) *G.Node {
		y, err := BatchNorm(x, gamma, beta, c.mm, c.mv, c.momentum, c.eps, c.training)
		if err != nil {
			t.Fatal(err)
		}
		return y
	}
	y0 := build(base)
	if build(base) != y0 {
		t.Error("identical BatchNorm calls were not merged")
	}
	for name, c := range variants {
		if y := build(c); y == y0 || y.Hashcode() == y0.Hashcode() {
			t.Errorf("BatchNorm differing in %s merged with the base op", name)
		}
	}
}

func TestBatchNormErrors(t *testing.T) {
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float32, G.WithShape(4, 5), G.WithName("x"))
	x1 := G.NewVector(g, tensor.Float32, G.WithShape(5), G.WithName("x1"))
	x64 := G.NewMatrix(g, tensor.Float64, G.WithShape(4, 5), G.WithName("x64"))
	v5 := G.NewVector(g, tensor.Float32, G.WithShape(5), G.WithName("v5"))
	v3 := G.NewVector(g, tensor.Float32, G.WithShape(3), G.WithName("v3"))
	m15 := G.NewMatrix(g, tensor.Float32, G.WithShape(1, 5), G.WithName("m15"))
	s5, s3 := make([]float32, 5), make([]float32, 3)
	for _, tc := range []struct {
		name           string
		x, gamma, beta *G.Node
		mm, mv         []float32
		momentum, eps  float64
		want           []string
	}{
		{"gamma length", x, v3, v5, s5, make([]float32, 5), 0.99, 1e-3, []string{"gamma shape (3)", "(4, 5)", "5 channels"}},
		{"beta length", x, v5, v3, s5, make([]float32, 5), 0.99, 1e-3, []string{"beta shape (3)", "(4, 5)"}},
		{"gamma rank", x, m15, v5, s5, make([]float32, 5), 0.99, 1e-3, []string{"gamma shape (1, 5)"}},
		{"moving length", x, v5, v5, s3, make([]float32, 5), 0.99, 1e-3, []string{"lengths 3 and 5", "(4, 5)"}},
		{"same slice", x, v5, v5, s5, s5, 0.99, 1e-3, []string{"same slice"}},
		{"rank 1", x1, v5, v5, s5, make([]float32, 5), 0.99, 1e-3, []string{"input shape (5)"}},
		{"float64", x64, v5, v5, s5, make([]float32, 5), 0.99, 1e-3, []string{"float64"}},
		{"momentum", x, v5, v5, s5, make([]float32, 5), 1.5, 1e-3, []string{"momentum", "1.5"}},
		{"epsilon", x, v5, v5, s5, make([]float32, 5), 0.99, 0, []string{"epsilon", "got 0"}},
	} {
		_, err := BatchNorm(tc.x, tc.gamma, tc.beta, tc.mm, tc.mv, tc.momentum, tc.eps, true)
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not contain %q", tc.name, err, w)
			}
		}
	}
}

func TestBatchNormUsePreallocDo(t *testing.T) {
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float32, G.WithShape(4, 3), G.WithName("x"))
	gamma := G.NewVector(g, tensor.Float32, G.WithShape(3), G.WithName("gamma"))
	beta := G.NewVector(g, tensor.Float32, G.WithShape(3), G.WithName("beta"))
	y, err := BatchNorm(x, gamma, beta, make([]float32, 3), []float32{1, 1, 1}, 0.99, 1e-3, false)
	if err != nil {
		t.Fatal(err)
	}
	op := y.Op().(*bnOp)
	in := []G.Value{gradcheck.Random(1, -1, 1, 4, 3), gradcheck.Random(2, 0.5, 1.5, 3), gradcheck.Random(3, -1, 1, 3)}
	want, err := op.Do(in...)
	if err != nil {
		t.Fatal(err)
	}
	p := tensor.New(tensor.WithShape(4, 3), tensor.Of(tensor.Float32))
	if _, err := op.UsePreallocDo(p, in...); err != nil {
		t.Fatal(err)
	}
	if !slicesEqual(p.Float32s(), want.Data().([]float32)) {
		t.Error("UsePreallocDo differs from Do")
	}
	if _, err := op.UsePreallocDo(tensor.New(tensor.WithShape(3, 4), tensor.Of(tensor.Float32)), in...); err == nil {
		t.Error("UsePreallocDo accepted a prealloc of the wrong shape")
	}
}
