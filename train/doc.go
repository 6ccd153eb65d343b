// Package train compiles and fits graph models: losses, optimizers, the
// training loop (Fit, Evaluate), callbacks, metrics, and whole-model files
// (Save, Load) that resume training exactly where it stopped.
//
// The optimizer rule (Optimizer: the update of one parameter from its
// gradient and its slots) is separate from the driver (Trainer), which keeps
// the slots by parameter name. Defaults are Keras's.
package train
