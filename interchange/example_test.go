package interchange_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/interchange"
)

// A model exported to ONNX and imported back predicts what it predicted.
func ExampleExportONNXModel() {
	m, err := graph.Sequential(graph.Input(8, 8, 1),
		&graph.Conv2D{Filters: 4, KernelSize: [2]int{3, 3}, Activation: "relu"},
		&graph.MaxPooling2D{}, &graph.Flatten{}, &graph.Dense{Units: 3, Activation: "softmax"})
	if err != nil {
		panic(err)
	}
	pm, err := interchange.ExportONNXModel(m, interchange.ONNXOptions{})
	if err != nil {
		panic(err)
	}
	var ops []string
	for _, n := range pm.Graph.Node {
		ops = append(ops, n.GetOpType())
	}
	fmt.Println(strings.Join(ops, " "))
	back, err := interchange.ImportONNX(pm)
	if err != nil {
		panic(err)
	}
	x := make([]float32, 64)
	for i := range x {
		x[i] = float32(i%5) / 5
	}
	a, _ := m.Predict(x, 1)
	b, _ := back.Predict(x, 1)
	fmt.Printf("%.4f\n%.4f\n", a, b)
	// Output:
	// Transpose Conv Relu MaxPool Transpose Flatten Gemm Softmax Identity
	// [0.3105 0.3694 0.3201]
	// [0.3105 0.3694 0.3201]
}

// A model read from a Keras 2 whole-model file.
func ExampleImportKerasH5() {
	m, err := interchange.ImportKerasH5(filepath.Join("testdata", "keras2_cnn.h5"))
	if err != nil {
		panic(err)
	}
	fmt.Println(m.InputShape(), "->", m.OutputShape(), len(m.Layers()), "layers")
	// Output:
	// (None, 12, 12, 2) -> (None, 3) 8 layers
}

// A model written as a Keras 3 file (keras.saving.load_model reads it) and
// read back.
func ExampleExportKeras() {
	m, err := graph.SequentialSeed(1, graph.Input(8, 8, 1),
		&graph.Conv2D{Filters: 4, KernelSize: [2]int{3, 3}, Activation: "relu"},
		&graph.MaxPooling2D{}, &graph.Flatten{}, &graph.Dense{Units: 3, Activation: "softmax"})
	if err != nil {
		panic(err)
	}
	dir, err := os.MkdirTemp("", "capa")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "m.keras")
	if err := interchange.ExportKeras(path, m); err != nil {
		panic(err)
	}
	back, err := interchange.ImportKeras(path)
	if err != nil {
		panic(err)
	}
	x := make([]float32, 64)
	for i := range x {
		x[i] = float32(i%5) / 5
	}
	a, _ := m.Predict(x, 1)
	b, _ := back.Predict(x, 1)
	fmt.Println(slices.Equal(a, b), back.OutputShape())
	// Output:
	// true (None, 3)
}
