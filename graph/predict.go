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
	ex, err := engine.NewExecutor(gr.G, append([]*G.Node{gr.Out}, extra...)...)
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

// Input returns the graph's input values (Batch samples, NHWC) to be
// filled in place before Exec, saving the copy Run makes.
func (r *Runner) Input() []float32 { return r.x.Data().([]float32) }

// Exec runs the graph once on the current contents of Input.
func (r *Runner) Exec() error { return r.ex.Run() }

// Value returns the value of a node after Run (valid until the next Run).
func (r *Runner) Value(n *G.Node) (G.Value, error) { return r.ex.Value(n) }

// Output returns the values of the output node after Run (valid until the
// next Run).
func (r *Runner) Output() []float32 {
	v, err := r.ex.Value(r.Out)
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
// pool and given back (the weights are shared, read only).
func (m *Model) Predict(x []float32, batch int) ([]float32, error) {
	if m.input == nil {
		return nil, fmt.Errorf("graph: model %q has no Input", m.Name)
	}
	in, out := m.input.Size(), m.OutputShape().Size()
	if batch < 1 {
		return nil, fmt.Errorf("graph: batch size must be positive, got %d", batch)
	}
	if len(x)%in != 0 {
		return nil, fmt.Errorf("graph: Predict: %d input values are not a whole number of %v samples", len(x), m.input)
	}
	n := len(x) / in
	res := make([]float32, 0, n*out)
	for i := 0; i < n; i += batch {
		b := min(batch, n-i)
		k := compiledKey{batch: b}
		s, gen, err := m.take(k)
		if err != nil {
			return nil, err
		}
		if err := s.r.Run(x[i*in : (i+b)*in]); err != nil {
			m.give(k, s, gen)
			return nil, err
		}
		res = append(res, s.r.Output()...)
		m.give(k, s, gen)
	}
	return res, nil
}
