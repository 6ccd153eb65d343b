package graph

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/capa-ml/capa/internal/engine"
	G "gorgonia.org/gorgonia"
)

// The merge layers combine several tensors element by element (Add,
// Subtract, Multiply, Average, Maximum, Minimum) or by joining them along
// an axis (Concatenate), as Keras's. They take two or more inputs (Subtract
// exactly two) and are used in Functional models: Apply(&Add{}, a, b).
// Element-wise merges broadcast as Keras's do: per-sample shapes of the
// same rank whose dimensions are equal or 1.

// mergeShape checks the inputs of an element-wise merge and returns the
// broadcast output shape.
func mergeShape(class string, in []Shape, exactly int) (Shape, error) {
	if exactly > 0 && len(in) != exactly {
		return nil, fmt.Errorf("a %s layer should be called on exactly %d inputs, got %d", class, exactly, len(in))
	}
	if len(in) < 2 {
		return nil, fmt.Errorf("a %s layer should be called on a list of at least 2 inputs, got %d", class, len(in))
	}
	out := in[0].Clone()
	for _, s := range in[1:] {
		if len(s) != len(out) {
			return nil, fmt.Errorf("inputs have incompatible shapes: received shapes %s", shapeList(in))
		}
		for i := range s {
			switch {
			case s[i] == out[i]:
			case out[i] == 1:
				out[i] = s[i]
			case s[i] == 1:
			default:
				return nil, fmt.Errorf("inputs have incompatible shapes: received shapes %s", shapeList(in))
			}
		}
	}
	return out, nil
}

var errOneInput = errors.New("a merge layer takes several inputs: Apply it to two or more tensors")

// broadcast applies same to a and b after expanding their dimensions of
// size 1 to the other's size. The expansion is a concatenation of copies
// (engine.Concat), so the gradient of an expanded input is the sum over its
// copies, accumulated by the graph. (Gorgonia v0.9.18's Broadcast ops give
// wrong gradients when a broadcast spans several axes or both inputs.)
func broadcast(same func(a, b *G.Node) (*G.Node, error), a, b *G.Node) (*G.Node, error) {
	as, bs := a.Shape(), b.Shape()
	if as.Eq(bs) {
		return same(a, b)
	}
	if len(as) != len(bs) {
		return nil, fmt.Errorf("shapes %v and %v do not broadcast", as, bs)
	}
	var err error
	for i := range as {
		switch {
		case as[i] == bs[i]:
		case as[i] == 1:
			a, err = repeat(a, i, bs[i])
		case bs[i] == 1:
			b, err = repeat(b, i, as[i])
		default:
			return nil, fmt.Errorf("shapes %v and %v do not broadcast", as, bs)
		}
		if err != nil {
			return nil, err
		}
	}
	return same(a, b)
}

// repeat concatenates n copies of x along axis.
func repeat(x *G.Node, axis, n int) (*G.Node, error) {
	xs := make([]*G.Node, n)
	for i := range xs {
		xs[i] = x
	}
	return engine.Concat(axis, xs...)
}

func addNodes(a, b *G.Node) (*G.Node, error) { return broadcast(G.Add, a, b) }
func subNodes(a, b *G.Node) (*G.Node, error) { return broadcast(G.Sub, a, b) }
func mulNodes(a, b *G.Node) (*G.Node, error) { return broadcast(G.HadamardProd, a, b) }

// fold combines xs left to right with op.
func fold(xs []*G.Node, op func(a, b *G.Node) (*G.Node, error)) (*G.Node, error) {
	out := xs[0]
	for _, x := range xs[1:] {
		var err error
		if out, err = op(out, x); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// extreme returns max(a, b) (sign 1) or min(a, b) (sign -1) as
// (a + b ± |a - b|) / 2: where a and b tie, each gets half the gradient.
func extreme(sign float32) func(a, b *G.Node) (*G.Node, error) {
	return func(a, b *G.Node) (*G.Node, error) {
		s, err := addNodes(a, b)
		if err != nil {
			return nil, err
		}
		d, err := subNodes(a, b)
		if err != nil {
			return nil, err
		}
		if d, err = G.Abs(d); err != nil {
			return nil, err
		}
		if sign > 0 {
			s, err = G.Add(s, d)
		} else {
			s, err = G.Sub(s, d)
		}
		if err != nil {
			return nil, err
		}
		return G.Mul(s, G.NewConstant(float32(0.5)))
	}
}

// Add sums its inputs (Keras's Add): the residual connection.
type Add struct{ Base }

// Subtract subtracts its second input from its first (Keras's Subtract).
type Subtract struct{ Base }

// Multiply multiplies its inputs element by element (Keras's Multiply).
type Multiply struct{ Base }

// Average averages its inputs (Keras's Average).
type Average struct{ Base }

// Maximum takes the element-wise maximum of its inputs (Keras's Maximum);
// where inputs tie, the gradient is shared equally.
type Maximum struct{ Base }

// Minimum takes the element-wise minimum of its inputs (Keras's Minimum);
// where inputs tie, the gradient is shared equally.
type Minimum struct{ Base }

func init() {
	Register("Add", func() Layer { return &Add{} })
	Register("Subtract", func() Layer { return &Subtract{} })
	Register("Multiply", func() Layer { return &Multiply{} })
	Register("Average", func() Layer { return &Average{} })
	Register("Maximum", func() Layer { return &Maximum{} })
	Register("Minimum", func() Layer { return &Minimum{} })
	Register("Concatenate", func() Layer { return &Concatenate{} })
}

// Class returns "Add".
func (l *Add) Class() string { return "Add" }

// Build refuses one input: Add takes several (BuildMulti).
func (l *Add) Build(Shape, *rand.Rand) (Shape, error) { return nil, errOneInput }

// Call refuses one input (CallMulti).
func (l *Add) Call(*Ctx, *G.Node) (*G.Node, error) { return nil, errOneInput }

// BuildMulti checks that the shapes broadcast.
func (l *Add) BuildMulti(in []Shape, _ *rand.Rand) (Shape, error) {
	return mergeShape("Add", in, 0)
}

// CallMulti sums xs: in one op when their shapes are equal (as in a
// residual connection), else pairwise with broadcasting.
func (l *Add) CallMulti(_ *Ctx, xs []*G.Node) (*G.Node, error) {
	for _, x := range xs[1:] {
		if !x.Shape().Eq(xs[0].Shape()) {
			return fold(xs, addNodes)
		}
	}
	return engine.Sum(xs...)
}

// Class returns "Subtract".
func (l *Subtract) Class() string { return "Subtract" }

// Build refuses one input: Subtract takes several (BuildMulti).
func (l *Subtract) Build(Shape, *rand.Rand) (Shape, error) { return nil, errOneInput }

// Call refuses one input (CallMulti).
func (l *Subtract) Call(*Ctx, *G.Node) (*G.Node, error) { return nil, errOneInput }

// BuildMulti checks there are two inputs whose shapes broadcast.
func (l *Subtract) BuildMulti(in []Shape, _ *rand.Rand) (Shape, error) {
	return mergeShape("Subtract", in, 2)
}

// CallMulti returns xs[0] - xs[1].
func (l *Subtract) CallMulti(_ *Ctx, xs []*G.Node) (*G.Node, error) {
	return subNodes(xs[0], xs[1])
}

// Class returns "Multiply".
func (l *Multiply) Class() string { return "Multiply" }

// Build refuses one input: Multiply takes several (BuildMulti).
func (l *Multiply) Build(Shape, *rand.Rand) (Shape, error) { return nil, errOneInput }

// Call refuses one input (CallMulti).
func (l *Multiply) Call(*Ctx, *G.Node) (*G.Node, error) { return nil, errOneInput }

// BuildMulti checks that the shapes broadcast.
func (l *Multiply) BuildMulti(in []Shape, _ *rand.Rand) (Shape, error) {
	return mergeShape("Multiply", in, 0)
}

// CallMulti multiplies xs.
func (l *Multiply) CallMulti(_ *Ctx, xs []*G.Node) (*G.Node, error) { return fold(xs, mulNodes) }

// Class returns "Average".
func (l *Average) Class() string { return "Average" }

// Build refuses one input: Average takes several (BuildMulti).
func (l *Average) Build(Shape, *rand.Rand) (Shape, error) { return nil, errOneInput }

// Call refuses one input (CallMulti).
func (l *Average) Call(*Ctx, *G.Node) (*G.Node, error) { return nil, errOneInput }

// BuildMulti checks that the shapes broadcast.
func (l *Average) BuildMulti(in []Shape, _ *rand.Rand) (Shape, error) {
	return mergeShape("Average", in, 0)
}

// CallMulti averages xs.
func (l *Average) CallMulti(_ *Ctx, xs []*G.Node) (*G.Node, error) {
	s, err := fold(xs, addNodes)
	if err != nil {
		return nil, err
	}
	return G.Mul(s, G.NewConstant(float32(1)/float32(len(xs))))
}

// Class returns "Maximum".
func (l *Maximum) Class() string { return "Maximum" }

// Build refuses one input: Maximum takes several (BuildMulti).
func (l *Maximum) Build(Shape, *rand.Rand) (Shape, error) { return nil, errOneInput }

// Call refuses one input (CallMulti).
func (l *Maximum) Call(*Ctx, *G.Node) (*G.Node, error) { return nil, errOneInput }

// BuildMulti checks that the shapes broadcast.
func (l *Maximum) BuildMulti(in []Shape, _ *rand.Rand) (Shape, error) {
	return mergeShape("Maximum", in, 0)
}

// CallMulti takes the element-wise maximum of xs.
func (l *Maximum) CallMulti(_ *Ctx, xs []*G.Node) (*G.Node, error) { return fold(xs, extreme(1)) }

// Class returns "Minimum".
func (l *Minimum) Class() string { return "Minimum" }

// Build refuses one input: Minimum takes several (BuildMulti).
func (l *Minimum) Build(Shape, *rand.Rand) (Shape, error) { return nil, errOneInput }

// Call refuses one input (CallMulti).
func (l *Minimum) Call(*Ctx, *G.Node) (*G.Node, error) { return nil, errOneInput }

// BuildMulti checks that the shapes broadcast.
func (l *Minimum) BuildMulti(in []Shape, _ *rand.Rand) (Shape, error) {
	return mergeShape("Minimum", in, 0)
}

// CallMulti takes the element-wise minimum of xs.
func (l *Minimum) CallMulti(_ *Ctx, xs []*G.Node) (*G.Node, error) { return fold(xs, extreme(-1)) }

// Concatenate joins its inputs along Axis (Keras's Concatenate; the axis
// counts the batch dimension, as Keras's: -1, the default, is the channels
// of (H, W, C) maps). The other dimensions must agree.
type Concatenate struct {
	Base
	// Axis is the axis to join along, negative from the end; zero (the
	// batch axis) means the default, -1.
	Axis int `json:"axis"`

	axis int // in the batched tensor
}

// Class returns "Concatenate".
func (l *Concatenate) Class() string { return "Concatenate" }

// Build refuses one input: Concatenate takes several (BuildMulti).
func (l *Concatenate) Build(Shape, *rand.Rand) (Shape, error) { return nil, errOneInput }

// Call refuses one input (CallMulti).
func (l *Concatenate) Call(*Ctx, *G.Node) (*G.Node, error) { return nil, errOneInput }

// SetDefaults sets Axis to -1.
func (l *Concatenate) SetDefaults() { setDefault(&l.Axis, -1) }

// Validate refuses axis 0, the batch axis.
func (l *Concatenate) Validate() error {
	if l.Axis == 0 {
		return errors.New("axis 0 is the batch axis: Concatenate joins along another")
	}
	return nil
}

// BuildMulti checks that the shapes agree off the axis.
func (l *Concatenate) BuildMulti(in []Shape, _ *rand.Rand) (Shape, error) {
	if len(in) < 2 {
		return nil, fmt.Errorf("a Concatenate layer should be called on a list of at least 2 inputs, got %d", len(in))
	}
	rank := len(in[0]) + 1
	a := l.Axis
	if a < 0 {
		a += rank
	}
	if a < 1 || a >= rank {
		return nil, fmt.Errorf("axis %d is out of range for inputs of shape %v", l.Axis, in[0])
	}
	out := in[0].Clone()
	out[a-1] = 0
	for _, s := range in {
		if len(s) != len(in[0]) {
			return nil, fmt.Errorf("a Concatenate layer requires inputs with matching shapes except for the concatenation axis %d: received input shapes %s", l.Axis, shapeList(in))
		}
		for i := range s {
			if i != a-1 && s[i] != in[0][i] {
				return nil, fmt.Errorf("a Concatenate layer requires inputs with matching shapes except for the concatenation axis %d: received input shapes %s", l.Axis, shapeList(in))
			}
		}
		out[a-1] += s[a-1]
	}
	l.axis = a
	return out, nil
}

// CallMulti concatenates xs.
func (l *Concatenate) CallMulti(_ *Ctx, xs []*G.Node) (*G.Node, error) {
	return engine.Concat(l.axis, xs...)
}
