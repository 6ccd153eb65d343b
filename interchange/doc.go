// Package interchange moves Capa models to and from other frameworks'
// formats, so that a model trained in Go runs wherever it is needed and a
// model trained elsewhere runs in Go:
//
//   - ONNX: ExportONNX (onnx_export.go; the mapping from Capa's layers to
//     ONNX operators is one table, onnxLayers, keyed by Keras class name:
//     exporting a new layer is one entry there) and ImportONNX
//     (onnx_import.go), which builds a Functional model.
//   - TensorFlow.js's Layers format: ExportTFJS and ImportTFJS (tfjs_*.go),
//     Keras's model JSON plus binary weights.
//   - Keras files: ImportKerasH5 (Keras 2's .h5, keras_h5.go), ImportKeras
//     and ExportKeras (Keras 3's .keras zip, keras3.go and
//     keras3_export.go).
//
// Every format is checked against the real runtime in the tests (ONNX
// Runtime, PyTorch, TensorFlow.js, libhdf5); see the README's "Exchanging
// models".
package interchange
