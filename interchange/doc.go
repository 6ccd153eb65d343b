// Package interchange writes Capa models in other frameworks' formats, so
// that a model trained in Go runs wherever it is needed: ExportONNX writes
// an ONNX model that ONNX Runtime (and any ONNX runtime) executes with
// Capa's predictions.
//
// The mapping from Capa's layers to ONNX operators is one table,
// onnxLayers in onnx_export.go, keyed by Keras class name: exporting a new
// layer is one entry there.
package interchange
