package graph

import (
	"fmt"
	"math/rand/v2"

	"github.com/capa-ml/capa/internal/engine"
	G "gorgonia.org/gorgonia"
)

// LayerNormalization normalizes each position's features, the last axis,
// by their own mean and variance, then scales by gamma and shifts by beta
// (Keras's LayerNormalization with axis -1): the same in training and
// inference, with no moving statistics.
type LayerNormalization struct {
	Base
	// Axis is the normalized axis; only -1 (the last, the channels of a
	// (H, W, C) map), the default, is implemented.
	Axis int `json:"axis"`
	// Epsilon defaults to Keras's 1e-3.
	Epsilon float64 `json:"epsilon"`
	// Center adds beta and Scale multiplies by gamma (both default true).
	Center *bool `json:"center"`
	Scale  *bool `json:"scale"`
	// GammaInitializer defaults to "ones", BetaInitializer to "zeros".
	GammaInitializer string `json:"gamma_initializer"`
	BetaInitializer  string `json:"beta_initializer"`

	gamma, beta *Param
}

func init() { Register("LayerNormalization", func() Layer { return &LayerNormalization{} }) }

// Class returns "LayerNormalization".
func (l *LayerNormalization) Class() string { return "LayerNormalization" }

// SetDefaults fills Keras's defaults.
func (l *LayerNormalization) SetDefaults() {
	setDefault(&l.Axis, -1)
	setDefault(&l.Epsilon, 1e-3)
	if l.Center == nil {
		l.Center = new(bool)
		*l.Center = true
	}
	if l.Scale == nil {
		l.Scale = new(bool)
		*l.Scale = true
	}
	setDefault(&l.GammaInitializer, "ones")
	setDefault(&l.BetaInitializer, "zeros")
}

// Validate checks the axis and epsilon.
func (l *LayerNormalization) Validate() error {
	if l.Axis != -1 {
		return fmt.Errorf("axis %d is not implemented (only -1, the last axis)", l.Axis)
	}
	if !(l.Epsilon > 0) {
		return fmt.Errorf("epsilon must be positive, got %v", l.Epsilon)
	}
	return firstError(checkInitializer("gamma_initializer", l.GammaInitializer), checkInitializer("beta_initializer", l.BetaInitializer))
}

// Build declares gamma and beta, one per feature of the last axis.
func (l *LayerNormalization) Build(in Shape, rng *rand.Rand) (Shape, error) {
	c := in[len(in)-1]
	var err error
	if *l.Scale {
		if l.gamma, err = l.AddWeight("gamma", []int{c}, l.GammaInitializer, "ones", c, c, rng); err != nil {
			return nil, err
		}
	}
	if *l.Center {
		if l.beta, err = l.AddWeight("beta", []int{c}, l.BetaInitializer, "zeros", c, c, rng); err != nil {
			return nil, err
		}
	}
	return in.Clone(), nil
}

// Call normalizes x.
func (l *LayerNormalization) Call(c *Ctx, x *G.Node) (*G.Node, error) {
	var gamma, beta *G.Node
	if l.gamma != nil {
		gamma = c.Param(l.gamma)
	}
	if l.beta != nil {
		beta = c.Param(l.beta)
	}
	return engine.LayerNorm(x, gamma, beta, l.Epsilon)
}
