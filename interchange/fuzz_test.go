package interchange

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/capa-ml/capa/formats/onnx"
	"github.com/capa-ml/capa/graph"
)

// FuzzImportTFJS feeds arbitrary model.json bytes (beside a valid weights
// shard) to the TensorFlow.js reader: it must build a model or refuse,
// never panic.
func FuzzImportTFJS(f *testing.F) {
	m, err := graph.Sequential(graph.Input(4, 4, 1), &graph.Conv2D{Filters: 2, KernelSize: [2]int{3, 3}},
		&graph.Flatten{}, &graph.Dense{Units: 3, Activation: "softmax"})
	if err != nil {
		f.Fatal(err)
	}
	dir := f.TempDir()
	if err := ExportTFJS(dir, m); err != nil {
		f.Fatal(err)
	}
	seed, err := os.ReadFile(filepath.Join(dir, "model.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seed[:len(seed)/2])
	f.Add([]byte(`{"modelTopology":{"class_name":"Functional","config":{"layers":[]}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		importTFJS(b, dir)
	})
}

// FuzzImportONNX feeds arbitrary bytes that formats/onnx accepts to the
// ONNX importer, seeded with a small export (conv, pool, flatten, dense): it
// must build a model or refuse, never panic.
func FuzzImportONNX(f *testing.F) {
	m, err := graph.Sequential(graph.Input(6, 6, 2), &graph.Conv2D{Filters: 2, KernelSize: [2]int{3, 3}, Padding: "same", Activation: "relu"},
		&graph.MaxPooling2D{}, &graph.BatchNormalization{}, &graph.Flatten{}, &graph.Dense{Units: 3, Activation: "softmax"})
	if err != nil {
		f.Fatal(err)
	}
	pm, err := ExportONNXModel(m, ONNXOptions{})
	if err != nil {
		f.Fatal(err)
	}
	seed, err := onnx.Marshal(pm)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, b []byte) {
		pm, err := onnx.Unmarshal(b)
		if err != nil {
			return
		}
		ImportONNX(pm)
	})
}
