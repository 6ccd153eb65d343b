package engine

import (
	"errors"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// UnaryFunc is an element-wise function with its derivative, for Unary.
type UnaryFunc struct {
	// Name identifies the function and its parameters ("elu(1)").
	Name string
	// F is the function.
	F func(x float32) float32
	// D is its derivative at x, given y = F(x) (whichever is cheaper).
	D func(x, y float32) float32
	// FS and DS, if set, are F and dx = dy·D(x, y) over whole slices: a
	// vectorized kernel that gives F's and D's values, used instead of
	// calling them element by element.
	FS func(y, x []float32)
	DS func(dx, x, y, dy []float32)
	// Clamp, if set, says that F is kernels.ClampTo to [Clamp[0],
	// Clamp[1]] (ReLU6): at inference the Executor may then run it as the
	// epilogue of the convolution before it.
	Clamp *[2]float32
}

// Unary applies f element by element to a float32 tensor of any shape, in
// one op forward (y = F(x)) and one backward (dx = dy·D(x, y)): the
// activations that Gorgonia would build from several ops (ELU, GELU,
// swish, hard sigmoid, ...). It is an engine.Func.
func Unary(x *G.Node, f UnaryFunc) (*G.Node, error) {
	if f.F == nil || f.D == nil || f.Name == "" {
		return nil, errors.New("graph: Unary: the function needs a name, F and D")
	}
	return Apply(&Func{
		Name:  f.Name,
		clamp: f.Clamp,
		Shape: func(in []tensor.Shape) (tensor.Shape, error) { return in[0].Clone(), nil },
		Forward: func(y []float32, x [][]float32, _ []tensor.Shape) {
			if f.FS != nil {
				f.FS(y, x[0])
				return
			}
			for i, v := range x[0] {
				y[i] = f.F(v)
			}
		},
		Grad: []func([]float32, [][]float32, []tensor.Shape, []float32, []float32){
			func(dx []float32, x [][]float32, _ []tensor.Shape, y, dy []float32) {
				if f.DS != nil {
					f.DS(dx, x[0], y, dy)
					return
				}
				for i, v := range x[0] {
					dx[i] = dy[i] * f.D(v, y[i])
				}
			},
		},
	}, x)
}
