package graph_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"

	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/train"
	G "gorgonia.org/gorgonia"
)

// Shift is a user's own layer, defined outside Capa: it adds a trainable
// offset to each channel. Its configuration is its JSON-tagged fields;
// Register makes it loadable by its class name.
type Shift struct {
	graph.Base
	// Initializer of the offsets (default "zeros").
	Initializer string `json:"initializer"`

	offset *graph.Param
}

func init() { graph.Register("Shift", func() graph.Layer { return &Shift{} }) }

// Class returns the name the layer is registered and saved under.
func (l *Shift) Class() string { return "Shift" }

// SetDefaults fills the unset initializer.
func (l *Shift) SetDefaults() {
	if l.Initializer == "" {
		l.Initializer = "zeros"
	}
}

// Build declares one offset per channel (the last dimension).
func (l *Shift) Build(in graph.Shape, rng *rand.Rand) (graph.Shape, error) {
	c := in[len(in)-1]
	var err error
	l.offset, err = l.AddWeight("offset", []int{c}, l.Initializer, "zeros", c, c, rng)
	return in.Clone(), err
}

// Call adds the offsets with one of Capa's ops (which has its gradient).
func (l *Shift) Call(c *graph.Ctx, x *G.Node) (*G.Node, error) {
	return graph.BiasAdd(x, c.Param(l.offset))
}

// Logger is a user's callback with Keras's hook names.
type Logger struct{ batches int }

// OnEpochBegin is Keras's on_epoch_begin.
func (l *Logger) OnEpochBegin(m *graph.Model, epoch int) error {
	fmt.Println("epoch", epoch+1, "begins")
	return nil
}

// OnBatchEnd is Keras's on_train_batch_end (with the batch's loss).
func (l *Logger) OnBatchEnd(m *graph.Model, batch int, loss float64) error {
	l.batches++
	return nil
}

// OnEpochEnd is Keras's on_epoch_end.
func (l *Logger) OnEpochEnd(m *graph.Model, logs graph.Logs) error {
	fmt.Println("epoch ends after", l.batches, "batches")
	return nil
}

// A layer defined outside Capa trains, saves and loads like Capa's own,
// and a callback sees Keras's hooks.
func Example_customLayer() {
	m, err := graph.Sequential(graph.Input(4), &Shift{}, &graph.Dense{Units: 2, Activation: "softmax"})
	if err != nil {
		fmt.Println(err)
		return
	}
	d := graph.Data{X: make([]float32, 8*4), Y: []float32{0, 1, 0, 1, 0, 1, 0, 1}, N: 8}
	for i := range d.X {
		d.X[i] = float32(i%7) / 7
	}
	m.Compile(train.NewAdam(), train.SparseCategoricalCrossentropy{})
	if _, err := m.Fit(d, graph.FitOptions{Epochs: 2, BatchSize: 4, Callbacks: []graph.Callback{&Logger{}}, Progress: nopWriter{}}); err != nil {
		fmt.Println(err)
		return
	}
	dir, _ := os.MkdirTemp("", "shift")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "shift.safetensors")
	if err := m.Save(path); err != nil {
		fmt.Println(err)
		return
	}
	back, err := graph.Load(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	a, _ := m.Predict(d.X, 8)
	b, _ := back.Predict(d.X, 8)
	fmt.Println(back.Layers()[0].Class(), "loaded; same predictions:", slices.Equal(a, b))
	// Output:
	// epoch 1 begins
	// epoch ends after 2 batches
	// epoch 2 begins
	// epoch ends after 4 batches
	// Shift loaded; same predictions: true
}
