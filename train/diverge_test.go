package train

import (
	"errors"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/capa-ml/capa/graph"
)

func TestTerminateOnDivergence(t *testing.T) {
	m := &graph.Model{State: graph.State{LearningRate: 1e6}}
	d := &TerminateOnDivergence{}
	for i, l := range []float64{2, 2.4, 3, 150, 199} {
		if err := d.OnBatchEnd(m, i, l); err != nil {
			t.Fatalf("batch %d loss %v: %v", i, l, err)
		}
	}
	err := d.OnBatchEnd(m, 5, 1e21)
	if !errors.Is(err, ErrDiverged) || !strings.Contains(err.Error(), "learning rate 1e+06") {
		t.Errorf("loss 1e21: %v", err)
	}
	if err := (&TerminateOnDivergence{}).OnBatchEnd(m, 0, math.NaN()); !errors.Is(err, ErrDiverged) {
		t.Errorf("NaN: %v", err)
	}
	// In Fit: a huge learning rate stops the run with the error.
	mm := utCompile(t, utMLP(t, 1, false), &SGD{LearningRate: 1e6})
	_, err = mm.Fit(utData(64, 4, 3), graph.FitOptions{Epochs: 3, BatchSize: 8, Callbacks: []graph.Callback{&TerminateOnDivergence{}}, Progress: io.Discard})
	if !errors.Is(err, ErrDiverged) && !errors.Is(err, graph.ErrNaN) {
		t.Errorf("Fit with lr 1e6: %v", err)
	}
}
