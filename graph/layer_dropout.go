package graph

import (
	"fmt"
	"math/rand/v2"

	"github.com/capa-ml/capa/internal/engine"
	G "gorgonia.org/gorgonia"
)

// Dropout zeroes a fraction Rate of its inputs during training and scales the
// rest by 1/(1-Rate) (inverted dropout, Keras's Dropout); at inference it is
// the identity. Its random masks come from its own generator, seeded from the
// model's seed, whose state is saved with the model.
type Dropout struct {
	Base
	// Rate is the fraction dropped, in [0, 1).
	Rate float64 `json:"rate"`

	src *rand.PCG
	rng *rand.Rand
}

func init() { Register("Dropout", func() Layer { return &Dropout{} }) }

// Class returns "Dropout".
func (l *Dropout) Class() string { return "Dropout" }

// Validate checks the rate.
func (l *Dropout) Validate() error {
	if !(l.Rate >= 0 && l.Rate < 1) {
		return fmt.Errorf("rate must be in [0, 1), got %v", l.Rate)
	}
	return nil
}

// Build seeds the layer's generator from rng.
func (l *Dropout) Build(in Shape, rng *rand.Rand) (Shape, error) {
	l.src = rand.NewPCG(rng.Uint64(), rng.Uint64())
	l.rng = rand.New(l.src)
	return in.Clone(), nil
}

// Call drops inputs in a training graph and returns x unchanged otherwise.
func (l *Dropout) Call(c *Ctx, x *G.Node) (*G.Node, error) {
	if !c.Training || l.Rate == 0 {
		return x, nil
	}
	return engine.InvertedDropout(x, l.Rate, l.rng)
}

// MarshalState returns the state of the layer's random generator.
func (l *Dropout) MarshalState() ([]byte, error) { return l.src.MarshalBinary() }

// UnmarshalState restores the state of the layer's random generator.
func (l *Dropout) UnmarshalState(b []byte) error { return l.src.UnmarshalBinary(b) }
