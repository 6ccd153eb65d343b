package engine

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/capa-ml/capa/internal/gradcheck"
)

func onesDense(shape ...int) *tensor.Dense {
	t := tensor.New(tensor.WithShape(shape...), tensor.Of(tensor.Float32))
	d := t.Float32s()
	for i := range d {
		d[i] = 1
	}
	return t
}

// runDropout runs InvertedDropout on x `runs` times in one machine and
// returns a copy of each output.
func runDropout(t *testing.T, x *tensor.Dense, rate float64, rng *rand.Rand, runs int) [][]float32 {
	t.Helper()
	g := G.NewGraph()
	xn := G.NodeFromAny(g, x, G.WithName("x"))
	y, err := InvertedDropout(xn, rate, rng)
	if err != nil {
		t.Fatal(err)
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	var out [][]float32
	for r := 0; r < runs; r++ {
		m.Reset()
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		out = append(out, append([]float32(nil), y.Value().Data().([]float32)...))
	}
	return out
}

func TestInvertedDropoutMaskStatistics(t *testing.T) {
	const n = 200 * 500
	for _, rate := range []float64{0.1, 0.5, 0.7} {
		outs := runDropout(t, onesDense(200, 500), rate, rand.New(rand.NewPCG(1, 2)), 2)
		scale := float32(1 / (1 - rate))
		var kept, both int
		var sum float64
		for i, v := range outs[0] {
			if v != 0 && v != scale {
				t.Fatalf("rate %v: y[%d] = %v, want 0 or %v", rate, i, v, scale)
			}
			if v != 0 {
				kept++
				if outs[1][i] != 0 {
					both++
				}
			}
			sum += float64(v)
		}
		keep := 1 - rate
		sigma := math.Sqrt(keep * (1 - keep) / n)
		if f := float64(kept) / n; math.Abs(f-keep) > 5*sigma {
			t.Errorf("rate %v: kept fraction %v, want %v ± %v", rate, f, keep, 5*sigma)
		}
		// Inverted dropout preserves the mean: E[y] = x = 1.
		if mean := sum / n; math.Abs(mean-1) > 5*sigma*float64(scale) {
			t.Errorf("rate %v: mean output %v, want 1", rate, mean)
		}
		// Every run draws a fresh, independent mask.
		if f := float64(both) / n; math.Abs(f-keep*keep) > 0.01 {
			t.Errorf("rate %v: fraction kept in both runs %v, want %v (independent masks)", rate, f, keep*keep)
		}
	}
}

func TestInvertedDropoutSameSeedSameMasks(t *testing.T) {
	a := runDropout(t, onesDense(8, 16), 0.4, rand.New(rand.NewPCG(42, 3)), 3)
	b := runDropout(t, onesDense(8, 16), 0.4, rand.New(rand.NewPCG(42, 3)), 3)
	c := runDropout(t, onesDense(8, 16), 0.4, rand.New(rand.NewPCG(43, 3)), 3)
	for r := range a {
		if !slicesEqual(a[r], b[r]) {
			t.Errorf("run %d: same seed gave different masks", r)
		}
		if slicesEqual(a[r], c[r]) {
			t.Errorf("run %d: different seeds gave the same mask", r)
		}
	}
	if slicesEqual(a[0], a[1]) {
		t.Error("two runs gave the same mask")
	}
}

func slicesEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestInvertedDropoutRateZeroIsIdentity(t *testing.T) {
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float32, G.WithShape(2, 3), G.WithName("x"))
	y, err := InvertedDropout(x, 0, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if y != x {
		t.Errorf("rate 0 returned %v, want x itself", y)
	}
}

func TestInvertedDropoutErrors(t *testing.T) {
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float32, G.WithShape(2, 3), G.WithName("x"))
	x64 := G.NewMatrix(g, tensor.Float64, G.WithShape(2, 3), G.WithName("x64"))
	rng := rand.New(rand.NewPCG(1, 1))
	for _, tc := range []struct {
		x    *G.Node
		rate float64
		rng  *rand.Rand
		want string
	}{
		{x, -0.1, rng, "got -0.1"},
		{x, 1, rng, "got 1"},
		{x, math.NaN(), rng, "got NaN"},
		{x, 0.5, nil, "nil *rand.Rand"},
		{x64, 0.5, rng, "float64"},
		{nil, 0.5, rng, "nil input"},
	} {
		_, err := InvertedDropout(tc.x, tc.rate, tc.rng)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("rate %v: error %v, want one containing %q", tc.rate, err, tc.want)
		}
	}
}

// TestInvertedDropoutNotMerged: Gorgonia deduplicates nodes by hash; two
// dropouts of the same input at the same rate must stay two nodes with two
// masks.
func TestInvertedDropoutNotMerged(t *testing.T) {
	g := G.NewGraph()
	x := G.NodeFromAny(g, onesDense(10, 10), G.WithName("x"))
	rng := rand.New(rand.NewPCG(5, 5))
	y1, err := InvertedDropout(x, 0.5, rng)
	if err != nil {
		t.Fatal(err)
	}
	y2, err := InvertedDropout(x, 0.5, rng)
	if err != nil {
		t.Fatal(err)
	}
	if y1 == y2 || y1.Hashcode() == y2.Hashcode() {
		t.Fatal("two dropout ops merged")
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	if slicesEqual(y1.Value().Data().([]float32), y2.Value().Data().([]float32)) {
		t.Error("two dropout ops drew the same mask")
	}
}

// dropoutGradError returns the largest |dx - y/x| for loss = sum(y*r), x
// all ones, r = 1 (so dx must equal the mask scaled by 1/(1-rate), which is
// y itself). It runs forward and backward in one machine run, twice, so the
// second run checks that the gradient follows the new mask.
func dropoutGradError(t *testing.T, drop func(*G.Node) (*G.Node, error)) float64 {
	t.Helper()
	g := G.NewGraph()
	x := G.NodeFromAny(g, onesDense(20, 30), G.WithName("x"))
	y, err := drop(x)
	if err != nil {
		t.Fatal(err)
	}
	loss, err := G.Sum(y)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := G.Grad(loss, x); err != nil {
		t.Fatal(err)
	}
	m := G.NewTapeMachine(g, G.BindDualValues(x))
	defer m.Close()
	var worst float64
	for run := 0; run < 2; run++ {
		m.Reset()
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		gv, err := x.Grad()
		if err != nil {
			t.Fatal(err)
		}
		dx, yv := gv.Data().([]float32), y.Value().Data().([]float32)
		for i := range dx {
			worst = math.Max(worst, math.Abs(float64(dx[i]-yv[i])))
		}
		// A TapeMachine adds each run's gradient into the bound dual
		// value (solvers zero it in Step): clear it for the next run.
		gv.(*tensor.Dense).Zero()
	}
	return worst
}

func TestInvertedDropoutGradientUsesForwardMask(t *testing.T) {
	for _, rate := range []float64{0.2, 0.5, 0.7} {
		rng := rand.New(rand.NewPCG(9, 9))
		e := dropoutGradError(t, func(x *G.Node) (*G.Node, error) { return InvertedDropout(x, rate, rng) })
		if e > 1e-6 {
			t.Errorf("rate %v: gradient differs from mask/(1-rate) by %v", rate, e)
		}
	}
}

// TestGorgoniaDropoutGradientIsWrong documents the bug the op replaces and
// shows that dropoutGradError detects it: Gorgonia v0.9.18 scales the
// gradient by 1/rate instead of 1/(1-rate).
func TestGorgoniaDropoutGradientIsWrong(t *testing.T) {
	e := dropoutGradError(t, func(x *G.Node) (*G.Node, error) { return G.Dropout(x, 0.2) })
	if e < 1 {
		t.Errorf("Gorgonia's Dropout gradient at rate 0.2 is off by only %v: fixed upstream?", e)
	}
	t.Logf("Gorgonia's Dropout(0.2) gradient is off by up to %v", e)
}

func TestInvertedDropoutGradcheck(t *testing.T) {
	for _, rate := range []float64{0.2, 0.7} {
		var op *dropoutOp
		build := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
			y, err := InvertedDropout(in[0], rate, rand.New(rand.NewPCG(3, 4)))
			if err != nil {
				return nil, err
			}
			op = y.Op().(*dropoutOp)
			op.freezeMask(true)
			return y, nil
		}
		x := gradcheck.Random(1, -1, 1, 6, 7)
		res, err := gradcheck.Check(build, []*tensor.Dense{x}, gradcheck.Options{})
		if err != nil {
			t.Errorf("rate %v: %v", rate, err)
		}
		var dropped int
		for _, v := range op.mask {
			if v == 0 {
				dropped++
			}
		}
		if dropped == 0 || dropped == len(op.mask) {
			t.Errorf("rate %v: mask drops %d of %d: the check is vacuous", rate, dropped, len(op.mask))
		}
		t.Logf("rate %v: %+v (%d of %d dropped)", rate, res, dropped, len(op.mask))
	}
}

func TestDropoutUsePreallocDo(t *testing.T) {
	op := &dropoutOp{rate: 0.5, rng: rand.New(rand.NewPCG(1, 2)), id: 1 << 60}
	op.freezeMask(true)
	x := gradcheck.Random(2, -1, 1, 4, 5)
	want, err := op.Do(x)
	if err != nil {
		t.Fatal(err)
	}
	p := tensor.New(tensor.WithShape(4, 5), tensor.Of(tensor.Float32))
	got, err := op.UsePreallocDo(p, x)
	if err != nil {
		t.Fatal(err)
	}
	if got != G.Value(p) || !slicesEqual(p.Float32s(), want.Data().([]float32)) {
		t.Error("UsePreallocDo differs from Do or did not write into prealloc")
	}
	if _, err := op.UsePreallocDo(tensor.New(tensor.WithShape(5, 4), tensor.Of(tensor.Float32)), x); err == nil {
		t.Error("UsePreallocDo accepted a prealloc of the wrong shape")
	}
}
