package train_test

import (
	"io"
	"slices"
	"testing"

	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/train"
)

// augRecorder is a BatchTransform that records its calls and zeroes the batch.
type augRecorder struct {
	sizes  []int
	shapes [][]int
}

func (r *augRecorder) Apply(x []float32, n int, shape []int) error {
	r.sizes = append(r.sizes, n)
	r.shapes = append(r.shapes, slices.Clone(shape))
	clear(x)
	return nil
}

func augTrainer(t *testing.T) *graph.Model {
	t.Helper()
	m, err := graph.SequentialSeed(3, graph.Input(4, 4, 1), &graph.Flatten{}, &graph.Dense{Units: 3, Activation: "softmax"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Compile(&train.SGD{LearningRate: 0.1}, train.SparseCategoricalCrossentropy{}); err != nil {
		t.Fatal(err)
	}
	return m
}

// FitOptions.Augment transforms every training batch, and only those: the
// caller's data is untouched and validation sees the original inputs.
func TestFitAugment(t *testing.T) {
	d := graph.Data{X: make([]float32, 10*16), Y: make([]float32, 10), N: 10}
	for i := range d.X {
		d.X[i] = float32(i%7) / 7
	}
	for i := range d.Y {
		d.Y[i] = float32(i % 3)
	}
	x0, y0 := slices.Clone(d.X), slices.Clone(d.Y)
	rec := &augRecorder{}
	tr := augTrainer(t)
	h, err := tr.Fit(d, graph.FitOptions{
		Epochs: 2, BatchSize: 4, ValidationData: &d, Augment: rec, Progress: io.Discard,
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{4, 4, 2, 4, 4, 2}; !slices.Equal(rec.sizes, want) {
		t.Errorf("Augment saw batches of %v, want %v", rec.sizes, want)
	}
	for _, s := range rec.shapes {
		if !slices.Equal(s, []int{4, 4, 1}) {
			t.Fatalf("Augment got shape %v, want [4 4 1]", s)
		}
	}
	if !slices.Equal(d.X, x0) || !slices.Equal(d.Y, y0) {
		t.Error("Fit with Augment changed the caller's data")
	}
	// The model trained on the transformed (zeroed) inputs: the same as
	// training without Augment on zeros.
	z := graph.Data{X: make([]float32, len(d.X)), Y: d.Y, N: d.N}
	tz := augTrainer(t)
	hz, err := tz.Fit(z, graph.FitOptions{Epochs: 2, BatchSize: 4, ValidationData: &d, Progress: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(h["loss"], hz["loss"]) || !slices.Equal(h["val_loss"], hz["val_loss"]) {
		t.Errorf("losses %v %v, want those of training on zeros %v %v", h["loss"], h["val_loss"], hz["loss"], hz["val_loss"])
	}
	if _, err := tr.Evaluate(d, 4); err != nil || len(rec.sizes) != 6 {
		t.Errorf("Evaluate: %v, Augment called %d times (want 6)", err, len(rec.sizes))
	}
}
