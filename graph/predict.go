package graph

import (
	"fmt"

	"github.com/capa-ml/capa/internal/engine"
	G "gorgonia.org/gorgonia"
)

// Runner executes a Graph: it computes the model's output and any other
// requested nodes (a loss, gradients) into buffers allocated on the first
// run and reused afterwards. It is not safe for concurrent use.
type Runner struct {
	*Graph
	ex *engine.Executor
}

// NewRunner plans the execution of gr's output and of the extra nodes
// (such as a loss and the gradient nodes returned by gorgonia.Grad). Only
// what they depend on is computed.
func NewRunner(gr *Graph, extra ...*G.Node) (*Runner, error) {
	ex, err := engine.NewExecutor(gr.G, append(append([]*G.Node(nil), gr.Outs...), extra...)...)
	if err != nil {
		return nil, err
	}
	return &Runner{Graph: gr, ex: ex}, nil
}

// Run feeds x (Batch samples, NHWC) and runs the graph once.
func (r *Runner) Run(x []float32) error {
	if err := r.Feed(x); err != nil {
		return err
	}
	return r.ex.Run()
}

// Input returns the graph's (first) input values (Batch samples, NHWC) to
// be filled in place before Exec, saving the copy Run makes.
func (r *Runner) Input() []float32 { return r.xs[0].Data().([]float32) }

// InputN returns the values of the model's input i, as Input does.
func (r *Runner) InputN(i int) []float32 { return r.xs[i].Data().([]float32) }

// Exec runs the graph once on the current contents of Input.
func (r *Runner) Exec() error { return r.ex.Run() }

// Value returns the value of a node after Run (valid until the next Run).
func (r *Runner) Value(n *G.Node) (G.Value, error) { return r.ex.Value(n) }

// Output returns the values of the (first) output node after Run (valid
// until the next Run).
func (r *Runner) Output() []float32 { return r.OutputN(0) }

// OutputN returns the values of the model's output i after Run.
func (r *Runner) OutputN(i int) []float32 {
	v, err := r.ex.Value(r.Outs[i])
	if err != nil {
		return nil
	}
	return v.Data().([]float32)
}

// Close releases the runner's buffers.
func (r *Runner) Close() { r.ex = nil }

// Predict runs the model in inference mode on n samples stored one after the
// other in x (NHWC) and returns their outputs, n*OutputShape().Size() values
// (Keras's predict). Samples are processed batch at a time; a last partial
// batch runs through a graph of its own size, so every sample is covered.
// Predict needs no Compile. It is safe for concurrent use, and parallel:
// each call runs on a compiled graph of its own, taken from the model's
// pool and given back (the weights are shared, read only). A model with
// several inputs or outputs is run with PredictInputs.
func (m *Model) Predict(x []float32, batch int) ([]float32, error) {
	if m.input == nil {
		return nil, fmt.Errorf("graph: model %q has no Input", m.Name)
	}
	if len(m.inputs) != 1 || len(m.outputs) != 1 {
		return nil, fmt.Errorf("graph: Predict: model %q has %d inputs and %d outputs: use PredictInputs", m.Name, len(m.inputs), len(m.outputs))
	}
	res, err := m.PredictInputs([][]float32{x}, batch)
	if err != nil {
		return nil, err
	}
	return res[0], nil
}

// PredictInputs is Predict for a model with any number of inputs and
// outputs: xs[i] holds the n samples of input i, and the result one slice
// per output.
func (m *Model) PredictInputs(xs [][]float32, batch int) ([][]float32, error) {
	if m.input == nil {
		return nil, fmt.Errorf("graph: model %q has no Input", m.Name)
	}
	if batch < 1 {
		return nil, fmt.Errorf("graph: batch size must be positive, got %d", batch)
	}
	ins := m.inputSizes()
	if len(xs) != len(ins) {
		return nil, fmt.Errorf("graph: Predict: %d inputs for a model with %d", len(xs), len(ins))
	}
	n := -1
	for i, x := range xs {
		in := ins[i]
		if len(x)%in != 0 {
			return nil, fmt.Errorf("graph: Predict: %d input values are not a whole number of %v samples", len(x), m.nodes[m.inputs[i]].shape)
		}
		if n >= 0 && len(x)/in != n {
			return nil, fmt.Errorf("graph: Predict: input %d has %d samples, input 0 has %d", i, len(x)/in, n)
		}
		n = len(x) / in
	}
	res := make([][]float32, len(m.outputs))
	for j, o := range m.outputs {
		res[j] = make([]float32, 0, n*m.nodes[o].shape.Size())
	}
	feed := make([][]float32, len(xs))
	for i := 0; i < n; i += batch {
		b := min(batch, n-i)
		for j, x := range xs {
			in := ins[j]
			feed[j] = x[i*in : (i+b)*in]
		}
		k := compiledKey{batch: b}
		s, gen, err := m.take(k)
		if err != nil {
			return nil, err
		}
		if err := s.r.FeedInputs(feed...); err == nil {
			err = s.r.Exec()
		}
		if err != nil {
			m.give(k, s, gen)
			return nil, err
		}
		for j := range m.outputs {
			res[j] = append(res[j], s.r.OutputN(j)...)
		}
		m.give(k, s, gen)
	}
	return res, nil
}
