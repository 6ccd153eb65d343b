package graph

import (
	"fmt"
	"math/rand/v2"

	"github.com/capa-ml/capa/internal/engine"
	G "gorgonia.org/gorgonia"
)

// The regularization layers that act only in training, beside Dropout:
// SpatialDropout2D and GaussianNoise. Like Dropout, each draws from its
// own generator, seeded from the model's seed, whose state is saved with
// the model.

// SpatialDropout2D drops whole channels of a (H, W, C) map during
// training, each with probability Rate, and scales the kept ones by
// 1/(1-Rate) (Keras's SpatialDropout2D); at inference it is the identity.
type SpatialDropout2D struct {
	Base
	// Rate is the fraction of channels dropped, in [0, 1).
	Rate float64 `json:"rate"`

	src *rand.PCG
	rng *rand.Rand
}

// GaussianNoise adds zero-mean normal noise of standard deviation Stddev
// during training (Keras's GaussianNoise); at inference it is the
// identity.
type GaussianNoise struct {
	Base
	// Stddev is the noise's standard deviation (required, non-negative).
	Stddev float64 `json:"stddev"`

	src *rand.PCG
	rng *rand.Rand
}

func init() {
	Register("SpatialDropout2D", func() Layer { return &SpatialDropout2D{} })
	Register("GaussianNoise", func() Layer { return &GaussianNoise{} })
}

// Class returns "SpatialDropout2D".
func (l *SpatialDropout2D) Class() string { return "SpatialDropout2D" }

// Validate checks the rate.
func (l *SpatialDropout2D) Validate() error {
	if !(l.Rate >= 0 && l.Rate < 1) {
		return fmt.Errorf("rate must be in [0, 1), got %v", l.Rate)
	}
	return nil
}

// Build checks for (H, W, C) maps and seeds the generator.
func (l *SpatialDropout2D) Build(in Shape, rng *rand.Rand) (Shape, error) {
	if err := needMaps("SpatialDropout2D", in); err != nil {
		return nil, err
	}
	l.src = rand.NewPCG(rng.Uint64(), rng.Uint64())
	l.rng = rand.New(l.src)
	return in.Clone(), nil
}

// Call drops channels in a training graph and returns x otherwise.
func (l *SpatialDropout2D) Call(c *Ctx, x *G.Node) (*G.Node, error) {
	if !c.Training || l.Rate == 0 {
		return x, nil
	}
	return engine.SpatialDropout(x, l.Rate, l.rng)
}

// MarshalState returns the state of the layer's random generator.
func (l *SpatialDropout2D) MarshalState() ([]byte, error) { return l.src.MarshalBinary() }

// UnmarshalState restores the state of the layer's random generator.
func (l *SpatialDropout2D) UnmarshalState(b []byte) error { return l.src.UnmarshalBinary(b) }

// Class returns "GaussianNoise".
func (l *GaussianNoise) Class() string { return "GaussianNoise" }

// Validate checks the standard deviation.
func (l *GaussianNoise) Validate() error {
	if !(l.Stddev >= 0) || l.Stddev > 1e6 {
		return fmt.Errorf("stddev must be non-negative, got %v", l.Stddev)
	}
	return nil
}

// Build seeds the generator.
func (l *GaussianNoise) Build(in Shape, rng *rand.Rand) (Shape, error) {
	l.src = rand.NewPCG(rng.Uint64(), rng.Uint64())
	l.rng = rand.New(l.src)
	return in.Clone(), nil
}

// Call adds noise in a training graph and returns x otherwise.
func (l *GaussianNoise) Call(c *Ctx, x *G.Node) (*G.Node, error) {
	if !c.Training || l.Stddev == 0 {
		return x, nil
	}
	return engine.GaussianNoise(x, l.Stddev, l.rng)
}

// MarshalState returns the state of the layer's random generator.
func (l *GaussianNoise) MarshalState() ([]byte, error) { return l.src.MarshalBinary() }

// UnmarshalState restores the state of the layer's random generator.
func (l *GaussianNoise) UnmarshalState(b []byte) error { return l.src.UnmarshalBinary(b) }
