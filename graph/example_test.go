package graph_test

import (
	"fmt"

	"github.com/capa-ml/capa/graph"
)

// A small convolutional network and its Keras-style summary.
func ExampleSequential() {
	m, err := graph.Sequential(
		graph.Input(8, 8, 1),
		&graph.Conv2D{Filters: 4, KernelSize: [2]int{3, 3}, Activation: "relu"},
		&graph.MaxPooling2D{PoolSize: [2]int{2, 2}},
		&graph.Flatten{},
		&graph.Dense{Units: 3, Activation: "softmax"},
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(m.Summary())
	// Output:
	// Model: "sequential"
	// ___________________________________________________________________
	//  Layer (type)                  Output Shape              Param #
	// ===================================================================
	//  conv2d (Conv2D)               (None, 6, 6, 4)           40
	//
	//  max_pooling2d (MaxPooling2D)  (None, 3, 3, 4)           0
	//
	//  flatten (Flatten)             (None, 36)                0
	//
	//  dense (Dense)                 (None, 3)                 111
	// ===================================================================
	// Total params: 151
	// Trainable params: 151
	// Non-trainable params: 0
	// ___________________________________________________________________
}

// Shape errors name the layer, its input and the problem.
func ExampleSequential_error() {
	_, err := graph.Sequential(
		graph.Input(3, 3, 1),
		&graph.Conv2D{Filters: 4, KernelSize: [2]int{5, 5}},
	)
	fmt.Println(err)
	// Output:
	// graph: layer "conv2d" (Conv2D) on input (None, 3, 3, 1): a 5x5 window does not fit a 3x3 map with "valid" padding
}

// Predict runs the model in inference mode on any number of samples.
func ExampleModel_Predict() {
	m, err := graph.Sequential(
		graph.Input(2),
		&graph.Dense{Units: 2, KernelInitializer: "ones"}, // both outputs are x₀+x₁
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	y, err := m.Predict([]float32{1, 2, 3, 4, 5, 6}, 2) // three samples
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(y)
	// Output:
	// [3 3 7 7 11 11]
}

// A layer's configuration is its JSON form, registered under its Keras
// class name.
func ExampleSpec() {
	s, err := graph.Spec(&graph.Conv2D{Filters: 32, KernelSize: [2]int{5, 5}, Activation: "relu"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Class, string(s.Config))
	l, err := graph.FromSpec(s)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%T %d\n", l, l.(*graph.Conv2D).Filters)
	// Output:
	// Conv2D {"trainable":true,"filters":32,"kernel_size":[5,5],"strides":[1,1],"padding":"valid","dilation_rate":[1,1],"groups":1,"activation":"relu","use_bias":true,"kernel_initializer":{"class_name":"GlorotUniform","config":{"seed":null}},"bias_initializer":{"class_name":"Zeros","config":{}},"kernel_regularizer":null}
	// *graph.Conv2D 32
}

// A residual block with Keras's Functional API: symbolic tensors from
// NewInput, layers applied with Apply, the model made by Functional.
func ExampleFunctional() {
	in := graph.NewInput(8, 8, 1)
	x := graph.Apply(&graph.Conv2D{Filters: 4, KernelSize: [2]int{3, 3}, Padding: "same", Activation: "relu"}, in)
	y := graph.Apply(&graph.Conv2D{Filters: 4, KernelSize: [2]int{3, 3}, Padding: "same"}, x)
	y = graph.Apply(&graph.Add{}, x, y) // the shortcut
	y = graph.Apply(&graph.GlobalAveragePooling2D{}, y)
	out := graph.Apply(&graph.Dense{Units: 3, Activation: "softmax"}, y)
	m, err := graph.Functional([]*graph.Tensor{in}, []*graph.Tensor{out})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(m.Summary())
	// Output:
	// Model: "functional"
	// _______________________________________________________________________________________________________________________
	//  Layer (type)                                       Output Shape         Param #     Connected to
	// =======================================================================================================================
	//  input_layer (InputLayer)                           [(None, 8, 8, 1)]    0           []
	//
	//  conv2d (Conv2D)                                    (None, 8, 8, 4)      40          ['input_layer[0][0]']
	//
	//  conv2d_1 (Conv2D)                                  (None, 8, 8, 4)      148         ['conv2d[0][0]']
	//
	//  add (Add)                                          (None, 8, 8, 4)      0           ['conv2d[0][0]',
	//                                                                                       'conv2d_1[0][0]']
	//
	//  global_average_pooling2d (GlobalAveragePooling2D)  (None, 4)            0           ['add[0][0]']
	//
	//  dense (Dense)                                      (None, 3)            15          ['global_average_pooling2d[0][0]']
	// =======================================================================================================================
	// Total params: 203
	// Trainable params: 203
	// Non-trainable params: 0
	// _______________________________________________________________________________________________________________________
}

// A model used as a layer of another: a convolutional base, applied to the
// input of a new model with a classifier on top; the new model shares the
// base's weights and freezing the layer freezes all of them.
func ExampleAsLayer() {
	base, err := graph.Sequential(graph.Input(8, 8, 1),
		&graph.Conv2D{Filters: 4, KernelSize: [2]int{3, 3}, Activation: "relu"},
		&graph.GlobalAveragePooling2D{})
	if err != nil {
		fmt.Println(err)
		return
	}
	base.Name = "base"
	features := graph.AsLayer(base)
	features.SetTrainable(false)
	x := graph.NewInput(8, 8, 1)
	y := graph.Apply(&graph.Dense{Units: 3, Activation: "softmax"}, graph.Apply(features, x))
	m, err := graph.Functional([]*graph.Tensor{x}, []*graph.Tensor{y})
	if err != nil {
		fmt.Println(err)
		return
	}
	trainable, frozen := m.CountParams()
	fmt.Println(m.Layers()[0].Class(), m.OutputShape(), trainable, frozen)
	// Output: Sequential (None, 3) 15 40
}
