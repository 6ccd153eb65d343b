package graph

import (
	G "gorgonia.org/gorgonia"
)

// Ctx is what a layer's Call sees: the graph being built, the mode, and
// the nodes of the model's weights in that graph.
type Ctx struct {
	// G is the expression graph under construction.
	G *G.ExprGraph
	// Training is true in a training graph: Dropout drops and
	// BatchNormalization uses and updates batch statistics.
	Training bool

	nodes  map[*Param]*G.Node
	logits map[*G.Node]logits
}

// NewCtx returns a context for building into g.
func NewCtx(g *G.ExprGraph, training bool) *Ctx {
	return &Ctx{G: g, Training: training, nodes: map[*Param]*G.Node{}, logits: map[*G.Node]logits{}}
}

// Param returns p's node in this graph, creating it on first use. The node
// is bound to p.Value itself, so updates to the weights are seen by every
// graph.
func (c *Ctx) Param(p *Param) *G.Node {
	if n, ok := c.nodes[p]; ok {
		return n
	}
	n := G.NodeFromAny(c.G, p.Value, G.WithName(p.Name))
	c.nodes[p] = n
	return n
}

// ParamNode returns p's node if the graph uses p.
func (c *Ctx) ParamNode(p *Param) (*G.Node, bool) {
	n, ok := c.nodes[p]
	return n, ok
}

type logits struct {
	z          *G.Node
	activation string
}

// Output is a model's output as a loss sees it, declared by its last
// layer: the output node and, when that layer ends in a softmax or a
// sigmoid, the pre-activation node (the logits) and the activation's name,
// so that a loss can be computed stably from the logits, as Keras does.
type Output struct {
	// Node is the output, (batch, outputs...).
	Node *G.Node
	// Logits is the pre-activation of Node, nil if Node has no softmax or
	// sigmoid activation.
	Logits *G.Node
	// Activation is "softmax" or "sigmoid" when Logits is set.
	Activation string
}

// Output declares out as a model output, with its logits if its
// activation recorded them.
func (c *Ctx) Output(out *G.Node) Output {
	o := Output{Node: out}
	if l, ok := c.logits[out]; ok {
		o.Logits, o.Activation = l.z, l.activation
	}
	return o
}
