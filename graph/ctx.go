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

// Logits returns the pre-activation node of a softmax or sigmoid output and
// the activation's name, so that losses can be computed stably from logits
// (as Keras does).
func (c *Ctx) Logits(out *G.Node) (z *G.Node, activation string, ok bool) {
	l, ok := c.logits[out]
	return l.z, l.activation, ok
}
