package interchange_test

import (
	"archive/zip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/capa-ml/capa/applications"
	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/interchange"
	"github.com/capa-ml/capa/internal/nodetest"
	"github.com/capa-ml/capa/vgg"
)

// needH5py skips the test without Debian's python3 and h5py, or fails it
// under CI, where the checks must run.
func needH5py(t *testing.T) string {
	t.Helper()
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import h5py, numpy").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("python3-h5py is missing (CI is set: the Keras checks must run): %v", err)
		}
		t.Skip("no python3-h5py")
	}
	return py
}

// TestExportKerasTFJS writes each TensorFlow.js case as a .keras file,
// reads it as Keras 3's loader does (scripts/keras3_to_tfjs.py: the
// archive's members, the serialized objects, the weights through libhdf5
// by h5py, under Keras's names and order), and runs it in TensorFlow.js:
// its predictions must be Capa's to relative error 1e-4.
func TestExportKerasTFJS(t *testing.T) {
	dir := nodetest.Dir(t, "@tensorflow/tfjs")
	py := needH5py(t)
	for name, m := range tfjsCases(t) {
		t.Run(name, func(t *testing.T) {
			checkKerasTFJS(t, py, dir, name, m)
		})
	}
}

// checkKerasTFJS exports m to a .keras file, rewrites it for TensorFlow.js
// with scripts/keras3_to_tfjs.py and compares TensorFlow.js's predictions
// with Capa's (checkRuntime).
func checkKerasTFJS(t *testing.T, py, dir, name string, m *graph.Model) {
	t.Helper()
	tmp := t.TempDir()
	path := filepath.Join(tmp, name+".keras")
	if err := interchange.ExportKeras(path, m); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "tfjs")
	if b, err := exec.Command(py, "../scripts/keras3_to_tfjs.py", path, out).CombinedOutput(); err != nil {
		t.Fatalf("keras3_to_tfjs.py: %v\n%s", err, b)
	}
	checkRuntime(t, "TensorFlow.js", filepath.Join(dir, "tfjs_run.js"), filepath.Join(out, "model.json"), name, m)
}

// TestExportKerasApplications does the same for the pretrained families'
// bases, full width with random weights at 32x32: Keras's own
// architectures, whose files Keras loads under its layer names.
func TestExportKerasApplications(t *testing.T) {
	dir := nodetest.Dir(t, "@tensorflow/tfjs")
	py := needH5py(t)
	cfg := applications.Config{NoTop: true, Pooling: "avg", Height: 32, Width: 32, Seed: 1}
	for _, c := range []struct {
		name  string
		build func(applications.Config) (*graph.Model, error)
	}{
		{"vgg16", func(applications.Config) (*graph.Model, error) {
			return vgg.VGG16(vgg.Config{Height: 32, Width: 32, Seed: 1})
		}},
		{"keras_resnet50", applications.KerasResNet50},
		{"keras_mobilenet_v2", applications.KerasMobileNetV2},
		{"torchvision_resnet18", applications.TorchResNet18},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := c.build(cfg)
			if err != nil {
				t.Fatal(err)
			}
			randomizeStatistics(m, 9)
			checkKerasTFJS(t, py, dir, c.name, m)
		})
	}
}

// TestExportKerasRoundTrip writes every case Keras 3 can express (all of
// onnxCases's layers) and reads it back with ImportKeras: the same
// architecture and the same predictions, bit for bit.
func TestExportKerasRoundTrip(t *testing.T) {
	for name, m := range onnxCases(t) {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), name+".keras")
			err := interchange.ExportKeras(path, m)
			if name == "activations" {
				if err == nil || !strings.Contains(err.Error(), `no activation named "gelu_approximate"`) {
					t.Fatalf("gelu_approximate: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			zr, err := zip.OpenReader(path)
			if err != nil {
				t.Fatal(err)
			}
			var members []string
			for _, f := range zr.File {
				members = append(members, f.Name)
			}
			zr.Close()
			if !slices.Equal(members, []string{"metadata.json", "config.json", "model.weights.h5"}) {
				t.Errorf("members %v", members)
			}
			back, err := interchange.ImportKeras(path)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := back.Summary(), m.Summary(); got != want {
				t.Errorf("summary read back:\n%s\nwritten:\n%s", got, want)
			}
			x := randomBatch(m, 2, 9)
			want, err := m.Predict(x, 2)
			if err != nil {
				t.Fatal(err)
			}
			got, err := back.Predict(x, 2)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("predictions differ after the round trip: %v, want %v", head(got), head(want))
			}
		})
	}
}

// TestExportKerasRefused checks what Keras files cannot hold is refused
// with the layer's name, and that a refused export leaves no file.
func TestExportKerasRefused(t *testing.T) {
	inner, err := graph.Sequential(graph.Input(4), &graph.Dense{Units: 2})
	if err != nil {
		t.Fatal(err)
	}
	in := graph.NewInput(4)
	nested, err := graph.Functional([]*graph.Tensor{in}, []*graph.Tensor{graph.Apply(graph.AsLayer(inner), in)})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.keras")
	err = interchange.ExportKeras(path, nested)
	if err == nil || !strings.Contains(err.Error(), "nested models are not exported") || !strings.Contains(err.Error(), "sequential") {
		t.Errorf("nested model: %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a refused export left %s: %v", path, err)
	}
}
