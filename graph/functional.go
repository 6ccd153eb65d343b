package graph

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
)

// Tensor is a symbolic tensor of Capa's Functional API (Keras's
// KerasTensor): the output of an Input or of a layer applied to other
// tensors. It holds no values; it records how it is computed, so that
// Functional can make a model of everything between inputs and outputs.
//
// A Tensor carries the first error of its history: Apply on a tensor with
// an error returns that error again, so a chain of Apply calls needs one
// check, at Functional (or with Err).
type Tensor struct {
	layer Layer // the layer that computes it (*InputLayer for an input)
	// in holds its inputs (none for an input), each a *Tensor: typed any
	// so that Tensor is not a recursive type, which gophernotes's
	// interpreter cannot build slices of.
	in    []any
	shape Shape // per sample, channels-last
	err   error
}

// NewInput returns a model input of the given per-sample shape,
// channels-last, such as NewInput(28, 28, 1) (Keras's keras.Input).
func NewInput(shape ...int) *Tensor { return NamedInput("", shape...) }

// NamedInput is NewInput with the input layer's name ("" for a generated
// one: input_layer, input_layer_1, ...).
func NamedInput(name string, shape ...int) *Tensor {
	l := Input(shape...)
	l.Name = name
	if err := l.validate(); err != nil {
		return &Tensor{err: err}
	}
	l.applied = true
	l.outShape = Shape(shape).Clone()
	return &Tensor{layer: l, shape: Shape(shape).Clone()}
}

// Shape returns the tensor's per-sample shape (nil if it has an error).
func (t *Tensor) Shape() Shape { return t.shape.Clone() }

// Err returns the first error met computing t, or nil.
func (t *Tensor) Err() error { return t.err }

// Layer returns the layer that computes t.
func (t *Tensor) Layer() Layer { return t.layer }

// Apply applies layer l to the tensors xs and returns its output (Keras's
// l(x), or l([a, b]) for a merge layer). The first application builds the
// layer on the shapes of xs, declaring its weights (they are allocated by
// Functional, after the limits are checked); applying the same layer again
// shares its weights, and needs inputs of the same shapes. Errors name the
// layer and the shapes, and are carried by the returned tensor.
func Apply(l Layer, xs ...*Tensor) *Tensor {
	if l == nil {
		return &Tensor{err: errors.New("graph: Apply: nil layer")}
	}
	for i, x := range xs {
		if x == nil {
			return &Tensor{err: fmt.Errorf("graph: Apply %s: input %d is nil", l.Class(), i)}
		}
		if x.err != nil {
			return &Tensor{err: x.err}
		}
	}
	b := l.base()
	name := b.Name
	if name == "" {
		name = snakeName(l.Class())
	}
	if _, ok := l.(*InputLayer); ok {
		return &Tensor{err: errors.New("graph: an InputLayer cannot be applied: use NewInput")}
	}
	if b.built {
		return &Tensor{err: fmt.Errorf("graph: layer %q (%s) already belongs to a model", name, l.Class())}
	}
	shapes := make([]Shape, len(xs))
	for i, x := range xs {
		shapes[i] = x.shape
	}
	_, multi := l.(MultiInput)
	switch {
	case len(xs) == 0:
		return &Tensor{err: fmt.Errorf("graph: layer %q (%s) applied to no input", name, l.Class())}
	case !multi && len(xs) > 1:
		return &Tensor{err: fmt.Errorf("graph: layer %q (%s) takes one input, got %d: %s", name, l.Class(), len(xs), shapeList(shapes))}
	}
	if b.applied {
		if !shapesEqual(shapes, b.inShapes) {
			return &Tensor{err: fmt.Errorf("graph: layer %q (%s) was built on %s and cannot be applied again to %s: a shared layer takes inputs of the same shapes", name, l.Class(), shapeList(b.inShapes), shapeList(shapes))}
		}
		return &Tensor{layer: l, in: tensorInputs(xs), shape: b.outShape.Clone()}
	}
	l.SetDefaults()
	if err := l.Validate(); err != nil {
		return &Tensor{err: fmt.Errorf("graph: layer %q (%s): %w", name, l.Class(), err)}
	}
	// Built here for its output shape; Functional builds it again, named
	// and with a generator seeded from the model's seed and the layer's
	// index, so that the same seed gives the same weights.
	out, err := build(l, shapes, rand.New(rand.NewPCG(0, 0)))
	b.params = nil
	if err != nil {
		return &Tensor{err: fmt.Errorf("graph: layer %q (%s) on input %s: %w", name, l.Class(), shapeList(shapes), err)}
	}
	b.applied = true
	b.inShapes = shapes
	b.inShape = shapes[0].Clone()
	b.outShape = out.Clone()
	return &Tensor{layer: l, in: tensorInputs(xs), shape: out}
}

// build calls l's Build or, for a MultiInput layer, BuildMulti, on copies
// of the shapes.
func build(l Layer, shapes []Shape, rng *rand.Rand) (Shape, error) {
	in := make([]Shape, len(shapes))
	for i, s := range shapes {
		in[i] = s.Clone()
	}
	if mi, ok := l.(MultiInput); ok {
		return mi.BuildMulti(in, rng)
	}
	return l.Build(in[0], rng)
}

func shapesEqual(a, b []Shape) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

// shapeList formats shapes as Keras does: (None, 28, 28, 1), several in
// brackets.
func shapeList(s []Shape) string {
	if len(s) == 1 {
		return s[0].String()
	}
	parts := make([]string, len(s))
	for i, x := range s {
		parts[i] = x.String()
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// Functional makes a model of the layers between inputs and outputs
// (Keras's keras.Model(inputs, outputs)), with weights drawn from
// DefaultSeed. Every tensor outputs depend on must come from inputs.
func Functional(inputs, outputs []*Tensor) (*Model, error) {
	return FunctionalSeed(DefaultSeed, inputs, outputs)
}

// FunctionalSeed is Functional with an explicit seed for the initial
// weights.
func FunctionalSeed(seed uint64, inputs, outputs []*Tensor) (*Model, error) {
	return functional(seed, inputs, outputs, nil, false)
}

// functional makes the model; lim nil means DefaultLimits, deferAlloc
// leaves the weights declared but not allocated (planning and loading).
func functional(seed uint64, inputs, outputs []*Tensor, lim *Limits, deferAlloc bool) (*Model, error) {
	if len(inputs) == 0 || len(outputs) == 0 {
		return nil, errors.New("graph: Functional needs at least one input and one output")
	}
	for _, t := range append(append([]*Tensor(nil), inputs...), outputs...) {
		if t == nil {
			return nil, errors.New("graph: Functional: nil tensor")
		}
		if t.err != nil {
			return nil, t.err
		}
	}
	// Check the graph before changing any layer: the inputs are Inputs,
	// every tensor the outputs depend on comes from them, no layer belongs
	// to another model.
	isInput := map[*Tensor]bool{}
	for _, t := range inputs {
		in, ok := t.layer.(*InputLayer)
		if !ok || len(t.in) > 0 {
			return nil, fmt.Errorf("graph: Functional: input %q (%s) is not an Input: use NewInput", t.layer.base().Name, t.layer.Class())
		}
		if isInput[t] {
			return nil, fmt.Errorf("graph: Functional: input %q is given twice", in.Name)
		}
		if in.built {
			return nil, fmt.Errorf("graph: input %q already belongs to a model", in.Name)
		}
		isInput[t] = true
	}
	// Depth-first from the outputs: every node after its inputs.
	var order []*Tensor
	done := map[*Tensor]bool{}
	var visit func(t *Tensor) error
	visit = func(t *Tensor) error {
		if isInput[t] || done[t] {
			return nil
		}
		if len(t.in) == 0 {
			return fmt.Errorf("graph: Functional: the outputs depend on input %q, which is not among the model's inputs", t.layer.base().Name)
		}
		if b := t.layer.base(); b.built {
			return fmt.Errorf("graph: layer %q (%s) already belongs to a model", b.Name, t.layer.Class())
		}
		for _, x := range t.in {
			if err := visit(x.(*Tensor)); err != nil {
				return err
			}
		}
		done[t] = true
		order = append(order, t)
		return nil
	}
	for _, t := range outputs {
		if err := visit(t); err != nil {
			return nil, err
		}
	}
	// Then name, build, check against the limits, and only then allocate.
	m := &Model{Name: "functional", seed: seed, count: map[string]int{}, functional: true, limits: lim, deferAlloc: true}
	index := map[*Tensor]int{}
	for _, t := range inputs {
		if err := m.addInput(t.layer.(*InputLayer)); err != nil {
			return nil, err
		}
		index[t] = len(m.nodes) - 1
	}
	apps := map[Layer]int{} // applications so far, by layer
	for _, t := range order {
		in := make([]int, len(t.in))
		for i, x := range t.in {
			in[i] = index[x.(*Tensor)]
		}
		if err := m.addNode(t.layer, in, apps[t.layer]); err != nil {
			return nil, err
		}
		apps[t.layer]++
		index[t] = len(m.nodes) - 1
	}
	for _, t := range outputs {
		m.outputs = append(m.outputs, index[t])
	}
	for _, nd := range m.nodes {
		nd.layer.base().built = true
	}
	if !deferAlloc {
		m.allocate(true)
	}
	return m, nil
}

// addInput adds a model input node.
func (m *Model) addInput(in *InputLayer) error {
	if err := in.validate(); err != nil {
		return err
	}
	if err := m.checkInput(in.Shape); err != nil {
		return err
	}
	if err := m.claimName(in, "input_layer"); err != nil {
		return err
	}
	shape := Shape(in.Shape).Clone()
	if m.input == nil {
		m.input = shape
	}
	m.inputs = append(m.inputs, len(m.nodes))
	m.nodes = append(m.nodes, node{layer: in, shape: shape})
	return nil
}

// claimName gives l a generated name if it has none, or checks that its
// name is not taken.
func (m *Model) claimName(l Layer, prefix string) error {
	b := l.base()
	if b.Name == "" {
		b.Name = m.uniqueName(prefix)
		return nil
	}
	for _, nd := range m.nodes {
		if nd.layer != l && nd.layer.base().Name == b.Name {
			return fmt.Errorf("graph: two layers are named %q", b.Name)
		}
	}
	m.count[b.Name]++
	return nil
}

// addNode adds application app of l (built by Apply) to the nodes in;
// the first application places the layer (Model.place): its weights are
// declared, and Functional allocates them once every layer is checked.
func (m *Model) addNode(l Layer, in []int, app int) error {
	b := l.base()
	if app == 0 {
		out, err := m.place(l, b.inShapes)
		if err != nil {
			return err
		}
		if !out.Equal(b.outShape) {
			return fmt.Errorf("graph: layer %q (%s) on input %s: built again it gives %v, not %v", b.Name, l.Class(), shapeList(b.inShapes), out, b.outShape)
		}
	}
	m.nodes = append(m.nodes, node{layer: l, in: in, shape: b.outShape.Clone(), app: app})
	m.cache.reset()
	return nil
}

// applications returns, for each layer, its nodes in order of application.
func (m *Model) applications() map[Layer][]int {
	apps := map[Layer][]int{}
	for i, nd := range m.nodes {
		apps[nd.layer] = append(apps[nd.layer], i)
	}
	return apps
}

// node is one application of a layer in a model: an input (layer an
// *InputLayer, no inbound nodes) or a layer applied to earlier nodes.
type node struct {
	layer Layer
	in    []int // inbound nodes, indices into Model.nodes
	shape Shape // per-sample output shape
	app   int   // which application of layer this is (0 the first)
}

// IsFunctional reports whether the model was made by Functional (rather
// than Sequential), which decides how it is saved and summarized.
func (m *Model) IsFunctional() bool { return m.functional }

// Inputs returns the per-sample shapes of the model's inputs.
func (m *Model) Inputs() []Shape {
	out := make([]Shape, len(m.inputs))
	for i, n := range m.inputs {
		out[i] = m.nodes[n].shape.Clone()
	}
	return out
}

// Outputs returns the per-sample shapes of the model's outputs.
func (m *Model) Outputs() []Shape {
	out := make([]Shape, len(m.outputs))
	for i, n := range m.outputs {
		out[i] = m.nodes[n].shape.Clone()
	}
	return out
}

// ref names node i of the model as a spec does.
func (m *Model) ref(i int) NodeRef {
	return NodeRef{Layer: m.nodes[i].layer.base().Name, Node: m.nodes[i].app}
}

// functionalSpec returns a Functional model's architecture: every layer,
// inputs first, with its inbound nodes.
func (m *Model) functionalSpec() (ModelSpec, error) {
	s := ModelSpec{Name: m.Name, Seed: m.seed, Input: m.input.Clone()}
	apps := m.applications()
	add := func(l Layer) error {
		ls, err := Spec(l)
		if err != nil {
			return err
		}
		ls.Name = l.base().Name
		for _, i := range apps[l] {
			nd := m.nodes[i]
			if len(nd.in) == 0 {
				continue
			}
			refs := make([]NodeRef, len(nd.in))
			for i, j := range nd.in {
				refs[i] = m.ref(j)
			}
			ls.InboundNodes = append(ls.InboundNodes, refs)
		}
		s.Layers = append(s.Layers, ls)
		return nil
	}
	for _, i := range m.inputs {
		if err := add(m.nodes[i].layer); err != nil {
			return ModelSpec{}, err
		}
		s.InputLayers = append(s.InputLayers, m.ref(i))
	}
	for _, l := range m.layers {
		if err := add(l); err != nil {
			return ModelSpec{}, err
		}
	}
	for _, i := range m.outputs {
		s.OutputLayers = append(s.OutputLayers, m.ref(i))
	}
	return s, nil
}

// buildFunctional rebuilds a Functional model from its spec: the layers
// are applied as their inbound nodes say, each once its inputs exist (a
// reference to a layer or node that never comes, or a cycle, is an error),
// then checked against lim before any weight is allocated.
func (s ModelSpec) buildFunctional(lim Limits, deferAlloc bool) (*Model, error) {
	type pending struct {
		layer Layer
		name  string
		app   int
		in    []NodeRef
	}
	tensors := map[string][]*Tensor{} // by layer name, one per application
	var todo []pending
	for i, ls := range s.Layers {
		l, err := FromSpec(ls)
		if err != nil {
			return nil, fmt.Errorf("graph: layer %d: %w", i, err)
		}
		name := l.base().Name
		if name == "" && ls.Name != "" {
			// A spec written by hand may name the layer beside its
			// config only.
			name = ls.Name
			l.base().Name = name
		}
		if name == "" || (ls.Name != "" && ls.Name != name) {
			return nil, fmt.Errorf("graph: layer %d (%s) of a Functional model: name %q, config name %q", i, ls.Class, ls.Name, name)
		}
		if _, dup := tensors[name]; dup {
			return nil, fmt.Errorf("graph: two layers are named %q", name)
		}
		tensors[name] = nil
		if in, ok := l.(*InputLayer); ok {
			if len(ls.InboundNodes) > 0 {
				return nil, fmt.Errorf("graph: input layer %q has inbound nodes", name)
			}
			t := NamedInput(name, in.Shape...)
			if t.err != nil {
				return nil, fmt.Errorf("graph: input layer %q: %w", name, t.err)
			}
			t.layer.base().Frozen = in.Frozen
			tensors[name] = []*Tensor{t}
			continue
		}
		if len(ls.InboundNodes) == 0 {
			return nil, fmt.Errorf("graph: layer %q (%s) has no inbound nodes", name, ls.Class)
		}
		for app, refs := range ls.InboundNodes {
			todo = append(todo, pending{layer: l, name: name, app: app, in: refs})
		}
	}
	resolve := func(r NodeRef) (*Tensor, bool) {
		ts := tensors[r.Layer]
		if r.Node < len(ts) {
			return ts[r.Node], true
		}
		return nil, false
	}
	for len(todo) > 0 {
		progress := false
		rest := todo[:0]
		for _, p := range todo {
			xs := make([]*Tensor, len(p.in))
			ready := len(tensors[p.name]) == p.app
			for i, r := range p.in {
				if xs[i], _ = resolve(r); xs[i] == nil {
					ready = false
				}
			}
			if !ready {
				rest = append(rest, p)
				continue
			}
			t := Apply(p.layer, xs...)
			if t.err != nil {
				return nil, t.err
			}
			tensors[p.name] = append(tensors[p.name], t)
			progress = true
		}
		todo = rest
		if !progress {
			p := todo[0]
			for _, r := range p.in {
				if _, ok := resolve(r); !ok {
					return nil, fmt.Errorf("graph: layer %q is applied to %s[%d], which no layer of the model computes (or the connections form a cycle)", p.name, r.Layer, r.Node)
				}
			}
			return nil, fmt.Errorf("graph: layer %q: its applications cannot be ordered", p.name)
		}
	}
	list := func(what string, refs []NodeRef) ([]*Tensor, error) {
		var out []*Tensor
		for _, r := range refs {
			t, ok := resolve(r)
			if !ok {
				return nil, fmt.Errorf("graph: model %s %s[%d] is not computed by any layer", what, r.Layer, r.Node)
			}
			out = append(out, t)
		}
		return out, nil
	}
	ins, err := list("input", s.InputLayers)
	if err != nil {
		return nil, err
	}
	outs, err := list("output", s.OutputLayers)
	if err != nil {
		return nil, err
	}
	m, err := functional(s.Seed, ins, outs, &lim, deferAlloc)
	if err != nil {
		return nil, err
	}
	if len(m.layers) != len(s.Layers)-len(ins) {
		return nil, fmt.Errorf("graph: %d of the spec's layers are not between its inputs and outputs", len(s.Layers)-len(ins)-len(m.layers))
	}
	m.Name = s.Name
	return m, nil
}

// functionalSummary is Keras's summary of a Functional model: a row per
// layer (inputs included) with its output shape, weights and the tensors
// it is "Connected to", one per line, as Keras prints them
// ('conv2d[0][0]').
func (m *Model) functionalSummary() string {
	type row struct {
		name, shape, params string
		conn                []string
	}
	var rows []row
	layers := make([]Layer, 0, len(m.inputs)+len(m.layers))
	for _, i := range m.inputs {
		layers = append(layers, m.nodes[i].layer)
	}
	layers = append(layers, m.layers...)
	apps := m.applications()
	for _, l := range layers {
		r := row{name: fmt.Sprintf("%s (%s)", l.base().Name, l.Class())}
		n := 0
		for _, p := range l.base().params {
			n += p.Size()
		}
		r.params = commas(n)
		for _, i := range apps[l] {
			nd := m.nodes[i]
			if r.shape == "" {
				r.shape = nd.shape.String()
				if len(nd.in) == 0 {
					r.shape = "[" + r.shape + "]"
				}
			}
			for _, j := range nd.in {
				ref := m.ref(j)
				r.conn = append(r.conn, fmt.Sprintf("'%s[%d][%d]'", ref.Layer, ref.Node, ref.Tensor))
			}
		}
		rows = append(rows, r)
	}
	// Keras's column positions for a line of 98, widened to fit.
	w := [4]int{len("Layer (type)"), len("Output Shape"), len("Param #"), len("Connected to")}
	for _, r := range rows {
		w[0], w[1], w[2] = max(w[0], len(r.name)), max(w[1], len(r.shape)), max(w[2], len(r.params))
		for _, c := range r.conn {
			w[3] = max(w[3], len(c)+2)
		}
	}
	w[0], w[1], w[2], w[3] = max(w[0]+2, 31), max(w[1]+2, 21), max(w[2]+2, 12), max(w[3], 33)
	width := 1 + w[0] + w[1] + w[2] + w[3]
	var b strings.Builder
	line := strings.Repeat("_", width)
	cell := func(a, s, p, c string) {
		fmt.Fprintf(&b, "%s\n", strings.TrimRight(fmt.Sprintf(" %-*s%-*s%-*s%s", w[0], a, w[1], s, w[2], p, c), " "))
	}
	fmt.Fprintf(&b, "Model: %q\n%s\n", m.Name, line)
	cell("Layer (type)", "Output Shape", "Param #", "Connected to")
	fmt.Fprintf(&b, "%s\n", strings.Repeat("=", width))
	for i, r := range rows {
		conn := "[]"
		if len(r.conn) > 0 {
			conn = "[" + r.conn[0]
			if len(r.conn) == 1 {
				conn += "]"
			} else {
				conn += ","
			}
		}
		cell(r.name, r.shape, r.params, conn)
		for k := 1; k < len(r.conn); k++ {
			c := " " + r.conn[k]
			if k == len(r.conn)-1 {
				c += "]"
			} else {
				c += ","
			}
			cell("", "", "", c)
		}
		if i < len(rows)-1 {
			fmt.Fprintln(&b)
		}
	}
	tr, non := m.CountParams()
	fmt.Fprintf(&b, "%s\n", strings.Repeat("=", width))
	fmt.Fprintf(&b, "Total params: %s\nTrainable params: %s\nNon-trainable params: %s\n%s\n",
		commas(tr+non), commas(tr), commas(non), line)
	return b.String()
}

// tensorInputs stores a layer application's inputs in Tensor.in.
func tensorInputs(xs []*Tensor) []any {
	in := make([]any, len(xs))
	for i, x := range xs {
		in[i] = x
	}
	return in
}

// GraphNode is one application of a layer in a model, as Nodes lists them:
// what an exporter walks to write the model in another format.
type GraphNode struct {
	// Layer is the layer applied (an *InputLayer for a model's input).
	Layer Layer
	// Inputs are the indices, in Nodes's list, of the nodes it is applied
	// to, in order (none for an input).
	Inputs []int
	// Shape is its per-sample output shape, channels-last.
	Shape Shape
}

// Nodes returns the model's graph: every application of a layer, each
// after the nodes it is applied to, and which of them are the model's
// inputs and outputs. A Sequential model is the chain of its input and its
// layers. The layers are the model's own, not copies.
func (m *Model) Nodes() (nodes []GraphNode, inputs, outputs []int) {
	nodes = make([]GraphNode, len(m.nodes))
	for i, n := range m.nodes {
		nodes[i] = GraphNode{Layer: n.layer, Inputs: append([]int(nil), n.in...), Shape: n.shape.Clone()}
	}
	return nodes, append([]int(nil), m.inputs...), append([]int(nil), m.outputs...)
}
