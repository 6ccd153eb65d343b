package graph

import (
	"fmt"
	"math/rand/v2"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// DefaultSeed seeds the weights of models built without an explicit seed, so
// that the same program builds the same model.
const DefaultSeed = 1

// Model is Capa's one model type: a directed acyclic graph of layers
// (Sequential: a chain; Functional: any graph, with several inputs and
// outputs and shared layers) with its weights and, once compiled, its
// optimizer, loss and training state. Every layer knows its input and
// output shapes, and its weights exist. Model.Graph turns it into a
// Gorgonia expression graph; Fit, Evaluate and Predict run such graphs from
// one cache.
type Model struct {
	// Name is the model's name, "sequential" or "functional" by default.
	Name string

	seed   uint64
	layers []Layer        // the layers (not the inputs), in order of first use
	shapes []Shape        // output shape of each layer (its first application)
	input  Shape          // shape of the first input
	count  map[string]int // names generated so far, by prefix

	// The graph: every application of a layer, each after its inbound
	// nodes (functional.go). A Sequential model is the chain input,
	// layers[0], layers[1], ...
	nodes      []node
	inputs     []int // nodes of the model's inputs
	outputs    []int // nodes of the model's outputs
	functional bool

	limits         *Limits // nil: DefaultLimits
	nParams, nActs int64   // running totals checked against the limits
	deferAlloc     bool    // planning: weights are declared, not allocated

	// Set by Compile (compile.go).
	optimizer Optimizer
	loss      Loss
	slots     map[string][][]float32 // optimizer slots by weight name
	shuffle   *rand.PCG              // orders each epoch's samples
	// State is where training stands (zero before Compile).
	State State
	// Extra is free-form configuration saved with a compiled model, such as
	// the settings of the command that started the run.
	Extra map[string]string

	cache compiledCache // graphs for Fit, Evaluate and Predict
}

// Sequential builds a model from an Input followed by layers, with weights
// drawn from DefaultSeed. It returns the first error, naming the layer.
func Sequential(layers ...Layer) (*Model, error) {
	return SequentialSeed(DefaultSeed, layers...)
}

// SequentialSeed is Sequential with an explicit seed for the initial weights.
func SequentialSeed(seed uint64, layers ...Layer) (*Model, error) {
	m := &Model{Name: "sequential", seed: seed, count: map[string]int{}}
	for _, l := range layers {
		if err := m.Add(l); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Add appends a layer and builds it on the current output shape. The first
// layer must be an Input.
func (m *Model) Add(l Layer) error {
	if m.count == nil {
		m.count = map[string]int{}
	}
	b := l.base()
	if b.built {
		return fmt.Errorf("graph: layer %q (%s) already belongs to a model", b.Name, l.Class())
	}
	if m.functional {
		return fmt.Errorf("graph: Add appends to a Sequential model; model %q is Functional", m.Name)
	}
	if in, ok := l.(*InputLayer); ok {
		if m.input != nil {
			return fmt.Errorf("graph: Input must be the first layer, got it at position %d", len(m.layers)+1)
		}
		if err := in.validate(); err != nil {
			return err
		}
		if err := m.checkInput(in.Shape); err != nil {
			return err
		}
		m.input = Shape(in.Shape).Clone()
		b.built = true
		m.inputs, m.outputs = []int{0}, []int{0}
		m.nodes = []node{{layer: in, shape: m.input.Clone()}}
		return nil
	}
	if m.input == nil {
		return fmt.Errorf("graph: the first layer must be graph.Input(h, w, c), got %s", l.Class())
	}
	if _, ok := l.(MultiInput); ok {
		return fmt.Errorf("graph: layer %s takes several inputs: use it in a Functional model", l.Class())
	}
	if b.applied {
		return fmt.Errorf("graph: layer %q (%s) was applied to tensors: use it in a Functional model", b.Name, l.Class())
	}
	l.SetDefaults()
	if err := l.Validate(); err != nil {
		name := b.Name
		if name == "" {
			name = snakeName(l.Class())
		}
		return fmt.Errorf("graph: layer %q (%s): %w", name, l.Class(), err)
	}
	out, err := m.place(l, []Shape{m.OutputShape()})
	if err != nil {
		return err
	}
	if !m.deferAlloc {
		for _, p := range b.params {
			p.allocate()
		}
	}
	b.built = true
	m.nodes = append(m.nodes, node{layer: l, in: []int{m.outputs[0]}, shape: out.Clone()})
	m.outputs = []int{len(m.nodes) - 1}
	// Graphs built before this layer existed are stale.
	m.cache.reset()
	return nil
}

// place makes l the model's next layer, built on the input shapes in (by
// Add, and by Functional for a layer's first application): it names l
// (claimName), builds it with the generator of its index, so that the same
// seed gives the same weights, checks its weights and output against the
// limits, and appends it to the layers. The weights are declared, not
// allocated.
func (m *Model) place(l Layer, in []Shape) (Shape, error) {
	b := l.base()
	if err := m.claimName(l, snakeName(l.Class())); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(m.seed, uint64(len(m.layers))+1))
	b.params = nil
	out, err := build(l, in, rng)
	if err != nil {
		b.params = nil
		return nil, fmt.Errorf("graph: layer %q (%s) on input %s: %w", b.Name, l.Class(), shapeList(in), err)
	}
	b.inShape = in[0].Clone()
	if err := m.checkLayer(l, out); err != nil {
		b.params = nil
		return nil, err
	}
	if b.Frozen {
		// The layer's own SetTrainable: a model used as a layer freezes
		// its layers.
		l.(interface{ SetTrainable(bool) }).SetTrainable(false)
	}
	if err := m.uniqueParams(l); err != nil {
		b.params = nil
		return nil, err
	}
	m.layers = append(m.layers, l)
	m.shapes = append(m.shapes, out.Clone())
	return out, nil
}

// uniqueParams refuses a layer whose weights' names another layer of the
// model already uses (possible only with a model used as a layer: weight
// names are "<layer>/<weight>" and layer names are unique in a model).
func (m *Model) uniqueParams(l Layer) error {
	if _, ok := l.(*ModelLayer); !ok {
		return nil
	}
	have := map[string]bool{}
	for _, p := range m.Params() {
		have[p.Name] = true
	}
	for _, p := range l.base().params {
		if have[p.Name] {
			return fmt.Errorf("graph: layer %q (%s): its weight %s has the name of one the model already has: rename one of the two layers %q", l.base().Name, l.Class(), p.Name, strings.Split(p.Name, "/")[0])
		}
	}
	return nil
}

func (m *Model) uniqueName(prefix string) string {
	for {
		n := m.count[prefix]
		m.count[prefix]++
		name := prefix
		if n > 0 {
			name = fmt.Sprintf("%s_%d", prefix, n)
		}
		taken := false
		for _, nd := range m.nodes {
			if nd.layer.base().Name == name {
				taken = true
			}
		}
		if !taken {
			return name
		}
	}
}

// Seed returns the seed the initial weights were drawn from.
func (m *Model) Seed() uint64 { return m.seed }

// InputShape is the per-sample input shape (H, W, C).
func (m *Model) InputShape() Shape { return m.input.Clone() }

// OutputShape is the per-sample shape of the model's (first) output: the
// last layer's of a Sequential model.
func (m *Model) OutputShape() Shape {
	if len(m.outputs) == 0 {
		return m.input.Clone()
	}
	return m.nodes[m.outputs[0]].shape.Clone()
}

// Layers returns the layers after the Input, in order.
func (m *Model) Layers() []Layer { return m.layers }

// Layer returns the layer with the given name.
func (m *Model) Layer(name string) (Layer, error) {
	for _, l := range m.layers {
		if l.base().Name == name {
			return l, nil
		}
	}
	return nil, fmt.Errorf("graph: model %q has no layer %q", m.Name, name)
}

// LayerOutputShape returns the per-sample output shape of layer i.
func (m *Model) LayerOutputShape(i int) Shape { return m.shapes[i].Clone() }

// Params returns every weight of the model, in layer order.
func (m *Model) Params() []*Param {
	var out []*Param
	for _, l := range m.layers {
		out = append(out, l.base().params...)
	}
	return out
}

// Param returns the weight with the given name ("conv2d/kernel").
func (m *Model) Param(name string) (*Param, error) {
	for _, p := range m.Params() {
		if p.Name == name {
			return p, nil
		}
	}
	return nil, fmt.Errorf("graph: model %q has no weight %q", m.Name, name)
}

// CountParams returns the number of trainable and non-trainable weights.
func (m *Model) CountParams() (trainable, nonTrainable int) {
	for _, p := range m.Params() {
		if p.Trainable {
			trainable += p.Size()
		} else {
			nonTrainable += p.Size()
		}
	}
	return
}

// Summary returns a table like Keras's model.summary(): each layer's name
// and class, its output shape in Keras notation and its number of weights,
// then the total, trainable and non-trainable counts.
func (m *Model) Summary() string {
	if m.functional {
		return m.functionalSummary()
	}
	var b strings.Builder
	names := make([]string, len(m.layers))
	w1, w2 := len("Layer (type)"), len("Output Shape")
	for i, l := range m.layers {
		names[i] = fmt.Sprintf("%s (%s)", l.base().Name, l.Class())
		w1 = max(w1, len(names[i]))
		w2 = max(w2, len(m.shapes[i].String()))
	}
	w1, w2 = max(w1+2, 29), max(w2+2, 26)
	width := 1 + w1 + w2 + 10
	line := strings.Repeat("_", width)
	fmt.Fprintf(&b, "Model: %q\n%s\n", m.Name, line)
	fmt.Fprintf(&b, " %-*s%-*s%s\n", w1, "Layer (type)", w2, "Output Shape", "Param #")
	fmt.Fprintf(&b, "%s\n", strings.Repeat("=", width))
	for i, l := range m.layers {
		n := 0
		for _, p := range l.base().params {
			n += p.Size()
		}
		fmt.Fprintf(&b, " %-*s%-*s%s\n", w1, names[i], w2, m.shapes[i], commas(n))
		if i < len(m.layers)-1 {
			fmt.Fprintln(&b)
		}
	}
	tr, non := m.CountParams()
	fmt.Fprintf(&b, "%s\n", strings.Repeat("=", width))
	fmt.Fprintf(&b, "Total params: %s\nTrainable params: %s\nNon-trainable params: %s\n%s\n",
		commas(tr+non), commas(tr), commas(non), line)
	return b.String()
}

func commas(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// Graph is a model turned into a Gorgonia expression graph for one batch
// size and mode.
type Graph struct {
	*Ctx
	// X is the (first) input node, (Batch, H, W, C); feed it with Feed.
	X *G.Node
	// Xs are the input nodes, one per model input (X is Xs[0]).
	Xs []*G.Node
	// Out is the model's (first) output node, (Batch, out...).
	Out *G.Node
	// Outs are the output nodes, one per model output (Out is Outs[0]).
	Outs []*G.Node
	// Outputs[i] is the output node of the model's layer i (Layers()[i];
	// of its first application when the layer is shared),
	// (Batch, LayerOutputShape(i)...): the node its Call returned, which may
	// be shared with the next layer (a Dropout in inference returns its
	// input) and whose pre-activation may not exist (fused ops).
	Outputs []*G.Node
	// Batch is the fixed batch size of this graph.
	Batch int

	xs []*tensor.Dense
}

// Graph builds the model's computation for batch samples into a new
// expression graph. In a training graph (training true) Dropout is active
// and BatchNormalization uses batch statistics.
func (m *Model) Graph(batch int, training bool) (*Graph, error) {
	if batch < 1 {
		return nil, fmt.Errorf("graph: batch size must be positive, got %d", batch)
	}
	if m.input == nil {
		return nil, fmt.Errorf("graph: model %q has no Input", m.Name)
	}
	g := G.NewGraph()
	c := NewCtx(g, training)
	gr := &Graph{Ctx: c, Batch: batch}
	vals := make([]*G.Node, len(m.nodes))
	for k, ni := range m.inputs {
		xt := tensor.New(tensor.WithShape(m.nodes[ni].shape.WithBatch(batch)...), tensor.Of(tensor.Float32))
		name := "input"
		if k > 0 {
			name = fmt.Sprintf("input_%d", k)
		}
		vals[ni] = G.NodeFromAny(g, xt, G.WithName(name))
		gr.xs = append(gr.xs, xt)
		gr.Xs = append(gr.Xs, vals[ni])
	}
	gr.Outputs = make([]*G.Node, 0, len(m.layers))
	if err := m.callNodes(c, vals, func(nd node, out *G.Node) {
		if nd.app == 0 {
			gr.Outputs = append(gr.Outputs, out)
		}
	}); err != nil {
		return nil, err
	}
	for _, ni := range m.outputs {
		gr.Outs = append(gr.Outs, vals[ni])
	}
	gr.X, gr.Out = gr.Xs[0], gr.Outs[0]
	return gr, nil
}

// callNodes applies every layer node of the model in c's graph: vals holds
// the nodes of the model's inputs (at their indexes) and receives every
// other node's output; each is passed to seen, if not nil, in order.
func (m *Model) callNodes(c *Ctx, vals []*G.Node, seen func(node, *G.Node)) error {
	for i, nd := range m.nodes {
		if vals[i] != nil {
			continue // an input
		}
		// A fresh slice per node: Gorgonia keeps the one it is given as
		// the node's children.
		args := make([]*G.Node, 0, len(nd.in))
		for _, j := range nd.in {
			args = append(args, vals[j])
		}
		var out *G.Node
		var err error
		if mi, ok := nd.layer.(MultiInput); ok {
			out, err = mi.CallMulti(c, args)
		} else {
			out, err = nd.layer.Call(c, args[0])
		}
		if err != nil {
			return fmt.Errorf("graph: layer %q (%s): %w", nd.layer.base().Name, nd.layer.Class(), err)
		}
		vals[i] = out
		if seen != nil {
			seen(nd, out)
		}
	}
	return nil
}

// Output returns the graph's (first) output as its layer declares it (for
// losses).
func (gr *Graph) Output() Output { return gr.Ctx.Output(gr.Out) }

// Feed copies a batch of inputs, Batch*H*W*C values in NHWC order, into the
// graph's input tensor (of a model with one input; FeedInputs for several).
func (gr *Graph) Feed(x []float32) error {
	if len(gr.xs) != 1 {
		return fmt.Errorf("graph: feed one input into a model with %d inputs: use FeedInputs", len(gr.xs))
	}
	return gr.FeedInputs(x)
}

// FeedInputs copies a batch of each input, in the order of the model's
// inputs, into the graph's input tensors.
func (gr *Graph) FeedInputs(xs ...[]float32) error {
	if len(xs) != len(gr.xs) {
		return fmt.Errorf("graph: feed %d inputs into a model with %d", len(xs), len(gr.xs))
	}
	for i, x := range xs {
		d := gr.xs[i].Data().([]float32)
		if len(x) != len(d) {
			return fmt.Errorf("graph: feed %d values into input %d of shape %v (%d values)", len(x), i, gr.xs[i].Shape(), len(d))
		}
		copy(d, x)
	}
	return nil
}

// TrainableNodes returns the nodes of the trainable weights this graph uses,
// with their parameters, in model order.
func (gr *Graph) TrainableNodes(m *Model) (G.Nodes, []*Param) {
	var nodes G.Nodes
	var params []*Param
	for _, p := range m.Params() {
		if !p.Trainable {
			continue
		}
		if n, ok := gr.ParamNode(p); ok {
			nodes = append(nodes, n)
			params = append(params, p)
		}
	}
	return nodes, params
}
