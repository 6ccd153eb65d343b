package graph

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/capa-ml/capa/internal/engine"
	G "gorgonia.org/gorgonia"
)

// BatchNormalization normalizes each channel (the last axis), Keras's
// BatchNormalization. In training it uses the batch's mean and variance and
// updates the moving statistics, moving = moving·Momentum +
// batch·(1-Momentum); at inference it uses the moving statistics. Weights:
// gamma, beta (trainable), moving_mean, moving_variance (statistics, saved
// with the model).
type BatchNormalization struct {
	Base
	// Momentum defaults to 0.99 (Keras's default, the weight of the old value).
	Momentum float64 `json:"momentum"`
	// Epsilon defaults to 1e-3.
	Epsilon float64 `json:"epsilon"`

	gamma, beta, mean, variance *Param
}

func init() { Register("BatchNormalization", func() Layer { return &BatchNormalization{} }) }

// Class returns "BatchNormalization".
func (l *BatchNormalization) Class() string { return "BatchNormalization" }

// SetDefaults fills the unset fields with Keras's defaults.
func (l *BatchNormalization) SetDefaults() {
	setDefault(&l.Momentum, 0.99)
	setDefault(&l.Epsilon, 1e-3)
}

// Validate checks the configuration.
func (l *BatchNormalization) Validate() error {
	if !(l.Momentum > 0 && l.Momentum < 1) {
		return fmt.Errorf("momentum must be in (0, 1), got %v", l.Momentum)
	}
	if !(l.Epsilon > 0) || math.IsInf(l.Epsilon, 0) {
		return fmt.Errorf("epsilon must be positive, got %v", l.Epsilon)
	}
	return nil
}

// Build declares the weights, one per channel.
func (l *BatchNormalization) Build(in Shape, rng *rand.Rand) (Shape, error) {
	c := in[len(in)-1]
	var err error
	if l.gamma, err = l.AddWeight("gamma", []int{c}, "ones", "ones", c, c, rng); err != nil {
		return nil, err
	}
	if l.beta, err = l.AddWeight("beta", []int{c}, "zeros", "zeros", c, c, rng); err != nil {
		return nil, err
	}
	l.mean = l.AddStatistic("moving_mean", []int{c}, 0)
	l.variance = l.AddStatistic("moving_variance", []int{c}, 1)
	return in.Clone(), nil
}

// Call normalizes x (N, ..., C). A frozen BatchNormalization runs in
// inference mode even in a training graph, as in Keras, so fine-tuning does
// not disturb its statistics.
func (l *BatchNormalization) Call(c *Ctx, x *G.Node) (*G.Node, error) {
	training := c.Training && !l.Frozen
	return engine.BatchNorm(x, c.Param(l.gamma), c.Param(l.beta), l.mean.Data(), l.variance.Data(), l.Momentum, l.Epsilon, training)
}
