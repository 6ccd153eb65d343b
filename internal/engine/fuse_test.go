package engine

import (
	"math"
	"strings"
	"testing"

	"github.com/capa-ml/capa/internal/gradcheck"
	"github.com/capa-ml/capa/internal/kernels"
	G "gorgonia.org/gorgonia"
)

// TestExecutorFusesConvPool: a max pooling of a convolution's output that
// nothing else reads runs fused, with the unfused values bit for bit; when
// the convolution's output is also requested, or a gradient reads it,
// nothing is fused.
func TestExecutorFusesConvPool(t *testing.T) {
	for _, relu := range []bool{false, true} {
		g := G.NewGraph()
		x := G.NodeFromAny(g, gradcheck.Random(1, -1, 1, 6, 14, 14, 3), G.WithName("x"))
		k := G.NodeFromAny(g, gradcheck.Random(2, -1, 1, 5, 5, 3, 8), G.WithName("k"))
		b := G.NodeFromAny(g, gradcheck.Random(3, -0.5, 0.5, 8), G.WithName("b"))
		var conv *G.Node
		if relu {
			conv = G.Must(Conv2DBiasRelu(x, k, b, [2]int{1, 1}, [4]int{}))
		} else {
			conv = G.Must(Convolution2D(x, k, [2]int{1, 1}, [4]int{}))
		}
		pool := G.Must(MaxPool2D(conv, [2]int{2, 2}, [2]int{2, 2}, [4]int{}))
		run := func(outs ...*G.Node) (*Executor, []float32) { return runTwice(t, g, pool, outs...) }
		ex, got := run(pool)
		if path, _, _ := ConvRun(conv); path != "stream+maxpool" {
			t.Fatalf("relu %v: convolution ran %q, want it fused", relu, path)
		}
		if _, err := ex.Value(conv); err == nil || !strings.Contains(err.Error(), "not kept") {
			t.Errorf("relu %v: Value of the fused convolution: %v", relu, err)
		}
		_, want := run(pool, conv)
		if path, _, _ := ConvRun(conv); path != "stream" {
			t.Fatalf("relu %v: with its output requested the convolution ran %q", relu, path)
		}
		for i := range want {
			if d := math.Abs(float64(got[i] - want[i])); d > 1e-6*math.Max(1, math.Abs(float64(want[i]))) {
				t.Fatalf("relu %v: [%d] fused %v, unfused %v", relu, i, got[i], want[i])
			}
		}
		loss := G.Must(G.Sum(pool))
		gs, err := G.Grad(loss, k)
		if err != nil {
			t.Fatal(err)
		}
		run(loss, gs[0])
		if path, _, _ := ConvRun(conv); path != "im2col" {
			t.Errorf("relu %v: training ran %q", relu, path)
		}
	}
}

// TestExecutorFusesConvNorm: a residual block of convolutions, each
// followed by an inference batch normalization (one after a bias), their
// sum and ReLUs runs as fused steps with the unfused values bit for bit;
// requested intermediate values, and a batch normalization in training
// mode, are not fused.
func TestExecutorFusesConvNorm(t *testing.T) {
	g := G.NewGraph()
	x := G.NodeFromAny(g, gradcheck.Random(1, -1, 1, 2, 8, 8, 16), G.WithName("x"))
	param := func(seed uint64, name string, lo, hi float64, shape ...int) *G.Node {
		return G.NodeFromAny(g, gradcheck.Random(seed, lo, hi, shape...), G.WithName(name))
	}
	stats := func(seed uint64, c int) ([]float32, []float32) {
		m := gradcheck.Random(seed, -0.5, 0.5, c).Data().([]float32)
		v := gradcheck.Random(seed+1, 0.5, 2, c).Data().([]float32)
		return m, v
	}
	bn := func(y *G.Node, seed uint64, training bool) *G.Node {
		c := y.Shape()[3]
		m, v := stats(seed, c)
		return G.Must(BatchNorm(y, param(seed+2, "", 0.5, 1.5, c), param(seed+3, "", -0.5, 0.5, c), m, v, 0.99, 1e-3, training))
	}
	same := [4]int{1, 1, 1, 1}
	conv1 := G.Must(Convolution2D(x, param(10, "k1", -0.3, 0.3, 3, 3, 16, 16), [2]int{1, 1}, same))
	bn1 := bn(conv1, 20, false)
	a := G.Must(Relu(bn1))
	conv2 := G.Must(Convolution2D(a, param(30, "k2", -0.3, 0.3, 3, 3, 16, 24), [2]int{1, 1}, same))
	biased := G.Must(BiasAdd(conv2, param(31, "b2", -0.5, 0.5, 24)))
	bn2 := bn(biased, 40, false)
	convD := G.Must(Convolution2D(x, param(50, "kd", -0.3, 0.3, 1, 1, 16, 24), [2]int{1, 1}, [4]int{}))
	bnD := bn(convD, 60, false)
	sum := G.Must(Sum(bn2, bnD))
	out := G.Must(Relu(sum))
	run := func(outs ...*G.Node) (*Executor, []float32) { return runTwice(t, g, out, outs...) }
	ex, got := run(out)
	steps := 0
	for _, st := range ex.steps {
		if _, ok := st.op.(*convNormOp); !ok {
			t.Errorf("step %v not fused", st.op)
		}
		steps++
	}
	if steps != 3 {
		t.Errorf("%d steps, want 3 fused ones", steps)
	}
	if path, _, _ := ConvRun(conv1); path != "winograd" {
		t.Errorf("the first convolution ran %q, want winograd", path)
	}
	for _, n := range []*G.Node{conv1, bn1, conv2, biased, sum} {
		if _, err := ex.Value(n); err == nil || !strings.Contains(err.Error(), "not kept") {
			t.Errorf("Value of fused %v: %v", n.Op(), err)
		}
	}
	_, want := run(out, conv1, bn1, biased, bn2, convD, bnD, sum)
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("[%d] fused %v, unfused %v", i, got[i], want[i])
		}
	}
	// In training mode the normalization is its own step.
	y := G.Must(Relu(bn(G.Must(Convolution2D(x, param(70, "k3", -0.3, 0.3, 3, 3, 16, 8), [2]int{1, 1}, same)), 80, true)))
	ex, err := NewExecutor(g, y)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range ex.steps {
		if _, ok := st.op.(*convNormOp); ok {
			t.Errorf("training batch normalization fused into %v", st.op)
		}
	}
}

// runTwice plans outs in g, runs the plan twice (the second run on the
// first's buffers) and returns the Executor and a copy of v's value.
func runTwice(t *testing.T, g *G.ExprGraph, v *G.Node, outs ...*G.Node) (*Executor, []float32) {
	t.Helper()
	ex, err := NewExecutor(g, outs...)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := ex.Run(); err != nil {
			t.Fatal(err)
		}
	}
	val, err := ex.Value(v)
	if err != nil {
		t.Fatal(err)
	}
	return ex, append([]float32(nil), val.Data().([]float32)...)
}

// TestExecutorFusesConvNormClamp checks the fusion of a ReLU6 (a Unary
// clamp) after a convolution and its batch normalization, as MobileNetV2
// has them: pointwise, 3x3 and depthwise (one filter per channel, the
// AVX2 kernel; two, the pure Go), bit for bit against the unfused plan.
func TestExecutorFusesConvNormClamp(t *testing.T) {
	g := G.NewGraph()
	x := G.NodeFromAny(g, gradcheck.Random(1, -1, 1, 2, 8, 8, 16), G.WithName("x"))
	param := func(seed uint64, lo, hi float64, shape ...int) *G.Node {
		return G.NodeFromAny(g, gradcheck.Random(seed, lo, hi, shape...))
	}
	relu6 := UnaryFunc{Name: "relu6", F: func(v float32) float32 { return min(max(v, 0), 6) }, D: func(float32, float32) float32 { return 1 },
		FS: func(y, x []float32) { kernels.ClampTo(y, x, 0, 6) }, Clamp: &[2]float32{0, 6}}
	block := func(y *G.Node, seed uint64, k, f int) (conv, norm, act *G.Node) {
		c := y.Shape()[3]
		pad := [4]int{k / 2, k / 2, k / 2, k / 2}
		conv = G.Must(Convolution2D(y, param(seed, -2, 2, k, k, c, f), [2]int{1, 1}, pad))
		m := gradcheck.Random(seed+1, -0.5, 0.5, f).Data().([]float32)
		v := gradcheck.Random(seed+2, 0.5, 2, f).Data().([]float32)
		norm = G.Must(BatchNorm(conv, param(seed+3, 0.5, 3, f), param(seed+4, -0.5, 3, f), m, v, 0.99, 1e-3, false))
		act = G.Must(Unary(norm, relu6))
		return
	}
	// depthwise is DepthwiseConv2D → BatchNorm → ReLU6, with dm filters
	// per channel.
	depthwise := func(y *G.Node, seed uint64, dm int) (conv, norm, act *G.Node) {
		c := y.Shape()[3]
		conv = G.Must(DepthwiseConv2D(y, param(seed, -2, 2, 3, 3, c, dm), [2]int{1, 1}, [4]int{1, 1, 1, 1}))
		f := c * dm
		m := gradcheck.Random(seed+1, -0.5, 0.5, f).Data().([]float32)
		v := gradcheck.Random(seed+2, 0.5, 2, f).Data().([]float32)
		norm = G.Must(BatchNorm(conv, param(seed+3, 0.5, 3, f), param(seed+4, -0.5, 3, f), m, v, 0.99, 1e-3, false))
		act = G.Must(Unary(norm, relu6))
		return
	}
	c1, n1, a1 := block(x, 10, 1, 32)
	c2, n2, a2 := block(a1, 20, 3, 16)
	d1, m1, b1 := depthwise(a2, 30, 1)
	d2, m2, out := depthwise(b1, 40, 2)
	ex, got := runTwice(t, g, out, out)
	fused := 0
	for _, st := range ex.steps {
		if op, ok := st.op.(*convNormOp); ok && op.clamp != nil {
			fused++
		}
	}
	if fused != 4 {
		t.Errorf("%d steps fused with their clamp, want 4 (2 convolutions, 2 depthwise)", fused)
	}
	_, want := runTwice(t, g, out, out, c1, n1, a1, c2, n2, a2, d1, m1, b1, d2, m2)
	clamped := 0
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("[%d] fused %v, unfused %v", i, got[i], want[i])
		}
		if want[i] == 0 || want[i] == 6 {
			clamped++
		}
	}
	if clamped == 0 || clamped == len(want) {
		t.Errorf("%d of %d values at the bounds: the test does not exercise the clamp", clamped, len(want))
	}
}
