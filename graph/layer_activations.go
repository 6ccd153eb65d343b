package graph

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/capa-ml/capa/internal/engine"
	G "gorgonia.org/gorgonia"
)

// Keras's activation layers with arguments. (Activation{Activation: name}
// applies any registered activation by name.)

// ReLU is Keras's ReLU layer: MaxValue for x ≥ MaxValue, x for
// Threshold ≤ x < MaxValue, NegativeSlope·(x - Threshold) below. ReLU6 is
// ReLU{MaxValue: 6}. Zero values: no maximum, slope 0, threshold 0.
type ReLU struct {
	Base
	MaxValue      float64 `json:"max_value"` // 0 (or absent): none
	NegativeSlope float64 `json:"negative_slope"`
	Threshold     float64 `json:"threshold"`
}

// LeakyReLU is x for x ≥ 0 and NegativeSlope·x below (Keras's LeakyReLU,
// default slope 0.3).
type LeakyReLU struct {
	Base
	NegativeSlope float64 `json:"negative_slope"`
}

// ELU is x for x > 0 and Alpha·(eˣ - 1) below (Keras's ELU, default 1).
type ELU struct {
	Base
	Alpha float64 `json:"alpha"`
}

func init() {
	Register("ReLU", func() Layer { return &ReLU{} })
	Register("LeakyReLU", func() Layer { return &LeakyReLU{} })
	Register("ELU", func() Layer { return &ELU{} })
}

// Class returns "ReLU".
func (l *ReLU) Class() string { return "ReLU" }

// Validate refuses a negative maximum or slope.
func (l *ReLU) Validate() error {
	if l.MaxValue < 0 || l.NegativeSlope < 0 || math.IsNaN(l.MaxValue+l.NegativeSlope+l.Threshold) {
		return fmt.Errorf("max_value (%v) and negative_slope (%v) must be non-negative", l.MaxValue, l.NegativeSlope)
	}
	return nil
}

// Build returns the input shape.
func (l *ReLU) Build(in Shape, _ *rand.Rand) (Shape, error) { return in.Clone(), nil }

// Call applies the function; plain ReLU uses the ReLU op.
func (l *ReLU) Call(_ *Ctx, x *G.Node) (*G.Node, error) {
	if l.MaxValue == 0 && l.NegativeSlope == 0 && l.Threshold == 0 {
		return engine.Relu(x)
	}
	m := l.MaxValue
	if m == 0 {
		m = math.Inf(1)
	}
	return engine.Unary(x, reluFunc(m, l.NegativeSlope, l.Threshold))
}

// Class returns "LeakyReLU".
func (l *LeakyReLU) Class() string { return "LeakyReLU" }

// SetDefaults sets Keras's slope, 0.3.
func (l *LeakyReLU) SetDefaults() { setDefault(&l.NegativeSlope, 0.3) }

// Validate refuses a negative slope.
func (l *LeakyReLU) Validate() error {
	if !(l.NegativeSlope >= 0) {
		return fmt.Errorf("negative_slope must be non-negative, got %v", l.NegativeSlope)
	}
	return nil
}

// Build returns the input shape.
func (l *LeakyReLU) Build(in Shape, _ *rand.Rand) (Shape, error) { return in.Clone(), nil }

// Call applies the function.
func (l *LeakyReLU) Call(_ *Ctx, x *G.Node) (*G.Node, error) {
	return engine.Unary(x, reluFunc(math.Inf(1), l.NegativeSlope, 0))
}

// Class returns "ELU".
func (l *ELU) Class() string { return "ELU" }

// SetDefaults sets Keras's alpha, 1.
func (l *ELU) SetDefaults() { setDefault(&l.Alpha, 1) }

// Validate refuses a NaN or infinite alpha.
func (l *ELU) Validate() error {
	if math.IsNaN(l.Alpha) || math.IsInf(l.Alpha, 0) {
		return errors.New("alpha must be a finite number")
	}
	return nil
}

// Build returns the input shape.
func (l *ELU) Build(in Shape, _ *rand.Rand) (Shape, error) { return in.Clone(), nil }

// Call applies the function.
func (l *ELU) Call(_ *Ctx, x *G.Node) (*G.Node, error) { return engine.Unary(x, eluFunc(l.Alpha)) }

// PReLU is x for x > 0 and alpha·x below, with a learned slope alpha per
// input element (Keras's PReLU), shared along SharedAxes (counted from 1,
// the batch axis excluded: SharedAxes [1, 2] learns one slope per channel
// of a (H, W, C) map). Its weight is "alpha", the input's shape with the
// shared axes of size 1.
type PReLU struct {
	Base
	// AlphaInitializer defaults to "zeros" (a ReLU at the start).
	AlphaInitializer string `json:"alpha_initializer"`
	// SharedAxes lists the axes along which one slope is shared.
	SharedAxes []int `json:"shared_axes"`

	alpha *Param
}

func init() { Register("PReLU", func() Layer { return &PReLU{} }) }

// Class returns "PReLU".
func (l *PReLU) Class() string { return "PReLU" }

// SetDefaults sets the "zeros" initializer.
func (l *PReLU) SetDefaults() { setDefault(&l.AlphaInitializer, "zeros") }

// Validate checks the initializer.
func (l *PReLU) Validate() error { return checkInitializer("alpha_initializer", l.AlphaInitializer) }

// Build checks the shared axes and declares alpha.
func (l *PReLU) Build(in Shape, rng *rand.Rand) (Shape, error) {
	shape := in.Clone()
	for _, a := range l.SharedAxes {
		if a < 1 || a > len(in) {
			return nil, fmt.Errorf("shared_axes %v: axis %d is not one of the input's axes 1..%d of %v", l.SharedAxes, a, len(in), in)
		}
		shape[a-1] = 1
	}
	n := shape.Size()
	var err error
	if l.alpha, err = l.AddWeight("alpha", shape, l.AlphaInitializer, "zeros", n, n, rng); err != nil {
		return nil, err
	}
	return in.Clone(), nil
}

// Call applies the slopes.
func (l *PReLU) Call(c *Ctx, x *G.Node) (*G.Node, error) { return engine.PReLU(x, c.Param(l.alpha)) }
