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
	Activation string `json:"activation"`
	// NoBias drops the bias (Keras's use_bias=False; files say "use_bias").
	NoBias bool `json:"no_bias"`
	// KernelInitializer defaults to "glorot_uniform", BiasInitializer to
	// "zeros"; files hold Keras's form, {"class_name": "GlorotUniform", ...}.
	KernelInitializer string `json:"kernel_initializer"`
	BiasInitializer   string `json:"bias_initializer"`
	// KernelRegularizer adds a penalty on the kernel to the loss.
	KernelRegularizer *Regularizer `json:"kernel_regularizer"`

	kernel, bias *Param
}

func init() { Register("Dense", func() Layer { return &Dense{} }) }

// Class returns "Dense".
func (l *Dense) Class() string { return "Dense" }

// SetDefaults fills the unset fields with Keras's defaults.
func (l *Dense) SetDefaults() {
	setDefault(&l.Activation, "linear")
	setDefault(&l.KernelInitializer, "glorot_uniform")
	setDefault(&l.BiasInitializer, "zeros")
}

// Validate checks the configuration.
func (l *Dense) Validate() error {
	return firstError(
		positive("units", l.Units),
		checkActivation(l.Activation),
		checkInitializer("kernel_initializer", l.KernelInitializer),
		checkInitializer("bias_initializer", l.BiasInitializer),
		l.KernelRegularizer.validate("kernel_regularizer"),
	)
}

// Build checks the input is a vector and declares the kernel and bias.
func (l *Dense) Build(in Shape, rng *rand.Rand) (Shape, error) {
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

// Validate checks the activation name.
func (l *Activation) Validate() error {
	if l.Activation == "" {
		return fmt.Errorf("activation is required")
	}
	return checkActivation(l.Activation)
}

// Build checks the input suits the activation.
func (l *Activation) Build(in Shape, _ *rand.Rand) (Shape, error) {
	if l.Activation == "softmax" && len(in) != 1 {
		return nil, fmt.Errorf("softmax needs a vector per sample, got %v", in)
	}
	return in.Clone(), nil
}

// Call applies the activation.
func (l *Activation) Call(c *Ctx, x *G.Node) (*G.Node, error) { return activate(c, l.Activation, x) }
