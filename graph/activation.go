package graph

import (
	"fmt"

	"github.com/capa-ml/capa/internal/engine"
	G "gorgonia.org/gorgonia"
)

// ActivationFunc is an activation function on a graph node, such as
// engine's ReLU: registered by name with RegisterActivation, it can be named
// by a layer's Activation field and by the Activation layer.
type ActivationFunc func(x *G.Node) (*G.Node, error)

func init() {
	RegisterActivation("linear", func(x *G.Node) (*G.Node, error) { return x, nil })
	RegisterActivation("relu", engine.Relu)
	RegisterActivation("sigmoid", G.Sigmoid)
	RegisterActivation("tanh", G.Tanh)
	RegisterActivation("softmax", engine.Softmax)
}

// RegisterActivation makes an activation known by its Keras name ("relu",
// "gelu", ...). A softmax or sigmoid output is known to the losses (their
// from_logits computation); a registered function is applied as it is.
// It panics if the name is taken.
func RegisterActivation(name string, f ActivationFunc) { activations.add(name, f) }

// Activations returns the registered activation names, sorted.
func Activations() []string { return activations.names() }

func checkActivation(name string) error {
	if name == "" {
		return nil
	}
	_, err := activations.get(name)
	return err
}

// activate applies the named activation to x. Softmax and sigmoid outputs
// remember their input as logits for the losses.
func activate(c *Ctx, name string, x *G.Node) (*G.Node, error) {
	if name == "" || name == "linear" {
		return x, nil
	}
	f, err := activations.get(name)
	if err != nil {
		return nil, err
	}
	if name == "softmax" && x.Shape().Dims() != 2 {
		return nil, fmt.Errorf("softmax needs a (batch, classes) input, got shape %v", x.Shape())
	}
	y, err := f(x)
	if err != nil {
		return nil, err
	}
	if name == "softmax" || name == "sigmoid" {
		c.logits[y] = logits{x, name}
	}
	return y, nil
}

// biasActivate adds the bias (if any) to y and applies the activation, with
// the fused BiasRelu op for the common bias-then-ReLU case.
func biasActivate(c *Ctx, y *G.Node, bias *Param, activation string) (*G.Node, error) {
	if bias == nil {
		return activate(c, activation, y)
	}
	if activation == "relu" {
		return engine.BiasRelu(y, c.Param(bias))
	}
	y, err := engine.BiasAdd(y, c.Param(bias))
	if err != nil {
		return nil, err
	}
	return activate(c, activation, y)
}
