package interchange_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/interchange"
	"github.com/capa-ml/capa/internal/nodetest"
)

// TestTFJS exports each case in TensorFlow.js's Layers format and loads it
// with tf.loadLayersModel (npm @tensorflow/tfjs, pure JavaScript): its
// predictions must be Capa's to relative error 1e-4.
func TestTFJS(t *testing.T) {
	dir := nodetest.Dir(t, "@tensorflow/tfjs")
	for name, m := range tfjsCases(t) {
		t.Run(name, func(t *testing.T) {
			out := t.TempDir()
			if err := interchange.ExportTFJS(out, m); err != nil {
				t.Fatal(err)
			}
			checkRuntime(t, "TensorFlow.js", filepath.Join(dir, "tfjs_run.js"), filepath.Join(out, "model.json"), name, m)
		})
	}
}

// tfjsCases are onnxCases's models without what TensorFlow.js lacks
// (grouped convolutions, Subtract, Rescaling, some activations).
func tfjsCases(t *testing.T) map[string]*graph.Model {
	t.Helper()
	must := func(m *graph.Model, err error) *graph.Model {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	k := func(a, b int) [2]int { return [2]int{a, b} }
	all := onnxCases(t)
	cases := map[string]*graph.Model{
		"practical": all["practical"],
		"gelu":      all["gelu"],
		"convs": must(graph.SequentialSeed(2, graph.Input(18, 15, 4),
			&graph.Conv2D{Filters: 8, KernelSize: k(3, 3), Padding: "same", Strides: k(2, 2), NoBias: true, Activation: "swish"},
			&graph.BatchNormalization{},
			&graph.ReLU{MaxValue: 6},
			&graph.DepthwiseConv2D{KernelSize: k(3, 3), DepthMultiplier: 2, Padding: "same", Activation: "selu"},
			&graph.SeparableConv2D{Filters: 6, KernelSize: k(3, 2), Activation: "elu"},
			&graph.AveragePooling2D{PoolSize: k(3, 3), Strides: k(2, 2), Padding: "same"},
			&graph.ZeroPadding2D{Padding: [2][2]int{{1, 2}, {0, 1}}},
			&graph.Conv2D{Filters: 4, KernelSize: k(2, 2), DilationRate: k(2, 1), Activation: "mish"},
			&graph.UpSampling2D{Size: k(2, 3)},
			&graph.Cropping2D{Cropping: [2][2]int{{1, 0}, {2, 1}}},
			&graph.LeakyReLU{NegativeSlope: 0.1},
			&graph.MaxPooling2D{PoolSize: k(3, 3), Strides: k(2, 2), Padding: "same"},
			&graph.UpSampling2D{Size: k(2, 2), Interpolation: "bilinear"},
			&graph.PReLU{SharedAxes: []int{1, 2}},
			&graph.GaussianNoise{Stddev: 0.3},
			&graph.GlobalMaxPooling2D{},
			&graph.Dropout{Rate: 0.2},
			&graph.Dense{Units: 5, Activation: "softmax"})),
		"activations": must(graph.SequentialSeed(3, graph.Input(6),
			&graph.Dense{Units: 12, Activation: "selu"}, &graph.Activation{Activation: "softplus"},
			&graph.Dense{Units: 12, Activation: "softsign"},
			&graph.Dense{Units: 12, Activation: "relu6"},
			&graph.Dense{Units: 12, Activation: "tanh"}, &graph.ELU{Alpha: 1}, &graph.Dense{Units: 12, Activation: "swish"},
			&graph.LayerNormalization{}, &graph.Reshape{TargetShape: []int{3, 4}}, &graph.Permute{Dims: []int{2, 1}},
			&graph.Flatten{}, &graph.Dense{Units: 4, Activation: "sigmoid"})),
	}
	in := graph.NewInput(12, 10, 4)
	a := graph.Apply(&graph.Conv2D{Filters: 8, KernelSize: k(3, 3), Padding: "same", Activation: "relu"}, in)
	b := graph.Apply(&graph.BatchNormalization{}, graph.Apply(&graph.Conv2D{Filters: 8, KernelSize: k(3, 3), Padding: "same"}, a))
	r := graph.Apply(&graph.Activation{Activation: "relu"}, graph.Apply(&graph.Add{}, a, b))
	c := graph.Apply(&graph.Conv2D{Filters: 8, KernelSize: k(1, 1)}, in)
	m1 := graph.Apply(&graph.Multiply{}, r, c)
	m3 := graph.Apply(&graph.Average{}, r, c, m1)
	m4 := graph.Apply(&graph.Maximum{}, r, m3)
	m5 := graph.Apply(&graph.Minimum{}, m1, m4)
	cat := graph.Apply(&graph.Concatenate{Axis: 1}, graph.Apply(&graph.Concatenate{}, m5, c), graph.Apply(&graph.Concatenate{}, m3, m1))
	p := graph.Apply(&graph.GlobalAveragePooling2D{}, cat)
	out := graph.Apply(&graph.Dense{Units: 3}, p)
	cases["residual"] = must(graph.FunctionalSeed(4, []*graph.Tensor{in}, []*graph.Tensor{out}))
	// Transposed convolutions without output_padding (TensorFlow.js
	// ignores it).
	cases["transposed"] = must(graph.SequentialSeed(6, graph.Input(5, 4, 3),
		&graph.Conv2DTranspose{Filters: 4, KernelSize: k(3, 3), Strides: k(2, 2), Padding: "same", Activation: "relu"},
		&graph.Conv2DTranspose{Filters: 3, KernelSize: k(2, 3), Strides: k(3, 2)},
		&graph.Conv2DTranspose{Filters: 2, KernelSize: k(3, 4), Strides: k(2, 1), Padding: "same", NoBias: true},
		&graph.GlobalAveragePooling2D{}))
	for _, m := range cases {
		randomizeStatistics(m, 5)
	}
	return cases
}

// TestTFJSRefused checks that what TensorFlow.js lacks is refused, naming
// the layer.
func TestTFJSRefused(t *testing.T) {
	all := onnxCases(t)
	hs, err := graph.Sequential(graph.Input(3), &graph.Dense{Units: 2, Activation: "hard_sigmoid"})
	if err != nil {
		t.Fatal(err)
	}
	all["hard_sigmoid"] = hs
	for name, want := range map[string]string{
		"convs":        `layer "conv2d_2" (Conv2D): TensorFlow.js's Conv2D has no groups (2)`,
		"activations":  `layer "dense_2" (Dense): TensorFlow.js has no "hard_sigmoid" activation`,
		"residual":     `layer "subtract" (Subtract): TensorFlow.js has no Subtract layer`,
		"hard_sigmoid": `TensorFlow.js has no "hard_sigmoid" activation`,
		"transposed":   `layer "conv2d_transpose_2" (Conv2DTranspose): TensorFlow.js's Conv2DTranspose ignores output_padding`,
	} {
		err := interchange.ExportTFJS(t.TempDir(), all[name])
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want it to say %s", name, err, want)
		}
	}
}

// TestImportTFJS trains a CNN in TensorFlow.js (scripts/node/
// tfjs_train_save.js: Conv2D "same" and "valid", strides 2,
// BatchNormalization, Dropout, Dense), saves it with a file save handler,
// and imports it: TensorFlow.js's predictions.
func TestImportTFJS(t *testing.T) {
	dir := nodetest.Dir(t, "@tensorflow/tfjs")
	out := t.TempDir()
	cmd := exec.Command("node", filepath.Join(dir, "tfjs_train_save.js"), out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tfjs_train_save.js: %v\n%s", err, b)
	}
	check := readCheck(t, filepath.Join(out, "check.json"))
	m, err := interchange.ImportTFJS(filepath.Join(out, "model.json"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Predict(check.Input, check.InputShape[0])
	if err != nil {
		t.Fatal(err)
	}
	expectClose(t, "TensorFlow.js", got, check.Output)
}

// TestTFJSRoundTrip imports Capa's own TensorFlow.js exports.
func TestTFJSRoundTrip(t *testing.T) {
	for name, m := range tfjsCases(t) {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := interchange.ExportTFJS(dir, m); err != nil {
				t.Fatal(err)
			}
			back, err := interchange.ImportTFJS(filepath.Join(dir, "model.json"))
			if err != nil {
				t.Fatal(err)
			}
			x := make([]float32, 2*m.InputShape().Size())
			for i := range x {
				x[i] = float32(i%11)/5 - 1
			}
			want, _ := m.Predict(x, 2)
			got, err := back.Predict(x, 2)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("round trip changed the predictions: %v, want %v", head(got), head(want))
			}
		})
	}
}

// TestImportTFJSBad refuses shards outside the directory, short shards,
// and options Capa lacks, saying which.
func TestImportTFJSBad(t *testing.T) {
	m := tfjsCases(t)["practical"]
	for _, c := range []struct {
		name string
		edit func(doc map[string]any, dir string)
		want string
	}{
		{"path outside", func(doc map[string]any, _ string) {
			doc["weightsManifest"].([]any)[0].(map[string]any)["paths"] = []any{"../../etc/passwd"}
		}, "only files beside model.json"},
		{"short shard", func(_ map[string]any, dir string) {
			os.Truncate(filepath.Join(dir, interchange.TFJSWeightsFile), 100)
		}, "the weight shards hold 100 bytes"},
		{"option", func(doc map[string]any, _ string) {
			l := doc["modelTopology"].(map[string]any)["config"].(map[string]any)["layers"].([]any)[1].(map[string]any)
			l["config"].(map[string]any)["data_format"] = "channels_first"
		}, "option data_format = channels_first is not supported"},
		{"not json", func(doc map[string]any, _ string) { doc["modelTopology"] = "x" }, "the model topology is not Keras's model JSON"},
	} {
		dir := t.TempDir()
		if err := interchange.ExportTFJS(dir, m); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "model.json")
		raw, _ := os.ReadFile(path)
		var doc map[string]any
		json.Unmarshal(raw, &doc)
		c.edit(doc, dir)
		raw, _ = json.Marshal(doc)
		os.WriteFile(path, raw, 0o644)
		if _, err := interchange.ImportTFJS(path); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to say %q", c.name, err, c.want)
		}
	}
}

// tfjsCheck is the input batch and TensorFlow.js's predictions that
// tfjs_train_save.js writes.
type tfjsCheck struct {
	InputShape []int     `json:"input_shape"`
	Input      []float32 `json:"input"`
	Output     []float32 `json:"output"`
}

func readCheck(t *testing.T, path string) tfjsCheck {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c tfjsCheck
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}
