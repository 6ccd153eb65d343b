// Package capa is the Keras-like front door of Capa: a Model that is built,
// compiled, fitted, evaluated, used for prediction, saved and loaded, as in
// Keras, over the graph (layers and expression graphs) and train (losses,
// optimizers, training loop, files) packages.
//
//	m, _ := capa.Sequential(
//		graph.Input(28, 28, 1),
//		&graph.Conv2D{Filters: 32, KernelSize: [2]int{5, 5}, Activation: "relu"},
//		&graph.MaxPooling2D{PoolSize: [2]int{2, 2}},
//		&graph.Flatten{},
//		&graph.Dense{Units: 10, Activation: "softmax"},
//	)
//	m.Compile(&train.Adam{}, train.SparseCategoricalCrossentropy{})
//	m.Fit(capa.FromSet(trainSet), train.FitOptions{Epochs: 10})
package capa

import (
	"context"
	"fmt"

	"github.com/capa-ml/capa/dataset"
	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/train"
)

// Model is a graph model with, once compiled, its trainer. The embedded
// *graph.Model gives Summary, Predict, Layers, Params and the rest.
type Model struct {
	*graph.Model
	trainer *train.Trainer
}

// Sequential builds a model from graph.Input followed by layers, with
// weights drawn from graph.DefaultSeed.
func Sequential(layers ...graph.Layer) (*Model, error) {
	m, err := graph.Sequential(layers...)
	if err != nil {
		return nil, err
	}
	return &Model{Model: m}, nil
}

// SequentialSeed is Sequential with an explicit seed for the weights, the
// dropout masks and the shuffling.
func SequentialSeed(seed uint64, layers ...graph.Layer) (*Model, error) {
	m, err := graph.SequentialSeed(seed, layers...)
	if err != nil {
		return nil, err
	}
	return &Model{Model: m}, nil
}

// Wrap makes a Model of a graph model (uncompiled).
func Wrap(m *graph.Model) *Model { return &Model{Model: m} }

// Compile sets the optimizer and the loss (Keras's compile). Accuracy is
// always reported. Compiling again starts a fresh optimizer state.
func (m *Model) Compile(opt train.Optimizer, loss train.Loss) error {
	t, err := train.Compile(m.Model, opt, loss)
	if err != nil {
		return err
	}
	m.trainer = t
	return nil
}

// Trainer returns the model's trainer (nil before Compile).
func (m *Model) Trainer() *train.Trainer { return m.trainer }

func (m *Model) compiled(what string) error {
	if m.trainer == nil {
		return fmt.Errorf("capa: %s needs a compiled model: call Compile first", what)
	}
	return nil
}

// Fit trains the model (Keras's fit).
func (m *Model) Fit(d train.Data, o train.FitOptions) (train.History, error) {
	return m.FitContext(context.Background(), d, o)
}

// FitContext is Fit that stops at the end of a batch when ctx is cancelled,
// returning an error wrapping train.ErrInterrupted.
func (m *Model) FitContext(ctx context.Context, d train.Data, o train.FitOptions) (train.History, error) {
	if err := m.compiled("Fit"); err != nil {
		return nil, err
	}
	return m.trainer.Fit(ctx, d, o)
}

// Evaluate returns the loss, accuracy and confusion matrix on d in
// inference mode (Keras's evaluate), batch samples at a time.
func (m *Model) Evaluate(d train.Data, batch int) (train.Report, error) {
	if err := m.compiled("Evaluate"); err != nil {
		return train.Report{}, err
	}
	return m.trainer.Evaluate(d, batch)
}

// Save writes the whole model (architecture, weights, and when compiled the
// optimizer and training state) to path, atomically (Keras's save). The
// file is a safetensors file with the architecture as JSON metadata.
func (m *Model) Save(path string) error {
	if m.trainer == nil {
		return train.SaveModel(path, m.Model)
	}
	return train.Save(path, m.trainer)
}

// Load reads a model saved by Save; a compiled model comes back compiled,
// ready to evaluate or to continue training where it stopped.
func Load(path string) (*Model, error) {
	gm, t, err := train.Load(path)
	if err != nil {
		return nil, err
	}
	return &Model{Model: gm, trainer: t}, nil
}

// FromSet returns a data set's images and labels (as class indices) in the
// form Fit and Evaluate take. The images are shared, not copied.
func FromSet(s *dataset.Set) train.Data {
	y := make([]float32, s.N)
	for i, l := range s.Labels {
		y[i] = float32(l)
	}
	return train.Data{X: s.Images, Y: y, N: s.N}
}
