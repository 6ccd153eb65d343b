package capa

import "github.com/capa-ml/capa/graph"

// PracticalLayers returns the layers of the course practical's network for
// 28x28 grayscale images and 10 classes, in Keras notation
//
//	Input(28,28,1) -> Conv2D(32,(5,5),relu) -> MaxPooling2D((2,2)) ->
//	Conv2D(64,(5,5),relu) -> MaxPooling2D((2,2)) -> Flatten ->
//	[Dense(hidden, relu) ->] Dense(10, softmax)
//
// with the optional hidden Dense layer when hidden > 0. Without it the model
// has 62,346 parameters.
func PracticalLayers(hidden int) []graph.Layer {
	ls := []graph.Layer{
		graph.Input(28, 28, 1),
		&graph.Conv2D{Filters: 32, KernelSize: [2]int{5, 5}, Activation: "relu"},
		&graph.MaxPooling2D{PoolSize: [2]int{2, 2}},
		&graph.Conv2D{Filters: 64, KernelSize: [2]int{5, 5}, Activation: "relu"},
		&graph.MaxPooling2D{PoolSize: [2]int{2, 2}},
		&graph.Flatten{},
	}
	if hidden > 0 {
		ls = append(ls, &graph.Dense{Units: hidden, Activation: "relu"})
	}
	return append(ls, &graph.Dense{Units: 10, Activation: "softmax"})
}

// PracticalCNN builds the practical's network (see PracticalLayers) with
// weights drawn from seed.
func PracticalCNN(hidden int, seed uint64) (*Model, error) {
	return SequentialSeed(seed, PracticalLayers(hidden)...)
}
