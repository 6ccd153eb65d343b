package graph_test

import (
	"slices"
	"sync"
	"testing"

	"github.com/capa-ml/capa"
	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/train"
)

// TestConcurrentPredictEvaluate runs Predict and Evaluate from several
// goroutines on one model and checks that each gets what a lone call gets.
// It is short, so that CI runs it under -race.
func TestConcurrentPredictEvaluate(t *testing.T) {
	m, err := graph.SequentialSeed(5, capa.PracticalLayers(16)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Compile(nil, train.SparseCategoricalCrossentropy{}); err != nil {
		t.Fatal(err)
	}
	const n = 24
	d := graph.Data{X: make([]float32, n*28*28), Y: make([]float32, n), N: n}
	for i := range d.X {
		d.X[i] = float32(i%251) / 251
	}
	for i := range d.Y {
		d.Y[i] = float32(i % 10)
	}
	// A lone call per batch size: a BLAS may sum a row of a GEMM in
	// another order for another number of rows (OpenBLAS's Haswell
	// kernels do), so batch sizes are compared with themselves.
	want := map[int][]float32{}
	for _, b := range []int{8, 5} {
		if want[b], err = m.Predict(d.X, b); err != nil {
			t.Fatal(err)
		}
	}
	wantRep, err := m.Evaluate(d, 8)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 3; i++ {
				// Batch sizes differ between goroutines: graphs of
				// several keys are built and pooled at once.
				b := 8 - g%2*3
				got, err := m.Predict(d.X, b)
				if err != nil || !slices.Equal(got, want[b]) {
					errs <- "Predict differs from a lone call"
					return
				}
				rep, err := m.Evaluate(d, 8)
				if err != nil || rep.Loss != wantRep.Loss || rep.Accuracy != wantRep.Accuracy {
					errs <- "Evaluate differs from a lone call"
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
