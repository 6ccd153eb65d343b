package engine

import (
	"fmt"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Executor runs the part of an expression graph that the requested outputs
// depend on, in topological order, with one output buffer per node
// allocated on the first run and reused by every later run (through the
// UsePreallocDo of the ops that implement PreallocOverwriter). Gorgonia's
// TapeMachine instead re-allocates every output at every run. Values are
// read with Value; they stay valid until the next run. An Executor is not
// safe for concurrent use.
type Executor struct {
	steps []xstep
	vals  map[*G.Node]G.Value
	fused map[*G.Node]*G.Node // nodes computed inside another's step (fuse.go), not kept
}

type xstep struct {
	n    *G.Node
	op   G.Op
	in   []*G.Node
	args []G.Value
	pre  G.UsePreallocDoer
	buf  G.Value
	// view marks Gorgonia's Reshape, whose output shares its input's data:
	// with the same input value, the same view is reused.
	view    bool
	lastIn  []G.Value
	lastOut G.Value
}

// PreallocOverwriter is implemented by the ops whose UsePreallocDo
// overwrites the whole buffer it is given, so that the Executor may give
// them their previous run's output as the buffer of the next run. Every op
// of this package implements it (through opTraits). Other ops, Gorgonia's
// own among them, are run with Do: some of Gorgonia's UsePreallocDo
// implementations accumulate into the buffer.
type PreallocOverwriter interface {
	G.UsePreallocDoer
	// OverwritesPrealloc reports whether UsePreallocDo overwrites its
	// buffer (true) rather than reading or accumulating into it.
	OverwritesPrealloc() bool
}

// NewExecutor plans the computation of outputs in g.
func NewExecutor(g *G.ExprGraph, outputs ...*G.Node) (*Executor, error) {
	need := map[*G.Node]bool{}
	var visit func(n *G.Node)
	visit = func(n *G.Node) {
		if need[n] {
			return
		}
		need[n] = true
		for _, c := range children(g, n) {
			visit(c)
		}
	}
	for _, o := range outputs {
		if o == nil {
			return nil, fmt.Errorf("graph: executor: nil output node")
		}
		visit(o)
	}
	sorted, err := G.Sort(g)
	if err != nil {
		return nil, fmt.Errorf("graph: executor: %w", err)
	}
	ex := &Executor{vals: map[*G.Node]G.Value{}}
	for i := len(sorted) - 1; i >= 0; i-- { // Sort puts the roots first
		n := sorted[i]
		if !need[n] {
			continue
		}
		in := children(g, n)
		if len(in) == 0 {
			continue // an input, a weight or a constant: its value is read at each run
		}
		st := xstep{n: n, op: n.Op(), in: in, args: make([]G.Value, len(in))}
		if p, ok := n.Op().(PreallocOverwriter); ok && p.OverwritesPrealloc() && !n.Op().ReturnsPtr() && n.Op().OverwritesInput() < 0 {
			st.pre = p
		}
		st.view = strings.HasPrefix(n.Op().String(), "Reshape")
		ex.steps = append(ex.steps, st)
	}
	ex.fuse(outputs)
	return ex, nil
}

func children(g *G.ExprGraph, n *G.Node) []*G.Node {
	it := g.From(n.ID())
	out := make([]*G.Node, 0, it.Len())
	for it.Next() {
		out = append(out, it.Node().(*G.Node))
	}
	return out
}

// leafValue is the value of a node without inputs: its bound value, or for
// a constant its op's value.
func leafValue(n *G.Node) (G.Value, error) {
	if v := n.Value(); v != nil {
		return v, nil
	}
	if op := n.Op(); op != nil {
		return op.Do()
	}
	return nil, fmt.Errorf("graph: executor: input node %q has no value", n.Name())
}

// Run computes every planned node once.
func (ex *Executor) Run() error {
	for i := range ex.steps {
		st := &ex.steps[i]
		for j, c := range st.in {
			v, ok := ex.vals[c]
			if !ok {
				var err error
				if v, err = leafValue(c); err != nil {
					return err
				}
			}
			st.args[j] = v
		}
		var out G.Value
		var err error
		switch {
		case st.pre != nil && st.buf != nil:
			out, err = st.pre.UsePreallocDo(st.buf, st.args...)
		case st.view && st.lastOut != nil && sameValues(st.lastIn, st.args):
			out = st.lastOut
		default:
			out, err = st.op.Do(st.args...)
		}
		if err != nil {
			return fmt.Errorf("graph: %v: %w", st.op, err)
		}
		if st.pre != nil && st.buf == nil {
			if _, ok := out.(*tensor.Dense); ok && !aliases(out, st.args) {
				st.buf = out
			}
		}
		if st.view {
			st.lastIn = append(st.lastIn[:0], st.args...)
			st.lastOut = out
		}
		ex.vals[st.n] = out
	}
	return nil
}

func sameValues(a, b []G.Value) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func aliases(v G.Value, in []G.Value) bool {
	for _, a := range in {
		if a == v {
			return true
		}
	}
	return false
}

// Value returns the value of n after Run: a computed node's output, or a
// leaf's bound value.
func (ex *Executor) Value(n *G.Node) (G.Value, error) {
	if v, ok := ex.vals[n]; ok {
		return v, nil
	}
	if into, ok := ex.fused[n]; ok {
		return nil, fmt.Errorf("graph: executor: %v was computed inside the step of %v and not kept: request it as an output", n, into)
	}
	return leafValue(n)
}
