package graph

import (
	"fmt"
	"sort"
	"strings"

	"github.com/capa-ml/capa/internal/engine"
	G "gorgonia.org/gorgonia"
)

// Activation functions by Keras name. "linear" (or "") is the identity.
var activations = map[string]func(*G.Node) (*G.Node, error){
	"linear":  func(x *G.Node) (*G.Node, error) { return x, nil },
	"relu":    engine.Relu,
	"sigmoid": G.Sigmoid,
	"tanh":    G.Tanh,
	"softmax": engine.Softmax,
}

func checkActivation(name string) error {
	if name == "" {
		return nil
	}
	if _, ok := activations[name]; !ok {
		known := make([]string, 0, len(activations))
		for k := range activations {
			known = append(known, k)
		}
		sort.Strings(known)
		return fmt.Errorf("unknown activation %q (known: %s)", name, strings.Join(known, ", "))
	}
	return nil
}

// activate applies the named activation to x. Softmax and sigmoid outputs
// remember their input as logits for the losses.
func activate(c *Ctx, name string, x *G.Node) (*G.Node, error) {
	if name == "" || name == "linear" {
		return x, nil
	}
	f, ok := activations[name]
	if !ok {
		return nil, checkActivation(name)
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
