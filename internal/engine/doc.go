// Package engine is Capa's compute engine under the layers of package
// graph: the Gorgonia ops (op_*.go, forward and gradient, each computing
// with internal/kernels) and the Executor that runs a graph with one
// output buffer per node, reused from run to run.
//
// Package graph's layers reach the ops through the functions of this
// package (Convolution2D, MatMul, BiasAdd, ...), which graph re-exports
// for layers written outside it. This package imports Gorgonia and
// internal/kernels, never graph.
//
// Error messages keep the prefix "graph:": they reach users through
// package graph, which is the package they called.
package engine
