// Package capa is the Keras-like front door of Capa: a Model that is built,
// compiled, fitted, evaluated, used for prediction, saved and loaded, as in
// Keras, over the graph (layers, the model, its training loop and its file)
// and train (losses, optimizers, schedules, callbacks) packages.
//
//	m, _ := capa.Sequential(
//		graph.Input(28, 28, 1),
//		&graph.Conv2D{Filters: 32, KernelSize: [2]int{5, 5}, Activation: "relu"},
//		&graph.MaxPooling2D{PoolSize: [2]int{2, 2}},
//		&graph.Flatten{},
//		&graph.Dense{Units: 10, Activation: "softmax"},
//	)
//	m.Compile(&train.Adam{}, train.SparseCategoricalCrossentropy{})
//	m.Fit(capa.FromSet(trainSet), graph.FitOptions{Epochs: 10})
package capa

import (
	"github.com/capa-ml/capa/dataset"
	"github.com/capa-ml/capa/graph"

	// Registered optimizers, losses and layers, for Load.
	_ "github.com/capa-ml/capa/augment"
	_ "github.com/capa-ml/capa/train"
)

// Model is Capa's one model type, graph.Model: layers and weights, and
// once compiled its optimizer, loss and training state, with Summary,
// Compile, Fit, Evaluate, Predict and Save.
type Model = graph.Model

// Sequential builds a model from graph.Input followed by layers, with
// weights drawn from graph.DefaultSeed.
func Sequential(layers ...graph.Layer) (*Model, error) { return graph.Sequential(layers...) }

// SequentialSeed is Sequential with an explicit seed for the weights, the
// dropout masks and the shuffling.
func SequentialSeed(seed uint64, layers ...graph.Layer) (*Model, error) {
	return graph.SequentialSeed(seed, layers...)
}

// Functional makes a model of the layers between inputs and outputs
// (Keras's keras.Model(inputs, outputs)): see graph.NewInput and
// graph.Apply.
func Functional(inputs, outputs []*graph.Tensor) (*Model, error) {
	return graph.Functional(inputs, outputs)
}

// Load reads a model saved by Model.Save (Keras's load_model); a compiled
// model comes back compiled, ready to evaluate or to continue training
// where it stopped. This package imports every package of Capa that
// registers layers, optimizers or losses (augment, train), so that any
// file Capa writes loads with no other import.
// The architecture is checked before any weight is allocated, against
// graph.DefaultLimits or the limits given with graph.WithLimits.
func Load(path string, opts ...graph.LoadOption) (*Model, error) { return graph.Load(path, opts...) }

// FromSet returns a data set's images and labels (as class indices) in the
// form Fit and Evaluate take. The images are shared, not copied.
func FromSet(s *dataset.Set) graph.Data {
	y := make([]float32, s.N)
	for i, l := range s.Labels {
		y[i] = float32(l)
	}
	return graph.Data{X: s.Images, Y: y, N: s.N}
}
