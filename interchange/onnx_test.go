package interchange_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/capa-ml/capa/applications"
	"github.com/capa-ml/capa/formats/onnx"
	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/interchange"
	"github.com/capa-ml/capa/internal/nodetest"
	"github.com/capa-ml/capa/vgg"
	G "gorgonia.org/gorgonia"
)

// onnxCases are models covering every exported layer and activation.
func onnxCases(t *testing.T) map[string]*graph.Model {
	t.Helper()
	must := func(m *graph.Model, err error) *graph.Model {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	k := func(a, b int) [2]int { return [2]int{a, b} }
	cases := map[string]*graph.Model{
		// The practical's model with its Dense(64) head.
		"practical": must(graph.SequentialSeed(1, graph.Input(28, 28, 1),
			&graph.Conv2D{Filters: 32, KernelSize: k(5, 5), Activation: "relu"},
			&graph.MaxPooling2D{PoolSize: k(2, 2)},
			&graph.Conv2D{Filters: 64, KernelSize: k(5, 5), Activation: "relu"},
			&graph.MaxPooling2D{PoolSize: k(2, 2)},
			&graph.Flatten{}, &graph.Dense{Units: 64, Activation: "relu"}, &graph.Dropout{Rate: 0.5},
			&graph.Dense{Units: 10, Activation: "softmax"})),
		// Strides, "same" padding with odd sizes, dilation, groups and the
		// other image layers.
		"convs": must(graph.SequentialSeed(2, graph.Input(18, 15, 4),
			&graph.Conv2D{Filters: 8, KernelSize: k(3, 3), Padding: "same", Strides: k(2, 2), NoBias: true, Activation: "swish"},
			&graph.BatchNormalization{},
			&graph.ReLU{MaxValue: 6},
			&graph.DepthwiseConv2D{KernelSize: k(3, 3), DepthMultiplier: 2, Padding: "same", Activation: "silu"},
			&graph.SeparableConv2D{Filters: 6, KernelSize: k(3, 2), Activation: "elu"},
			&graph.AveragePooling2D{PoolSize: k(3, 3), Strides: k(2, 2), Padding: "same"},
			&graph.ZeroPadding2D{Padding: [2][2]int{{1, 2}, {0, 1}}},
			&graph.Conv2D{Filters: 4, KernelSize: k(2, 2), DilationRate: k(2, 1), Activation: "mish"},
			&graph.Conv2D{Filters: 4, KernelSize: k(3, 3), Groups: 2, Padding: "same"},
			&graph.UpSampling2D{Size: k(2, 3)},
			&graph.Cropping2D{Cropping: [2][2]int{{1, 0}, {2, 1}}},
			&graph.LeakyReLU{NegativeSlope: 0.1},
			&graph.MaxPooling2D{PoolSize: k(3, 3), Strides: k(2, 2), Padding: "same"},
			&graph.UpSampling2D{Size: k(2, 2), Interpolation: "bilinear"},
			&graph.PReLU{SharedAxes: []int{1, 2}},
			&graph.GlobalAveragePooling2D{},
			&graph.Dense{Units: 5, Activation: "softmax"})),
		// Every activation on a vector.
		"activations": must(graph.SequentialSeed(3, graph.Input(6),
			&graph.Dense{Units: 12, Activation: "selu"}, &graph.Activation{Activation: "softplus"},
			&graph.Dense{Units: 12, Activation: "softsign"}, &graph.Dense{Units: 12, Activation: "hard_sigmoid"},
			&graph.Dense{Units: 12, Activation: "hard_silu"}, &graph.Dense{Units: 12, Activation: "gelu_approximate"},
			&graph.Dense{Units: 12, Activation: "relu6"}, &graph.Dense{Units: 12, Activation: "leaky_relu"},
			&graph.Dense{Units: 12, Activation: "tanh"}, &graph.Dense{Units: 12, Activation: "exponential"},
			&graph.ELU{Alpha: 0.7}, &graph.Dense{Units: 12, Activation: "swish"},
			&graph.LayerNormalization{}, &graph.Rescaling{Scale: 0.5, Offset: 0.25},
			&graph.Reshape{TargetShape: []int{3, 4}}, &graph.Permute{Dims: []int{2, 1}},
			&graph.Flatten{}, &graph.Dense{Units: 4, Activation: "sigmoid"})),
	}
	// Exact gelu, exported as its erf formula (which import refuses).
	cases["gelu"] = must(graph.SequentialSeed(5, graph.Input(6), &graph.Dense{Units: 4, Activation: "gelu"}))
	// A residual network with the merge layers.
	in := graph.NewInput(12, 10, 4)
	a := graph.Apply(&graph.Conv2D{Filters: 8, KernelSize: k(3, 3), Padding: "same", Activation: "relu"}, in)
	b := graph.Apply(&graph.Conv2D{Filters: 8, KernelSize: k(3, 3), Padding: "same"}, a)
	b = graph.Apply(&graph.BatchNormalization{}, b)
	r := graph.Apply(&graph.Activation{Activation: "relu"}, graph.Apply(&graph.Add{}, a, b))
	c := graph.Apply(&graph.Conv2D{Filters: 8, KernelSize: k(1, 1)}, in)
	m1 := graph.Apply(&graph.Multiply{}, r, c)
	m2 := graph.Apply(&graph.Subtract{}, r, c)
	m3 := graph.Apply(&graph.Average{}, r, c, m1)
	m4 := graph.Apply(&graph.Maximum{}, m2, m3)
	m5 := graph.Apply(&graph.Minimum{}, m1, m4)
	cat := graph.Apply(&graph.Concatenate{}, m5, c, graph.Apply(&graph.Add{}, m1, m2, m3))
	cat2 := graph.Apply(&graph.Concatenate{Axis: 1}, cat, cat)
	p := graph.Apply(&graph.GlobalMaxPooling2D{}, cat2)
	f := graph.Apply(&graph.Flatten{}, graph.Apply(&graph.MaxPooling2D{PoolSize: [2]int{2, 2}}, cat2))
	out := graph.Apply(&graph.Dense{Units: 3}, graph.Apply(&graph.Concatenate{}, p, f))
	cases["residual"] = must(graph.FunctionalSeed(4, []*graph.Tensor{in}, []*graph.Tensor{out}))
	// Transposed convolutions: "same" with strides, "valid" with a kernel
	// smaller than the stride, Keras's output_padding both ways.
	cases["transposed"] = must(graph.SequentialSeed(6, graph.Input(5, 4, 3),
		&graph.Conv2DTranspose{Filters: 4, KernelSize: k(3, 3), Strides: k(2, 2), Padding: "same", Activation: "relu"},
		&graph.Conv2DTranspose{Filters: 3, KernelSize: k(2, 3), Strides: k(3, 2)},
		&graph.Conv2DTranspose{Filters: 2, KernelSize: k(3, 4), Strides: k(2, 2), Padding: "same", OutputPadding: &[2]int{1, 0}},
		&graph.Conv2DTranspose{Filters: 2, KernelSize: k(3, 3), Strides: k(2, 2), OutputPadding: &[2]int{1, 1}, NoBias: true},
		&graph.GlobalAveragePooling2D{}))
	for _, m := range cases {
		randomizeStatistics(m, 5)
	}
	return cases
}

// randomizeStatistics gives batch normalization statistics and scales, and
// PReLU slopes, values other than their initial 0 and 1.
func randomizeStatistics(m *graph.Model, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 6))
	for _, p := range m.Params() {
		if strings.HasSuffix(p.Name, "moving_mean") || strings.HasSuffix(p.Name, "beta") || strings.HasSuffix(p.Name, "alpha") {
			for i := range p.Data() {
				p.Data()[i] = float32(rng.NormFloat64() * 0.3)
			}
		}
		if strings.HasSuffix(p.Name, "moving_variance") || strings.HasSuffix(p.Name, "gamma") {
			for i := range p.Data() {
				p.Data()[i] = float32(0.5 + rng.Float64())
			}
		}
	}
}

// TestONNXRuntime exports each case and runs it in ONNX Runtime
// (onnxruntime-node): its outputs must be Capa's to relative error 1e-4.
func TestONNXRuntime(t *testing.T) {
	dir := nodetest.Dir(t, "onnxruntime-node")
	for name, m := range onnxCases(t) {
		t.Run(name, func(t *testing.T) { checkORT(t, dir, name, m) })
	}
}

// TestONNXRuntimeApplications exports the pretrained families' bases, full
// width with random weights, at 32x32, and runs them in ONNX Runtime.
func TestONNXRuntimeApplications(t *testing.T) {
	dir := nodetest.Dir(t, "onnxruntime-node")
	app := func(f func(applications.Config) (*graph.Model, error)) func() (*graph.Model, error) {
		return func() (*graph.Model, error) {
			return f(applications.Config{NoTop: true, Pooling: "avg", Height: 32, Width: 32, Seed: 1})
		}
	}
	for _, c := range []struct {
		name  string
		build func() (*graph.Model, error)
	}{
		{"vgg16", func() (*graph.Model, error) { return vgg.VGG16(vgg.Config{Height: 32, Width: 32, Seed: 1}) }},
		{"keras_resnet50", app(applications.KerasResNet50)},
		{"torchvision_resnet50", app(applications.TorchResNet50)},
		{"keras_mobilenet_v2", app(applications.KerasMobileNetV2)},
		{"torchvision_mobilenet_v2", app(applications.TorchMobileNetV2)},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := c.build()
			if err != nil {
				t.Fatal(err)
			}
			randomizeStatistics(m, 9)
			checkORT(t, dir, c.name, m)
		})
	}
}

// checkORT exports m and runs it in ONNX Runtime (see checkRuntime).
func checkORT(t *testing.T, dir, name string, m *graph.Model) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".onnx")
	if err := interchange.ExportONNXFile(path, m, interchange.ONNXOptions{}); err != nil {
		t.Fatal(err)
	}
	checkRuntime(t, "ONNX Runtime", filepath.Join(dir, "ort_run.js"), path, name, m)
}

// checkRuntime runs the exported model at path with the Node script on a
// random batch of 3 and compares with Capa's Predict: the same output
// dimensions, relative error below 1e-4.
func checkRuntime(t *testing.T, runtime, script, path, name string, m *graph.Model) {
	t.Helper()
	n := 3
	x := randomBatch(m, n, uint64(len(name)))
	want, err := m.Predict(x, n)
	if err != nil {
		t.Fatal(err)
	}
	got, dims := runNode(t, script, path, x, append([]int{n}, m.InputShape()...))
	if wantDims := append([]int{n}, m.OutputShape()...); !slices.Equal(dims, wantDims) {
		t.Fatalf("%s's output has dimensions %v, want %v", runtime, dims, wantDims)
	}
	expectClose(t, runtime, got, want)
}

// randomBatch returns n standard normal inputs for m.
func randomBatch(m *graph.Model, n int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(7, seed))
	x := make([]float32, n*m.InputShape().Size())
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

// expectClose fails unless got is want to relative error 1e-4 (the
// largest difference over the largest value).
func expectClose(t *testing.T, other string, got, want []float32) {
	t.Helper()
	if e := relErr(got, want); e > 1e-4 || math.IsNaN(e) {
		t.Fatalf("relative error %.3g between %s and Capa\ngot  %v\nwant %v", e, other, head(got), head(want))
	} else {
		t.Logf("relative error %.2g against %s", e, other)
	}
}

// runNode runs script (ort_run.js or tfjs_run.js) on the model at path and
// x, and returns the output and its dimensions.
func runNode(t *testing.T, script, path string, x []float32, dims []int) ([]float32, []int) {
	t.Helper()
	tmp := t.TempDir()
	in, out := filepath.Join(tmp, "x.f32"), filepath.Join(tmp, "y.f32")
	var buf bytes.Buffer
	binary.Write(&buf, binary.LittleEndian, x)
	if err := os.WriteFile(in, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	ds := make([]string, len(dims))
	for i, d := range dims {
		ds[i] = strconv.Itoa(d)
	}
	cmd := exec.Command("node", script, path, in, strings.Join(ds, ","), out)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", filepath.Base(script), err, stderr.String())
	}
	var odims []int
	if err := json.Unmarshal(stdout, &odims); err != nil {
		t.Fatalf("%s printed %q: %v", filepath.Base(script), stdout, err)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	y := make([]float32, len(raw)/4)
	binary.Read(bytes.NewReader(raw), binary.LittleEndian, y)
	return y, odims
}

func relErr(got, want []float32) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	var d, s float64
	for i := range want {
		d = math.Max(d, math.Abs(float64(got[i]-want[i])))
		s = math.Max(s, math.Abs(float64(want[i])))
	}
	return d / math.Max(s, 1e-30)
}

func head(v []float32) []float32 {
	if len(v) > 8 {
		return v[:8]
	}
	return v
}

// TestONNXExportStructure checks, without a runtime, what a reader relies
// on: the opset, the channels-last input with a dynamic batch, one
// initializer per weight, and that the file reads back.
func TestONNXExportStructure(t *testing.T) {
	m := onnxCases(t)["practical"]
	var buf bytes.Buffer
	if err := interchange.ExportONNX(&buf, m, interchange.ONNXOptions{}); err != nil {
		t.Fatal(err)
	}
	pm, err := onnx.Unmarshal(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if v := pm.OpsetImport[0].GetVersion(); v != interchange.ONNXOpset {
		t.Errorf("opset %d", v)
	}
	in := pm.Graph.Input[0].GetType().GetTensorType().GetShape().GetDim()
	if len(in) != 4 || in[0].GetDimParam() != "N" || in[1].GetDimValue() != 28 || in[3].GetDimValue() != 1 {
		t.Errorf("input dims %v, want (N, 28, 28, 1)", in)
	}
	if len(pm.Graph.Initializer) != 8 {
		t.Errorf("%d initializers, want 8 (4 kernels, 4 biases)", len(pm.Graph.Initializer))
	}
	var ops []string
	for _, n := range pm.Graph.Node {
		ops = append(ops, n.GetOpType())
	}
	want := "Transpose Conv Relu MaxPool Conv Relu MaxPool Transpose Flatten Gemm Relu Gemm Softmax Identity"
	if got := strings.Join(ops, " "); got != want {
		t.Errorf("nodes %s\nwant  %s", got, want)
	}
}

// unmapped is a user's own layer (the identity), which ONNX export
// cannot know.
type unmapped struct{ graph.Base }

func (l *unmapped) Class() string { return "Unmapped" }

func (l *unmapped) Build(in graph.Shape, _ *rand.Rand) (graph.Shape, error) { return in.Clone(), nil }

func (l *unmapped) Call(_ *graph.Ctx, x *G.Node) (*G.Node, error) { return x, nil }

// TestONNXExportUnsupported names the layer that has no mapping, inside a
// nested model with its scope.
func TestONNXExportUnsupported(t *testing.T) {
	inner, err := graph.Sequential(graph.Input(8, 8, 2), &unmapped{Base: graph.Base{Name: "odd"}})
	if err != nil {
		t.Fatal(err)
	}
	inner.Name = "base"
	in := graph.NewInput(8, 8, 2)
	m, err := graph.Functional([]*graph.Tensor{in}, []*graph.Tensor{graph.Apply(graph.AsLayer(inner), in)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = interchange.ExportONNXModel(m, interchange.ONNXOptions{})
	if err == nil || !strings.Contains(err.Error(), `"base/odd" (Unmapped) has no ONNX mapping`) {
		t.Fatalf("err = %v, want one naming layer \"base/odd\" (Unmapped)", err)
	}
}

// TestONNXNested exports a model holding a model as a layer (a pretrained
// base under a head, as transfer builds them): the base is written inline
// and ONNX Runtime gives Capa's predictions.
func TestONNXNested(t *testing.T) {
	dir := nodetest.Dir(t, "onnxruntime-node")
	base, err := graph.SequentialSeed(1, graph.Input(12, 12, 3),
		&graph.Conv2D{Filters: 8, KernelSize: [2]int{3, 3}, Activation: "relu"},
		&graph.BatchNormalization{}, &graph.MaxPooling2D{})
	if err != nil {
		t.Fatal(err)
	}
	base.Name = "base"
	in := graph.NewInput(12, 12, 3)
	x := graph.Apply(&graph.Flatten{}, graph.Apply(graph.AsLayer(base), in))
	m, err := graph.FunctionalSeed(2, []*graph.Tensor{in}, []*graph.Tensor{graph.Apply(&graph.Dense{Units: 4, Activation: "softmax"}, x)})
	if err != nil {
		t.Fatal(err)
	}
	randomizeStatistics(m, 3)
	checkORT(t, dir, "nested", m)
}
