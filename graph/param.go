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
	// shape is the weight's shape, known before Value is allocated.
	shape []int
	// fill initializes Value when the model allocates it (see
	// Model.Add: shapes are checked against the limits first).
	fill func(dst []float32)
}

// Data returns the weights as a float32 slice (shared, not a copy). A
// weight declared but not yet allocated (inside its layer's Build) is
// allocated and initialized first.
func (p *Param) Data() []float32 {
	p.allocate()
	return p.Value.Data().([]float32)
}

// Shape returns the weight tensor's shape.
func (p *Param) Shape() []int { return append([]int(nil), p.shape...) }

// Size is the number of weights.
func (p *Param) Size() int { return Shape(p.shape).Size() }

// allocate creates and initializes Value, once.
func (p *Param) allocate() {
	if p.Value != nil {
		return
	}
	p.Value = tensor.New(tensor.WithShape(p.shape...), tensor.Of(tensor.Float32))
	if p.fill != nil {
		p.fill(p.Value.Data().([]float32))
		p.fill = nil
	}
}

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
