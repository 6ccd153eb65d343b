package train_test

import (
	"io"
	"math"
	"strings"
	"testing"

	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/train"
)

// weightsModel is a small classifier without batch statistics, so that a
// duplicated sample and a sample of weight 2 are the same loss term.
func weightsModel(t *testing.T, lr float64, loss graph.Loss) *graph.Model {
	t.Helper()
	m, err := graph.SequentialSeed(4, graph.Input(3), &graph.Dense{Units: 5, Activation: "tanh"}, &graph.Dense{Units: 3, Activation: "softmax"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Compile(&train.SGD{LearningRate: lr}, loss); err != nil {
		t.Fatal(err)
	}
	return m
}

func fitOnce(t *testing.T, m *graph.Model, d graph.Data, o graph.FitOptions) float64 {
	t.Helper()
	o.Epochs, o.BatchSize, o.NoShuffle, o.Progress = 1, d.N, true, io.Discard
	h, err := m.Fit(d, o)
	if err != nil {
		t.Fatal(err)
	}
	return h["loss"][len(h["loss"])-1]
}

// TestSampleWeights: a sample of weight 2 in a batch of 2 is the same
// gradient, up to the batch-size divisor, as that sample twice in a batch
// of 3 (Keras's sum over the batch size): one SGD step at 3/2 the learning
// rate gives the same weights, and the loss reported is 3/2 the other's.
// Class weights are sample weights by class.
func TestSampleWeights(t *testing.T) {
	a, b := []float32{0.5, -1, 2}, []float32{-0.3, 0.8, 0.1}
	for _, loss := range []graph.Loss{train.SparseCategoricalCrossentropy{}, train.CategoricalCrossentropy{}} {
		ya, yb := []float32{1}, []float32{2}
		if loss.LabelSize(3) == 3 {
			ya, yb = []float32{0, 1, 0}, []float32{0, 0, 1}
		}
		weighted := weightsModel(t, 0.1, loss)
		lw := fitOnce(t, weighted, graph.Data{X: cat(a, b), Y: cat(ya, yb), N: 2, Weights: []float32{2, 1}}, graph.FitOptions{})
		dup := weightsModel(t, 0.15, loss)
		ld := fitOnce(t, dup, graph.Data{X: cat(a, a, b), Y: cat(ya, ya, yb), N: 3}, graph.FitOptions{})
		if math.Abs(lw-1.5*ld) > 1e-5 {
			t.Errorf("%s: weighted loss %v, duplicated %v (want 3/2 of it)", loss.Name(), lw, ld)
		}
		for i, p := range weighted.Params() {
			q := dup.Params()[i]
			for j, v := range p.Data() {
				if math.Abs(float64(v-q.Data()[j])) > 1e-6 {
					t.Fatalf("%s: %s[%d] = %v, duplicated %v", loss.Name(), p.Name, j, v, q.Data()[j])
				}
			}
		}
		// Class 1 weighs 2: the same run as the sample weights.
		byClass := weightsModel(t, 0.1, loss)
		lc := fitOnce(t, byClass, graph.Data{X: cat(a, b), Y: cat(ya, yb), N: 2}, graph.FitOptions{ClassWeight: map[int]float64{1: 2}})
		if lc != lw {
			t.Errorf("%s: class-weighted loss %v, sample-weighted %v", loss.Name(), lc, lw)
		}
		for i, p := range byClass.Params() {
			for j, v := range p.Data() {
				if v != weighted.Params()[i].Data()[j] {
					t.Fatalf("%s: class weights differ from sample weights at %s[%d]", loss.Name(), p.Name, j)
				}
			}
		}
	}
	// Refusals, each naming the problem; the model is unchanged.
	d := graph.Data{X: cat(a, b), Y: []float32{1, 2}, N: 2}
	for _, c := range []struct {
		loss graph.Loss
		d    graph.Data
		o    graph.FitOptions
		want string
	}{
		{train.SparseCategoricalCrossentropy{}, withWeights(d, 1, 1), graph.FitOptions{ClassWeight: map[int]float64{0: 2}}, "not both"},
		{train.SparseCategoricalCrossentropy{}, withWeights(d, 1), graph.FitOptions{}, "1 sample weights for 2 samples"},
		{train.SparseCategoricalCrossentropy{}, withWeights(d, 1, -1), graph.FitOptions{}, "non-negative"},
		{train.SparseCategoricalCrossentropy{}, withWeights(d, 1, float32(math.NaN())), graph.FitOptions{}, "non-negative"},
		{train.SparseCategoricalCrossentropy{}, d, graph.FitOptions{ClassWeight: map[int]float64{3: 2}}, "3 classes"},
		{train.BinaryCrossentropy{}, graph.Data{X: d.X, Y: make([]float32, 6), N: 2, Weights: []float32{1, 1}}, graph.FitOptions{}, "does not take sample or class weights"},
	} {
		m := weightsModel(t, 0.1, c.loss)
		before := append([]float32(nil), m.Params()[0].Data()...)
		c.o.Progress = io.Discard
		_, err := m.Fit(c.d, c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error saying %q", c.want, err, c.want)
		}
		for j, v := range m.Params()[0].Data() {
			if v != before[j] {
				t.Fatalf("%s: the refused Fit changed the weights", c.want)
			}
		}
	}
}

func cat(xs ...[]float32) []float32 {
	var out []float32
	for _, x := range xs {
		out = append(out, x...)
	}
	return out
}

func withWeights(d graph.Data, w ...float32) graph.Data {
	d.Weights = w
	return d
}
