package interchange_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/capa-ml/capa/formats/onnx"
	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/interchange"
	"google.golang.org/protobuf/proto"
)

// TestImportPyTorch imports the ONNX files PyTorch exported
// (scripts/onnx_golden.py): the practical's CNN, a reduced resnet18 and
// mobilenet_v2, and a decoder of transposed convolutions with PyTorch's
// padding and output_padding. They take PyTorch's (N, C, H, W) arrays and must give
// PyTorch's outputs.
func TestImportPyTorch(t *testing.T) { checkPyTorchGolden(t, "testdata", 4) }

// TestImportPyTorchFull imports, on request, torchvision's full-size
// resnet18 and mobilenet_v2 (224x224) that
// scripts/onnx_golden.py --full DEST wrote: CAPA_ONNX_FULL=DEST.
func TestImportPyTorchFull(t *testing.T) {
	dir := os.Getenv("CAPA_ONNX_FULL")
	if dir == "" {
		t.Skip("CAPA_ONNX_FULL is not set (see scripts/onnx_golden.py --full)")
	}
	checkPyTorchGolden(t, dir, 2)
}

// checkPyTorchGolden imports each model of dir/onnx_golden.json and
// compares its outputs with PyTorch's.
func checkPyTorchGolden(t *testing.T, dir string, models int) {
	raw, err := os.ReadFile(filepath.Join(dir, "onnx_golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var golden struct {
		Models map[string]struct {
			File        string    `json:"file"`
			InputShape  []int     `json:"input_shape"`
			Input       []float32 `json:"input"`
			OutputShape []int     `json:"output_shape"`
			Output      []float32 `json:"output"`
		} `json:"models"`
	}
	if err := json.Unmarshal(raw, &golden); err != nil {
		t.Fatal(err)
	}
	if len(golden.Models) != models {
		t.Fatalf("%d models in the golden file, want %d", len(golden.Models), models)
	}
	for name, g := range golden.Models {
		t.Run(name, func(t *testing.T) {
			m, err := interchange.ImportONNXFile(filepath.Join(dir, g.File))
			if err != nil {
				t.Fatal(err)
			}
			if in := m.InputShape(); !slices.Equal(in, g.InputShape[1:]) {
				t.Fatalf("input shape %v, want PyTorch's %v", in, g.InputShape[1:])
			}
			got, err := m.Predict(g.Input, g.InputShape[0])
			if err != nil {
				t.Fatal(err)
			}
			expectClose(t, "PyTorch", got, g.Output)
		})
	}
}

// TestImportRoundTrip imports Capa's own exports: the same predictions,
// with no layer added for the transposes at the boundary.
func TestImportRoundTrip(t *testing.T) {
	for name, m := range onnxCases(t) {
		t.Run(name, func(t *testing.T) {
			pm, err := interchange.ExportONNXModel(m, interchange.ONNXOptions{})
			if err != nil {
				t.Fatal(err)
			}
			b, err := onnx.Marshal(pm)
			if err != nil {
				t.Fatal(err)
			}
			if pm, err = onnx.Unmarshal(b); err != nil {
				t.Fatal(err)
			}
			back, err := interchange.ImportONNX(pm)
			if name == "gelu" {
				if err == nil || !strings.Contains(err.Error(), "operator Erf is not supported") {
					t.Fatalf("import of exact gelu's erf: %v, want Erf refused", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(back.InputShape(), m.InputShape()) || !slices.Equal(back.OutputShape(), m.OutputShape()) {
				t.Fatalf("shapes %v -> %v, want %v -> %v", back.InputShape(), back.OutputShape(), m.InputShape(), m.OutputShape())
			}
			n := 2
			x := randomBatch(m, n, 4)
			want, err := m.Predict(x, n)
			if err != nil {
				t.Fatal(err)
			}
			got, err := back.Predict(x, n)
			if err != nil {
				t.Fatal(err)
			}
			if e := relErr(got, want); e > 1e-5 || math.IsNaN(e) {
				t.Fatalf("relative error %.3g after the round trip", e)
			}
		})
	}
}

// TestImportErrors names the node that cannot be imported.
func TestImportErrors(t *testing.T) {
	pm, err := onnx.ReadFile(filepath.Join("testdata", "practical.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(m *onnx.ModelProto)) *onnx.ModelProto {
		c := proto.Clone(pm).(*onnx.ModelProto)
		f(c)
		return c
	}
	for _, c := range []struct {
		name string
		m    *onnx.ModelProto
		want string
	}{
		{"unsupported op", edit(func(m *onnx.ModelProto) { m.Graph.Node[1].OpType = proto.String("Gelu") }), "(Gelu): operator Gelu is not supported"},
		{"opset", edit(func(m *onnx.ModelProto) { m.OpsetImport[0].Version = proto.Int64(7) }), "opset 7 is not supported"},
		{"domain", edit(func(m *onnx.ModelProto) { m.Graph.Node[0].Domain = proto.String("com.microsoft") }), `domain "com.microsoft"`},
		{"dynamic shape", edit(func(m *onnx.ModelProto) {
			d := m.Graph.Input[0].Type.GetTensorType().Shape.Dim[2]
			d.Value = &onnx.TensorShapeProto_Dimension_DimParam{DimParam: "H"}
		}), `dynamic dimension 2 ("H")`},
		{"maxpool pads on values that may be negative", maxPoolModel(false), "neither \"valid\" nor Keras's \"same\""},
	} {
		_, err := interchange.ImportONNX(c.m)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to say %q", c.name, err, c.want)
		}
	}
}

// onnxValue is a float tensor's ValueInfo with fixed dimensions.
func onnxValue(name string, dims ...int64) *onnx.ValueInfoProto {
	var ds []*onnx.TensorShapeProto_Dimension
	for _, d := range dims {
		ds = append(ds, &onnx.TensorShapeProto_Dimension{Value: &onnx.TensorShapeProto_Dimension_DimValue{DimValue: d}})
	}
	return &onnx.ValueInfoProto{Name: proto.String(name), Type: &onnx.TypeProto{Value: &onnx.TypeProto_TensorType{TensorType: &onnx.TypeProto_Tensor{
		ElemType: proto.Int32(int32(onnx.TensorProto_FLOAT)), Shape: &onnx.TensorShapeProto{Dim: ds}}}}}
}

// TestImportMatMulAdd imports MatMul by a constant matrix then Add of a
// constant vector (PyTorch's Linear in some graphs) as one Dense with its
// bias, and Relu folded into it.
func TestImportMatMulAdd(t *testing.T) {
	w := []float32{1, -2, 0.5, 3, 0, -1, 2, 1, -0.5, 0.25, 1, 2} // (4, 3)
	b := []float32{0.5, -1, 2}
	pm := &onnx.ModelProto{
		IrVersion:   proto.Int64(8),
		OpsetImport: []*onnx.OperatorSetIdProto{{Version: proto.Int64(13)}},
		Graph: &onnx.GraphProto{Name: proto.String("linear"),
			Initializer: []*onnx.TensorProto{onnx.FloatTensor("W", []int64{4, 3}, w), onnx.FloatTensor("b", []int64{3}, b)},
			Node: []*onnx.NodeProto{
				{OpType: proto.String("MatMul"), Input: []string{"x", "W"}, Output: []string{"xw"}},
				{OpType: proto.String("Add"), Input: []string{"b", "xw"}, Output: []string{"z"}},
				{OpType: proto.String("Relu"), Input: []string{"z"}, Output: []string{"y"}},
			},
			Input: []*onnx.ValueInfoProto{onnxValue("x", 1, 4)}, Output: []*onnx.ValueInfoProto{onnxValue("y", 1, 3)}},
	}
	m, err := interchange.ImportONNX(pm)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(m.Layers()); n != 1 {
		t.Errorf("%d layers, want one Dense:\n%s", n, m.Summary())
	}
	x := []float32{1, 2, -1, 0.5}
	got, err := m.Predict(x, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float32, 3)
	for o := range 3 {
		v := b[o]
		for i := range 4 {
			v += x[i] * w[i*3+o]
		}
		want[o] = max(v, 0)
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// maxPoolModel is MaxPool(3x3, stride 2, pads 1) of a (N, 1, 6, 6) input,
// after a Relu if relu: PyTorch's padding, which Keras's "same" is not.
func maxPoolModel(relu bool) *onnx.ModelProto {
	vi := onnxValue
	in := "x"
	var nodes []*onnx.NodeProto
	if relu {
		nodes = append(nodes, &onnx.NodeProto{OpType: proto.String("Relu"), Input: []string{"x"}, Output: []string{"r"}})
		in = "r"
	}
	ints := func(name string, v ...int64) *onnx.AttributeProto {
		return &onnx.AttributeProto{Name: proto.String(name), Type: onnx.AttributeProto_INTS.Enum(), Ints: v}
	}
	nodes = append(nodes, &onnx.NodeProto{OpType: proto.String("MaxPool"), Input: []string{in}, Output: []string{"y"},
		Attribute: []*onnx.AttributeProto{ints("kernel_shape", 3, 3), ints("strides", 2, 2), ints("pads", 1, 1, 1, 1)}})
	return &onnx.ModelProto{
		IrVersion:   proto.Int64(8),
		OpsetImport: []*onnx.OperatorSetIdProto{{Version: proto.Int64(13)}},
		Graph: &onnx.GraphProto{Name: proto.String("pool"), Node: nodes,
			Input: []*onnx.ValueInfoProto{vi("x", 1, 1, 6, 6)}, Output: []*onnx.ValueInfoProto{vi("y", 1, 1, 3, 3)}},
	}
}

// TestImportMaxPoolPadding checks PyTorch's MaxPool padding after a Relu:
// zeros, then Keras's "valid" pooling, give PyTorch's -inf padding.
func TestImportMaxPoolPadding(t *testing.T) {
	m, err := interchange.ImportONNX(maxPoolModel(true))
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 36)
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	got, err := m.Predict(x, 1)
	if err != nil {
		t.Fatal(err)
	}
	// max over rows/cols {-1..1, 1..3, 3..5} of relu(x), the padding ignored.
	want := make([]float32, 9)
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			for r := 2*i - 1; r <= 2*i+1; r++ {
				for c := 2*j - 1; c <= 2*j+1; c++ {
					if r >= 0 && c >= 0 && r < 6 && c < 6 {
						want[i*3+j] = max(want[i*3+j], max(x[r*6+c], 0))
					}
				}
			}
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// BenchmarkImportedPyTorch times Predict, batch 1, of each imported
// PyTorch model in testdata, or in CAPA_ONNX_FULL when set (compare with
// ONNX Runtime on the same file: ../shared/peer/ort_bench.js --batch 1).
func BenchmarkImportedPyTorch(b *testing.B) {
	dir := os.Getenv("CAPA_ONNX_FULL")
	if dir == "" {
		dir = "testdata"
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.onnx"))
	for _, f := range files {
		b.Run(strings.TrimSuffix(filepath.Base(f), ".onnx"), func(b *testing.B) {
			m, err := interchange.ImportONNXFile(f)
			if err != nil {
				b.Fatal(err)
			}
			x := make([]float32, m.InputShape().Size())
			for i := range x {
				x[i] = float32(i%13) / 13
			}
			if _, err := m.Predict(x, 1); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := m.Predict(x, 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestImportFusesActivations checks that PyTorch's Conv/Gemm followed by
// Relu, Clip(0, 6) or Softmax imports as Keras writes it, Conv2D(activation="relu"),
// and that a convolution read twice keeps its own output.
func TestImportFusesActivations(t *testing.T) {
	m, err := interchange.ImportONNXFile(filepath.Join("testdata", "practical.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	var classes []string
	for _, l := range m.Layers() {
		classes = append(classes, l.Class())
	}
	if got, want := strings.Join(classes, " "), "Permute Conv2D MaxPooling2D Conv2D MaxPooling2D Permute Flatten Dense Dense"; got != want {
		t.Errorf("layers %s\nwant   %s", got, want)
	}
	mb, err := interchange.ImportONNXFile(filepath.Join("testdata", "mobilenet_v2_mini.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range mb.Layers() {
		if l.Class() == "ReLU" || l.Class() == "Activation" {
			t.Errorf("mobilenet_v2: layer %s (%s) left unfused", graph.NameOf(l), l.Class())
		}
	}
	// resnet18's block inputs are read by the block and its shortcut: the
	// Relu after the Add stays a layer, the Add is no convolution.
	rn, err := interchange.ImportONNXFile(filepath.Join("testdata", "resnet18_mini.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	acts := 0
	for _, l := range rn.Layers() {
		if l.Class() == "Activation" {
			acts++
		}
	}
	if acts != 8 {
		t.Errorf("resnet18: %d Activation layers, want 8 (one after each block's Add)", acts)
	}
}
