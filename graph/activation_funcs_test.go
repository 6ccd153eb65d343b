package graph

import (
	"math"
	"testing"

	"github.com/capa-ml/capa/internal/gradcheck"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestActivationFuncs checks each registered activation's values at a few
// points against its formula, written independently in float64, and its
// gradient against finite differences away from its kinks.
func TestActivationFuncs(t *testing.T) {
	sig := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	phi := func(x float64) float64 { return 0.5 * (1 + math.Erf(x/math.Sqrt2)) }
	want := map[string]func(float64) float64{
		"relu6":      func(x float64) float64 { return math.Min(math.Max(x, 0), 6) },
		"leaky_relu": func(x float64) float64 { return math.Max(x, 0.2*x) },
		"elu":        func(x float64) float64 { return map[bool]float64{true: x, false: math.Exp(x) - 1}[x > 0] },
		"selu": func(x float64) float64 {
			return 1.0507009873554805 * map[bool]float64{true: x, false: 1.6732632423543772 * (math.Exp(x) - 1)}[x > 0]
		},
		"softplus":     func(x float64) float64 { return math.Log(1 + math.Exp(x)) },
		"softsign":     func(x float64) float64 { return x / (1 + math.Abs(x)) },
		"silu":         func(x float64) float64 { return x * sig(x) },
		"swish":        func(x float64) float64 { return x * sig(x) },
		"hard_sigmoid": func(x float64) float64 { return math.Min(math.Max(x/6+0.5, 0), 1) },
		"hard_silu":    func(x float64) float64 { return x * math.Min(math.Max(x/6+0.5, 0), 1) },
		"hard_swish":   func(x float64) float64 { return x * math.Min(math.Max(x/6+0.5, 0), 1) },
		"gelu":         func(x float64) float64 { return x * phi(x) },
		"gelu_approximate": func(x float64) float64 {
			return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
		},
		"mish":        func(x float64) float64 { return x * math.Tanh(math.Log(1+math.Exp(x))) },
		"exponential": math.Exp,
	}
	// Points away from the kinks (0, ±3, 6), large and small.
	points := []float32{-7.5, -3.7, -2.2, -0.9, -0.31, 0.17, 0.8, 1.6, 2.45, 3.3, 5.2, 7.1}
	for name, f := range want {
		act, err := activations.get(name)
		if err != nil {
			t.Fatalf("%s is not registered: %v", name, err)
		}
		g := G.NewGraph()
		x := G.NodeFromAny(g, tensor.New(tensor.WithShape(len(points)), tensor.WithBacking(append([]float32(nil), points...))))
		y, err := act(x)
		if err != nil {
			t.Fatal(err)
		}
		vm := G.NewTapeMachine(g)
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		got := y.Value().Data().([]float32)
		for i, p := range points {
			w := f(float64(p))
			if math.Abs(float64(got[i])-w) > 1e-5*math.Max(1, math.Abs(w)) {
				t.Errorf("%s(%v) = %v, want %v", name, p, got[i], w)
			}
		}
		vm.Close()
		in := tensor.New(tensor.WithShape(2, len(points)/2), tensor.WithBacking(append([]float32(nil), points...)))
		build := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return act(in[0]) }
		if _, err := gradcheck.Check(build, []*tensor.Dense{in}, gradcheck.Options{Eps: 1e-2}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestActivationLayers checks ReLU's arguments, LeakyReLU and ELU.
func TestActivationLayers(t *testing.T) {
	points := []float32{-4, -1.5, -0.5, 0.5, 1.5, 4, 7}
	cases := []struct {
		layer Layer
		want  []float32
	}{
		{&ReLU{}, []float32{0, 0, 0, 0.5, 1.5, 4, 7}},
		{&ReLU{MaxValue: 6}, []float32{0, 0, 0, 0.5, 1.5, 4, 6}},
		{&ReLU{NegativeSlope: 0.1, Threshold: 1}, []float32{-0.5, -0.25, -0.15, -0.05, 1.5, 4, 7}},
		{&LeakyReLU{}, []float32{-1.2, -0.45, -0.15, 0.5, 1.5, 4, 7}},
		{&ELU{Alpha: 2}, []float32{f32(2 * math.Expm1(-4)), f32(2 * math.Expm1(-1.5)), f32(2 * math.Expm1(-0.5)), 0.5, 1.5, 4, 7}},
	}
	for _, c := range cases {
		m, err := Sequential(Input(len(points)), c.layer)
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.Predict(points, 1)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if math.Abs(float64(got[i]-c.want[i])) > 1e-6 {
				t.Errorf("%s %+v: %v, want %v", c.layer.Class(), c.layer, got, c.want)
				break
			}
		}
		// The gradient at the points (none at a kink: 0, 1, 6).
		in := tensor.New(tensor.WithShape(1, len(points)), tensor.WithBacking(append([]float32(nil), points...)))
		l := c.layer
		build := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) { return l.Call(NewCtx(g, true), in[0]) }
		if _, err := gradcheck.Check(build, []*tensor.Dense{in}, gradcheck.Options{Eps: 1e-3}); err != nil {
			t.Errorf("%s %+v: %v", c.layer.Class(), c.layer, err)
		}
	}
}

// TestReluFuncVectorized checks that the vectorized ReLU6 and
// ReLU(max_value) (kernels.ClampTo and ClampBackwardTo) give exactly the
// element-by-element F and D's values, at the kinks and on NaN, ±0, ±Inf.
func TestReluFuncVectorized(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	x := []float32{-7, -1, float32(math.Copysign(0, -1)), 0, 1e-30, 0.5, 3, 5.999, 6, 6.001, 10, inf, -inf, nan, 2, 4, 1}
	for _, maxValue := range []float64{6, 1, math.Inf(1)} {
		f := reluFunc(maxValue, 0, 0)
		if f.FS == nil || f.DS == nil {
			t.Fatalf("reluFunc(%v, 0, 0) is not vectorized", maxValue)
		}
		y, dx, dy := make([]float32, len(x)), make([]float32, len(x)), make([]float32, len(x))
		for i := range dy {
			dy[i] = float32(i + 1)
		}
		f.FS(y, x)
		f.DS(dx, x, y, dy)
		for i, v := range x {
			if w := f.F(v); math.Float32bits(y[i]) != math.Float32bits(w) {
				t.Errorf("max %v: FS(%v) = %v, F = %v", maxValue, v, y[i], w)
			}
			if w := dy[i] * f.D(v, y[i]); dx[i] != w && !(w != w && dx[i] == 0) {
				t.Errorf("max %v: DS(%v) = %v, dy·D = %v", maxValue, v, dx[i], w)
			}
		}
	}
	if f := reluFunc(6, 0.1, 0); f.FS != nil {
		t.Error("a leaky clamp took the clamp kernel")
	}
}
