package train

import (
	"errors"
	"fmt"
	"math"

	"github.com/capa-ml/capa/graph"
)

// ErrDiverged is returned (wrapped) by Fit when TerminateOnDivergence
// stops a run.
var ErrDiverged = errors.New("train: training diverged")

// TerminateOnDivergence is Keras's TerminateOnNaN, extended: it stops Fit
// at the first batch whose loss is NaN or infinite, or more than Factor
// times the loss of the run's first batch, where training started (the
// optimizer step of that batch is not applied). The error names the
// batch, the loss and the learning rate. capa train uses it by default.
type TerminateOnDivergence struct {
	// Factor is how far above the starting loss a loss may go, 100 by
	// default.
	Factor float64 `json:"factor"`

	ref     float64
	started bool
}

// OnEpochEnd does nothing: the checks are per batch.
func (d *TerminateOnDivergence) OnEpochEnd(*graph.Model, graph.Logs) error { return nil }

// OnBatchEnd checks one batch's loss.
func (d *TerminateOnDivergence) OnBatchEnd(m *graph.Model, batch int, loss float64) error {
	factor := d.Factor
	if factor == 0 {
		factor = 100
	}
	fail := func(why string) error {
		return fmt.Errorf("%w: loss %v at epoch %d, batch %d %s (learning rate %v: try a smaller one)",
			ErrDiverged, loss, m.State.Epoch+1, batch+1, why, m.State.LearningRate)
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return fail("is not a finite number")
	}
	if !d.started {
		d.started, d.ref = true, loss
		return nil
	}
	if loss > factor*d.ref && loss > 1e-3 {
		return fail(fmt.Sprintf("is over %v times the first batch's %.4g", factor, d.ref))
	}
	return nil
}
