package graph

import (
	"fmt"
	"math/rand/v2"
	"sync"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Loss is a training objective averaged over the batch. Package train has
// Keras's cross-entropies; a loss builds its node into the model's graph.
type Loss interface {
	// Name is the Keras name, such as "sparse_categorical_crossentropy".
	Name() string
	// LabelSize is the number of label values per sample for a model with
	// outSize outputs per sample.
	LabelSize(outSize int) int
	// Targets writes the graph's target tensor, (batch, outSize), from the
	// labels of a batch.
	Targets(dst, labels []float32, outSize int) error
	// Build adds the mean loss over the batch to the graph of out, from the
	// model's declared output and the target node (same shape as
	// out.Node). It uses the logits of a softmax or sigmoid output when the
	// output declares them, as Keras does.
	Build(out Output, target *G.Node) (*G.Node, error)
}

// TargetLinear is an optional Loss ability: TargetLinear reports true when
// each sample's loss is linear in its target row (the cross-entropies:
// -Σ t·log p), so that scaling the row by a weight weighs the sample's loss.
// Fit's sample and class weights need it.
type TargetLinear interface {
	TargetLinear() bool
}

// Optimizer is an update rule: how one parameter moves given its gradient
// and its slots (per-parameter state such as Adam's moments). The model
// owns the slots, keyed by parameter name, and calls Update once per
// parameter per step. Package train has Keras's optimizers; they are
// configuration structs that round-trip through JSON.
type Optimizer interface {
	// Class is the Keras class name ("Adam").
	Class() string
	// Slots names the per-parameter state tensors, each the parameter's size.
	Slots() []string
	// InitSlot returns the initial value of a slot (Adagrad's accumulator
	// starts at 0.1, others at 0).
	InitSlot(name string) float32
	// Update applies one step to w given its gradient g, its slots (in the
	// order of Slots), the step number t (1 for the first step) and the
	// learning rate lr.
	Update(w, g []float32, slots [][]float32, t int, lr float64)
	// LR returns the configured learning rate (with the default applied).
	LR() float64
}

// Compile sets the optimizer and the loss (Keras's compile) and starts a
// fresh training state: epoch 0, new optimizer slots, the shuffling
// generator seeded from the model's seed. The optimizer may be nil for a
// model that is only evaluated; Fit then refuses to run. Predict needs no
// Compile at all.
func (m *Model) Compile(opt Optimizer, loss Loss) error {
	if loss == nil {
		return fmt.Errorf("graph: Compile needs a loss")
	}
	lr := 0.0
	if opt != nil {
		if err := validateOptimizer(opt); err != nil {
			return fmt.Errorf("graph: Compile: %s: %w", opt.Class(), err)
		}
		lr = opt.LR()
	}
	m.optimizer, m.loss = opt, loss
	m.State = State{LearningRate: lr, History: History{}}
	m.Extra = nil
	m.slots = map[string][][]float32{}
	m.shuffle = rand.NewPCG(m.seed, 0x73687566666c65)
	m.cache.reset()
	return nil
}

// Optimizer returns the optimizer given to Compile (nil before).
func (m *Model) Optimizer() Optimizer { return m.optimizer }

// Loss returns the loss given to Compile (nil before).
func (m *Model) Loss() Loss { return m.loss }

// Compiled reports whether Compile was called.
func (m *Model) Compiled() bool { return m.loss != nil }

// OptimizerSlots returns the optimizer's state for weight p, one slice per
// slot (in the order of Optimizer.Slots), created at their initial values
// on first use. It is shared, not a copy: loaders fill it.
func (m *Model) OptimizerSlots(p *Param) [][]float32 {
	if s, ok := m.slots[p.Name]; ok {
		return s
	}
	var s [][]float32
	for _, name := range m.optimizer.Slots() {
		v := make([]float32, p.Size())
		if init := m.optimizer.InitSlot(name); init != 0 {
			for i := range v {
				v[i] = init
			}
		}
		s = append(s, v)
	}
	if m.slots == nil {
		m.slots = map[string][][]float32{}
	}
	m.slots[p.Name] = s
	return s
}

// ShuffleState returns the state of the generator that shuffles each
// epoch's order, for saving.
func (m *Model) ShuffleState() ([]byte, error) {
	if m.shuffle == nil {
		return nil, fmt.Errorf("graph: model %q is not compiled", m.Name)
	}
	return m.shuffle.MarshalBinary()
}

// SetShuffleState restores a state returned by ShuffleState.
func (m *Model) SetShuffleState(b []byte) error {
	if m.shuffle == nil {
		return fmt.Errorf("graph: model %q is not compiled", m.Name)
	}
	return m.shuffle.UnmarshalBinary(b)
}

// compiledKey identifies a compiled graph: its batch size, its mode and
// whether it computes the loss (and, in training, the gradients).
type compiledKey struct {
	batch    int
	training bool
	loss     bool
}

// compiled is the model's computation for one key: the Gorgonia graph, its
// runner and, with a loss, the target tensor, the loss node and, in
// training, the gradients of the trainable weights.
type compiled struct {
	r       *Runner
	target  *tensor.Dense
	lossN   *G.Node
	grads   G.Nodes // gradient nodes of params, in order
	params  []*Param
	outSize int
	acc     Accuracy // the accuracy that goes with the loss
}

// compiledCache is the model's one cache of compiled graphs, shared by
// Fit, Evaluate and Predict. Each key keeps a pool of idle graphs: a caller
// takes one (building a new one when none is idle) and gives it back, so
// that any number of goroutines can predict or evaluate at once, each on a
// graph of its own (the weights are shared).
type compiledCache struct {
	mu   sync.Mutex
	idle map[compiledKey][]*compiled
	// gen counts resets: a graph taken before a reset is not given back.
	gen uint64
	// sig is the trainable-weights signature the graphs were built for.
	sig string
}

func (c *compiledCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range c.idle {
		for _, s := range l {
			s.r.Close()
		}
	}
	c.idle = nil
	c.gen++
}

// trainableSig describes which weights are trainable.
func (m *Model) trainableSig() string {
	var sig []byte
	for _, p := range m.Params() {
		sig = append(sig, p.Name...)
		if p.Trainable {
			sig = append(sig, '+')
		} else {
			sig = append(sig, '-')
		}
	}
	return string(sig)
}

// dropStale forgets the compiled graphs when the set of trainable weights
// changed since they were built (SetTrainable after Compile), so that a
// frozen or unfrozen layer is honoured.
func (m *Model) dropStale() {
	sig := m.trainableSig()
	m.cache.mu.Lock()
	same := sig == m.cache.sig
	m.cache.sig = sig
	m.cache.mu.Unlock()
	if !same {
		m.cache.reset()
	}
}

// take returns an idle compiled graph for k, building one if none is idle,
// and the cache generation to give it back under.
func (m *Model) take(k compiledKey) (*compiled, uint64, error) {
	m.cache.mu.Lock()
	gen := m.cache.gen
	if l := m.cache.idle[k]; len(l) > 0 {
		s := l[len(l)-1]
		m.cache.idle[k] = l[:len(l)-1]
		m.cache.mu.Unlock()
		return s, gen, nil
	}
	m.cache.mu.Unlock()
	s, err := m.compile(k)
	return s, gen, err
}

// give returns a graph taken with take.
func (m *Model) give(k compiledKey, s *compiled, gen uint64) {
	m.cache.mu.Lock()
	defer m.cache.mu.Unlock()
	if gen != m.cache.gen {
		s.r.Close()
		return
	}
	if m.cache.idle == nil {
		m.cache.idle = map[compiledKey][]*compiled{}
	}
	m.cache.idle[k] = append(m.cache.idle[k], s)
}

// compile builds the graph for k.
func (m *Model) compile(k compiledKey) (*compiled, error) {
	gr, err := m.Graph(k.batch, k.training)
	if err != nil {
		return nil, err
	}
	outShape := m.OutputShape()
	s := &compiled{outSize: outShape.Size()}
	var wanted G.Nodes
	if k.loss {
		if m.loss == nil {
			return nil, fmt.Errorf("graph: model %q has no loss: call Compile first", m.Name)
		}
		if len(m.outputs) > 1 {
			return nil, fmt.Errorf("graph: model %q has %d outputs: training and evaluating with one loss per output is not supported yet (Predict works)", m.Name, len(m.outputs))
		}
		s.target = tensor.New(tensor.WithShape(outShape.WithBatch(k.batch)...), tensor.Of(tensor.Float32))
		tn := G.NodeFromAny(gr.G, s.target, G.WithName("target"))
		loss, err := m.loss.Build(gr.Output(), tn)
		if err != nil {
			return nil, fmt.Errorf("graph: loss %s: %w", m.loss.Name(), err)
		}
		// As in Keras, the regularizers' penalties are part of the loss in
		// training and in evaluation alike.
		if loss, err = addPenalties(gr, m, loss); err != nil {
			return nil, err
		}
		s.lossN = loss
		s.acc = accuracyOf(m.loss, s.outSize)
		wanted = append(wanted, loss)
		if k.training {
			nodes, params := gr.TrainableNodes(m)
			if len(nodes) == 0 {
				return nil, fmt.Errorf("graph: model %q has no trainable weights", m.Name)
			}
			if s.grads, err = G.Grad(loss, nodes...); err != nil {
				return nil, fmt.Errorf("graph: gradients: %w", err)
			}
			s.params = params
			wanted = append(wanted, s.grads...)
		}
	}
	if s.r, err = NewRunner(gr, wanted...); err != nil {
		return nil, err
	}
	return s, nil
}

// addPenalties adds the regularizers' penalties to the loss.
func addPenalties(gr *Graph, m *Model, loss *G.Node) (*G.Node, error) {
	for _, p := range m.Params() {
		n, used := gr.ParamNode(p)
		if !used || !p.Trainable || p.Regularizer == nil {
			continue
		}
		var err error
		if r := p.Regularizer.L2; r != 0 {
			pen := G.Must(G.Mul(G.Must(G.Sum(G.Must(G.Square(n)))), G.NewConstant(float32(r))))
			if loss, err = G.Add(loss, pen); err != nil {
				return nil, err
			}
		}
		if r := p.Regularizer.L1; r != 0 {
			pen := G.Must(G.Mul(G.Must(G.Sum(G.Must(G.Abs(n)))), G.NewConstant(float32(r))))
			if loss, err = G.Add(loss, pen); err != nil {
				return nil, err
			}
		}
	}
	return loss, nil
}

// SlotsOf returns the optimizer's state for weight p if it exists (the
// weight was trained or its slots were loaded), without creating it.
func (m *Model) SlotsOf(p *Param) ([][]float32, bool) {
	s, ok := m.slots[p.Name]
	return s, ok
}
