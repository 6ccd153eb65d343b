package graph

import (
	"gorgonia.org/tensor"
)

// Param is one weight tensor of a model, such as "conv2d_1/kernel". Its
// Value is shared by every graph built from the model; optimizers update it
// in place.
type Param struct {
	// Name is stable and unique within a model: "<layer>/<weight>".
	Name string
	// Value holds the float32 weights, in the layout documented by the layer
	// (Conv2D kernels are (KH, KW, Cin, Cout), Dense kernels (in, out)).
	Value *tensor.Dense
	// Trainable parameters receive gradients and optimizer updates; frozen
	// ones and statistics (BatchNormalization's moving mean) do not.
	Trainable bool
	// Regularizer, if not nil, adds its penalty to the training loss.
	Regularizer *Regularizer
	// statistic marks weights that are never trainable (moving statistics).
	statistic bool
}

// Data returns the weights as a float32 slice (shared, not a copy).
func (p *Param) Data() []float32 { return p.Value.Data().([]float32) }

// Shape returns the weight tensor's shape.
func (p *Param) Shape() []int { return []int(p.Value.Shape()) }

// Size is the number of weights.
func (p *Param) Size() int { return p.Value.Shape().TotalSize() }

// IsStatistic reports whether p holds statistics rather than weights (such
// as BatchNormalization's moving mean and variance): never trainable.
func (p *Param) IsStatistic() bool { return p.statistic }

// Regularizer is a weight penalty added to the loss: L1·Σ|w| + L2·Σw²
// (Keras's semantics: the gradient of the L2 term is 2·L2·w).
type Regularizer struct {
	L1 float64 `json:"l1,omitempty"`
	L2 float64 `json:"l2,omitempty"`
}

// L2 returns an L2 regularizer with factor l.
func L2(l float64) *Regularizer { return &Regularizer{L2: l} }

// L1 returns an L1 regularizer with factor l.
func L1(l float64) *Regularizer { return &Regularizer{L1: l} }
