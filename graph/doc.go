// Package graph builds Capa models as Gorgonia expression graphs.
//
// A model is a stack of layers (Conv2D, MaxPooling2D, Dense, ...) whose
// configuration structs read like Keras's constructors:
//
//	m, err := graph.Sequential(
//		graph.Input(28, 28, 1),
//		&graph.Conv2D{Filters: 32, KernelSize: [2]int{5, 5}, Activation: "relu"},
//		&graph.MaxPooling2D{PoolSize: [2]int{2, 2}},
//		&graph.Flatten{},
//		&graph.Dense{Units: 10, Activation: "softmax"},
//	)
//
// Every shape a user sees is channels-last and excludes the batch dimension,
// (H, W, C), printed in Keras notation as (None, H, W, C). Inside, tensors
// are NHWC float32.
//
// The weights (Param) belong to the model; Model.Graph builds a Gorgonia
// expression graph for a given batch size and mode (training or inference)
// whose parameter nodes share the model's weight tensors, so any number of
// graphs (a training graph, an inference graph, one for a partial last batch)
// see the same weights. Gradients are symbolic (gorgonia.Grad) and taken only
// with respect to trainable parameters.
//
// A model that is not a stack is written as Keras's Functional API:
// NewInput makes a symbolic tensor, Apply applies a layer to tensors, and
// Functional makes the model of inputs and outputs (functional.go); a
// model is itself a layer with AsLayer. The layers live one family per
// file: layer_conv2d.go, layer_depthwise.go, layer_conv_variants.go
// (SeparableConv2D, Conv2DTranspose), layer_pooling.go, layer_dense.go,
// layer_batchnorm.go, layer_normalization.go, layer_dropout.go,
// layer_noise.go, layer_reshaping.go, layer_merge.go,
// layer_activations.go, layer_model.go; their compute is in
// internal/engine (Gorgonia ops) over internal/kernels (plain loops and
// BLAS). An op whose forward and gradients are plain functions is an
// engine.Func (op_func.go).
//
// Layer types register under their Keras class name (Register), so that a
// saved architecture can be rebuilt whichever package a layer comes from.
// Adding a layer means writing one file: a struct with its configuration as
// exported JSON-tagged fields, Build, Call, and an init that registers it.
package graph
