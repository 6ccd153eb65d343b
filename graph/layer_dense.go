package graph

import (
	"fmt"
	"math/rand/v2"

	"github.com/capa-ml/capa/internal/engine"
	G "gorgonia.org/gorgonia"
)

// Dense is a fully connected layer, Keras's Dense: y = activation(x·W + b)
// with W of shape (in, Units). Its input must be a vector per sample: put a
// Flatten (or GlobalAveragePooling2D) after feature maps.
type Dense struct {
	Base
	// Units is the output size (required).
	Units int `json:"units"`
	// Activation: "relu", "sigmoid", "tanh", "softmax" or "linear" (default).
	Activation string `json:"activation,omitempty"`
	// NoBias drops the bias (Keras's use_bias=False).
	NoBias bool `json:"no_bias,omitempty"`
	// KernelInitializer defaults to "glorot_uniform", BiasInitializer to "zeros".
	KernelInitializer string `json:"kernel_initializer,omitempty"`
	BiasInitializer   string `json:"bias_initializer,omitempty"`
	// KernelRegularizer adds a penalty on the kernel to the loss.
	KernelRegularizer *Regularizer `json:"kernel_regularizer,omitempty"`

	kernel, bias *Param
}

func init() { Register("Dense", func() Layer { return &Dense{} }) }

// Class returns "Dense".
func (l *Dense) Class() string { return "Dense" }

// Build checks the input is a vector and creates the kernel and bias.
func (l *Dense) Build(in Shape, rng *rand.Rand) (Shape, error) {
	if l.Units < 1 {
		return nil, fmt.Errorf("units must be positive, got %d", l.Units)
	}
	if err := checkActivation(l.Activation); err != nil {
		return nil, err
	}
	if len(in) != 1 {
		return nil, fmt.Errorf("Dense needs a vector per sample, got %v: add a Flatten or GlobalAveragePooling2D before it", in)
	}
	var err error
	if l.kernel, err = l.AddWeight("kernel", []int{in[0], l.Units}, l.KernelInitializer, "glorot_uniform", in[0], l.Units, rng); err != nil {
		return nil, err
	}
	l.kernel.Regularizer = l.KernelRegularizer
	if !l.NoBias {
		if l.bias, err = l.AddWeight("bias", []int{l.Units}, l.BiasInitializer, "zeros", in[0], l.Units, rng); err != nil {
			return nil, err
		}
	}
	return Shape{l.Units}, nil
}

// Call computes x·W + b for x (N, in) and applies the activation.
func (l *Dense) Call(c *Ctx, x *G.Node) (*G.Node, error) {
	y, err := engine.MatMul(x, c.Param(l.kernel))
	if err != nil {
		return nil, err
	}
	return biasActivate(c, y, l.bias, l.Activation)
}

// Flatten turns each sample into a vector, Keras's Flatten: (H, W, C) ->
// (H*W*C), in channels-last order.
type Flatten struct{ Base }

func init() { Register("Flatten", func() Layer { return &Flatten{} }) }

// Class returns "Flatten".
func (l *Flatten) Class() string { return "Flatten" }

// Build returns the flattened shape.
func (l *Flatten) Build(in Shape, _ *rand.Rand) (Shape, error) { return Shape{in.Size()}, nil }

// Call reshapes x (N, ...) to (N, size).
func (l *Flatten) Call(_ *Ctx, x *G.Node) (*G.Node, error) {
	s := x.Shape()
	if s.Dims() == 2 {
		return x, nil
	}
	return G.Reshape(x, []int{s[0], s.TotalSize() / s[0]})
}

// Activation applies an activation function, Keras's Activation layer.
type Activation struct {
	Base
	// Activation is "relu", "sigmoid", "tanh", "softmax" or "linear".
	Activation string `json:"activation"`
}

func init() { Register("Activation", func() Layer { return &Activation{} }) }

// Class returns "Activation".
func (l *Activation) Class() string { return "Activation" }

// Build checks the activation name.
func (l *Activation) Build(in Shape, _ *rand.Rand) (Shape, error) {
	if l.Activation == "" {
		return nil, fmt.Errorf("activation is required")
	}
	if err := checkActivation(l.Activation); err != nil {
		return nil, err
	}
	if l.Activation == "softmax" && len(in) != 1 {
		return nil, fmt.Errorf("softmax needs a vector per sample, got %v", in)
	}
	return in.Clone(), nil
}

// Call applies the activation.
func (l *Activation) Call(c *Ctx, x *G.Node) (*G.Node, error) { return activate(c, l.Activation, x) }
