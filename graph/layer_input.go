package graph

import (
	"fmt"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
)

// InputLayer declares the per-sample input shape, channels-last (H, W, C).
// It must be a model's first layer; it has no weights and is not listed in
// the summary, as in Keras.
type InputLayer struct {
	Base
	Shape []int `json:"shape"`
}

// Input returns an InputLayer for samples of the given shape, such as
// Input(28, 28, 1).
func Input(shape ...int) *InputLayer { return &InputLayer{Shape: shape} }

func init() { Register("InputLayer", func() Layer { return &InputLayer{} }) }

// Class returns "InputLayer".
func (l *InputLayer) Class() string { return "InputLayer" }

func (l *InputLayer) validate() error {
	if len(l.Shape) == 0 {
		return fmt.Errorf("graph: Input needs a shape such as Input(28, 28, 1), got none")
	}
	for _, d := range l.Shape {
		if d < 1 {
			return fmt.Errorf("graph: Input shape %v has a non-positive dimension", l.Shape)
		}
	}
	return nil
}

// Build checks the shape and returns it.
func (l *InputLayer) Build(in Shape, _ *rand.Rand) (Shape, error) {
	return Shape(l.Shape).Clone(), l.validate()
}

// Call returns x.
func (l *InputLayer) Call(_ *Ctx, x *G.Node) (*G.Node, error) { return x, nil }
