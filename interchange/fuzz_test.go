package interchange

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/capa-ml/capa/formats/hdf5"
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

// FuzzImportKeras feeds arbitrary bytes to the Keras readers: as a .keras
// zip archive, as its config.json (beside the weights of a small model),
// and as a Keras 2 .h5 file, seeded with the committed Keras 2 and Keras 3
// files and an export. Each must build a model or refuse, never panic.
func FuzzImportKeras(f *testing.F) {
	m, err := graph.SequentialSeed(1, graph.Input(4, 4, 1), &graph.Conv2D{Filters: 2, KernelSize: [2]int{3, 3}},
		&graph.BatchNormalization{}, &graph.Flatten{}, &graph.Dense{Units: 3, Activation: "softmax"})
	if err != nil {
		f.Fatal(err)
	}
	path := filepath.Join(f.TempDir(), "m.keras")
	if err := ExportKeras(path, m); err != nil {
		f.Fatal(err)
	}
	seed, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	cfg, err := keras3Config(m)
	if err != nil {
		f.Fatal(err)
	}
	w, err := keras3Weights(m)
	if err != nil {
		f.Fatal(err)
	}
	var weights bytes.Buffer
	if _, err := w.WriteTo(&weights); err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(cfg)
	for _, name := range []string{"keras3_cnn.keras", "keras2_cnn.h5"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b))); err == nil {
			importKeras(zr)
		}
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for name, data := range map[string][]byte{"config.json": b, "model.weights.h5": weights.Bytes()} {
			fw, _ := zw.Create(name)
			fw.Write(data)
		}
		zw.Close()
		zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatal(err)
		}
		importKeras(zr)
		if h, err := hdf5.Open(bytes.NewReader(b), int64(len(b))); err == nil {
			importKerasH5(h)
		}
	})
}
