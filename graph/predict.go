package graph

import (
	"fmt"
	"sync"

	G "gorgonia.org/gorgonia"
)

// Runner runs a graph with Gorgonia's TapeMachine. It is not safe for
// concurrent use.
type Runner struct {
	*Graph
	vm G.VM
}

// NewRunner compiles gr for execution. If wrt is not empty, gradients with
// respect to those nodes are bound too (call gorgonia.Grad before).
func NewRunner(gr *Graph, wrt ...*G.Node) *Runner {
	var opts []G.VMOpt
	if len(wrt) > 0 {
		opts = append(opts, G.BindDualValues(wrt...))
	}
	return &Runner{Graph: gr, vm: G.NewTapeMachine(gr.G, opts...)}
}

// Run feeds x and runs the graph once.
func (r *Runner) Run(x []float32) error {
	if err := r.Feed(x); err != nil {
		return err
	}
	r.vm.Reset()
	if err := r.vm.RunAll(); err != nil {
		return fmt.Errorf("graph: run: %w", err)
	}
	return nil
}

// Output returns the values of the output node after Run (valid until the
// next Run).
func (r *Runner) Output() []float32 { return r.Out.Value().Data().([]float32) }

// Close releases the machine.
func (r *Runner) Close() { r.vm.Close() }

// predictor caches inference runners by batch size.
type predictor struct {
	mu      sync.Mutex
	runners map[int]*Runner
}

// Predict runs the model in inference mode on n samples stored one after the
// other in x (NHWC) and returns their outputs, n*OutputShape().Size() values.
// Samples are processed batch at a time; a last partial batch runs through a
// graph of its own size, so every sample is covered. Predict is safe for
// concurrent use (calls are serialized).
func (m *Model) Predict(x []float32, batch int) ([]float32, error) {
	in, out := m.input.Size(), m.OutputShape().Size()
	if batch < 1 {
		return nil, fmt.Errorf("graph: batch size must be positive, got %d", batch)
	}
	if len(x)%in != 0 {
		return nil, fmt.Errorf("graph: Predict: %d input values are not a whole number of %v samples", len(x), m.input)
	}
	n := len(x) / in
	res := make([]float32, 0, n*out)
	m.pred.mu.Lock()
	defer m.pred.mu.Unlock()
	if m.pred.runners == nil {
		m.pred.runners = map[int]*Runner{}
	}
	for i := 0; i < n; i += batch {
		b := min(batch, n-i)
		r, ok := m.pred.runners[b]
		if !ok {
			gr, err := m.Graph(b, false)
			if err != nil {
				return nil, err
			}
			r = NewRunner(gr)
			m.pred.runners[b] = r
		}
		if err := r.Run(x[i*in : (i+b)*in]); err != nil {
			return nil, err
		}
		res = append(res, r.Output()...)
	}
	return res, nil
}
