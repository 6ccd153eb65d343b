package graph

import (
	"fmt"
	"math"

	"github.com/capa-ml/capa/internal/engine"
	"github.com/capa-ml/capa/internal/kernels"
	G "gorgonia.org/gorgonia"
)

// Keras's activation functions beyond relu, sigmoid, tanh and softmax, each
// one element-wise op forward and one backward (engine.Unary), registered
// under Keras 3's names; "swish" and "hard_swish" are Keras's aliases of
// "silu" and "hard_silu". "gelu" is exact, as Keras's default; Capa names
// the tanh approximation "gelu_approximate" (Keras's approximate=True).

func init() {
	for name, f := range map[string]engine.UnaryFunc{
		"relu6":            reluFunc(6, 0, 0),
		"leaky_relu":       reluFunc(math.Inf(1), 0.2, 0),
		"elu":              eluFunc(1),
		"selu":             seluFunc,
		"softplus":         softplusFunc,
		"softsign":         softsignFunc,
		"silu":             siluFunc,
		"swish":            siluFunc,
		"hard_sigmoid":     hardSigmoidFunc,
		"hard_silu":        hardSiluFunc,
		"hard_swish":       hardSiluFunc,
		"gelu":             geluFunc,
		"gelu_approximate": geluTanhFunc,
		"mish":             mishFunc,
		"exponential":      expFunc,
	} {
		RegisterActivation(name, unary(f))
	}
}

// UnaryFunc is an element-wise function with its derivative, for Unary.
type UnaryFunc = engine.UnaryFunc

// Unary applies an element-wise function and its derivative (see
// engine.UnaryFunc) in one op each way: for activations of layers outside
// graph.
func Unary(x *G.Node, f UnaryFunc) (*G.Node, error) { return engine.Unary(x, f) }

func unary(f engine.UnaryFunc) ActivationFunc {
	return func(x *G.Node) (*G.Node, error) { return engine.Unary(x, f) }
}

func f32(v float64) float32 { return float32(v) }

// reluFunc is Keras's ReLU layer: maxValue above it, x from threshold up,
// slope·(x - threshold) below.
//
// Without slope and threshold (ReLU6 and ReLU(max_value)) it is a clamp to
// [0, maxValue], run by the vectorized kernels.ClampTo, whose values are
// the same as F's (NaN and -0 pass).
func reluFunc(maxValue, slope, threshold float64) engine.UnaryFunc {
	m, s, t := f32(maxValue), f32(slope), f32(threshold)
	f := reluFuncScalar(m, s, t)
	f.Name = fmt.Sprintf("relu(max %v, slope %v, threshold %v)", maxValue, slope, threshold)
	if s == 0 && t == 0 {
		f.FS = func(y, x []float32) { kernels.ClampTo(y, x, 0, m) }
		f.DS = func(dx, _, y, dy []float32) { kernels.ClampBackwardTo(dx, y, dy, 0, m) }
		f.Clamp = &[2]float32{0, m}
	}
	return f
}

// reluFuncScalar is reluFunc's F and D element by element.
func reluFuncScalar(m, s, t float32) engine.UnaryFunc {
	return engine.UnaryFunc{
		F: func(x float32) float32 {
			switch {
			case x >= m:
				return m
			case x >= t:
				return x
			case s == 0 && x < t:
				return 0 // not 0·(-Inf - t) = NaN, nor -0 (NaN passes)
			}
			return s * (x - t)
		},
		D: func(x, _ float32) float32 {
			switch {
			case x >= m:
				return 0
			case x > t:
				return 1
			}
			return s
		},
	}
}

func eluFunc(alpha float64) engine.UnaryFunc {
	a := alpha
	return engine.UnaryFunc{
		Name: fmt.Sprintf("elu(%v)", alpha),
		F: func(x float32) float32 {
			if x > 0 {
				return x
			}
			return f32(a * math.Expm1(float64(x)))
		},
		D: func(x, y float32) float32 {
			if x > 0 {
				return 1
			}
			return y + f32(a)
		},
	}
}

const seluAlpha, seluScale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946

var seluFunc = engine.UnaryFunc{
	Name: "selu",
	F: func(x float32) float32 {
		if x > 0 {
			return f32(seluScale * float64(x))
		}
		return f32(seluScale * seluAlpha * math.Expm1(float64(x)))
	},
	D: func(x, _ float32) float32 {
		if x > 0 {
			return seluScale
		}
		return f32(seluScale * seluAlpha * math.Exp(float64(x)))
	},
}

func sigmoid64(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// softplus64 is log(1 + e^x) without overflow.
func softplus64(x float64) float64 { return math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x))) }

var softplusFunc = engine.UnaryFunc{
	Name: "softplus",
	F:    func(x float32) float32 { return f32(softplus64(float64(x))) },
	D:    func(x, _ float32) float32 { return f32(sigmoid64(float64(x))) },
}

var softsignFunc = engine.UnaryFunc{
	Name: "softsign",
	F:    func(x float32) float32 { return x / (1 + float32(math.Abs(float64(x)))) },
	D: func(x, _ float32) float32 {
		d := 1 + math.Abs(float64(x))
		return f32(1 / (d * d))
	},
}

var siluFunc = engine.UnaryFunc{
	Name: "silu",
	F:    func(x float32) float32 { return f32(float64(x) * sigmoid64(float64(x))) },
	D: func(x, _ float32) float32 {
		s := sigmoid64(float64(x))
		return f32(s + float64(x)*s*(1-s))
	},
}

// hardSigmoidFunc is Keras 3's hard_sigmoid, relu6(x + 3) / 6.
var hardSigmoidFunc = engine.UnaryFunc{
	Name: "hard_sigmoid",
	F:    func(x float32) float32 { return min(max(x+3, 0), 6) / 6 },
	D: func(x, _ float32) float32 {
		if x > -3 && x < 3 {
			return 1.0 / 6
		}
		return 0
	},
}

// hardSiluFunc is x·hard_sigmoid(x).
var hardSiluFunc = engine.UnaryFunc{
	Name: "hard_silu",
	F:    func(x float32) float32 { return x * min(max(x+3, 0), 6) / 6 },
	D: func(x, _ float32) float32 {
		switch {
		case x <= -3:
			return 0
		case x >= 3:
			return 1
		}
		return (2*x + 3) / 6
	},
}

// geluFunc is the exact GELU, x·Φ(x).
var geluFunc = engine.UnaryFunc{
	Name: "gelu",
	F: func(x float32) float32 {
		v := float64(x)
		return f32(0.5 * v * (1 + math.Erf(v/math.Sqrt2)))
	},
	D: func(x, _ float32) float32 {
		v := float64(x)
		return f32(0.5*(1+math.Erf(v/math.Sqrt2)) + v*math.Exp(-v*v/2)/math.Sqrt(2*math.Pi))
	},
}

// geluTanhFunc is GELU's tanh approximation,
// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
var geluTanhFunc = engine.UnaryFunc{
	Name: "gelu_approximate",
	F: func(x float32) float32 {
		v := float64(x)
		return f32(0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v))))
	},
	D: func(x, _ float32) float32 {
		v := float64(x)
		k := math.Sqrt(2 / math.Pi)
		t := math.Tanh(k * (v + 0.044715*v*v*v))
		return f32(0.5*(1+t) + 0.5*v*(1-t*t)*k*(1+3*0.044715*v*v))
	},
}

var mishFunc = engine.UnaryFunc{
	Name: "mish",
	F: func(x float32) float32 {
		v := float64(x)
		return f32(v * math.Tanh(softplus64(v)))
	},
	D: func(x, _ float32) float32 {
		v := float64(x)
		t := math.Tanh(softplus64(v))
		return f32(t + v*sigmoid64(v)*(1-t*t))
	},
}

var expFunc = engine.UnaryFunc{
	Name: "exponential",
	F:    func(x float32) float32 { return f32(math.Exp(float64(x))) },
	D:    func(_, y float32) float32 { return y },
}
