// Package train holds what a model is trained with: Keras's losses,
// optimizers, learning-rate schedules and callbacks (EarlyStopping,
// ModelCheckpoint, ReduceLROnPlateau, CSV and JSON loggers). The training
// loop itself is the model's: graph.Model's Compile, Fit and Evaluate.
//
// The optimizer rule (graph.Optimizer: the update of one parameter from its
// gradient and its slots) is separate from the model, which keeps the slots
// by parameter name. Defaults are Keras's. The optimizers and losses of
// this package register themselves with graph's registry, so that model
// files naming them load.
package train
