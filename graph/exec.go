package graph

import (
	"fmt"
	"reflect"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// executor runs the part of an expression graph that the requested outputs
// depend on, in topological order, with one output buffer per node
// allocated on the first run and reused by every later run (through the
// ops' UsePreallocDo). Gorgonia's TapeMachine instead re-allocates every
// output at every run. Values are read with value(); they stay valid until
// the next run.
type executor struct {
	steps []xstep
	vals  map[*G.Node]G.Value
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

// newExecutor plans the computation of outputs in g.
func newExecutor(g *G.ExprGraph, outputs ...*G.Node) (*executor, error) {
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
	ex := &executor{vals: map[*G.Node]G.Value{}}
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
		if p, ok := n.Op().(G.UsePreallocDoer); ok && ownOp(n.Op()) && !n.Op().ReturnsPtr() && n.Op().OverwritesInput() < 0 {
			st.pre = p
		}
		st.view = strings.HasPrefix(n.Op().String(), "Reshape")
		ex.steps = append(ex.steps, st)
	}
	return ex, nil
}

// ownOp reports whether op is one of Capa's (whose UsePreallocDo
// overwrites the buffer it is given). Gorgonia's own ops are run with Do:
// some of their UsePreallocDo implementations accumulate into the buffer.
func ownOp(op G.Op) bool {
	t := reflect.TypeOf(op)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.PkgPath() == "github.com/capa-ml/capa/graph"
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

// run computes every planned node once.
func (ex *executor) run() error {
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

// value returns the value of n after run: a computed node's output, or a
// leaf's bound value.
func (ex *executor) value(n *G.Node) (G.Value, error) {
	if v, ok := ex.vals[n]; ok {
		return v, nil
	}
	return leafValue(n)
}
