package interchange

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/capa-ml/capa/formats/onnx"
	"github.com/capa-ml/capa/graph"
	"google.golang.org/protobuf/proto"
)

// ONNXOpset is the ONNX operator set exported models declare (opset 17:
// LayerNormalization is a standard operator from it on).
const ONNXOpset = 17

// ONNXOptions configures ExportONNX.
type ONNXOptions struct {
	// Producer is recorded in the file; "capa" when empty.
	Producer string
}

// ExportONNX writes m as an ONNX model to w (see ExportONNXModel).
func ExportONNX(w io.Writer, m *graph.Model, opt ONNXOptions) error {
	pm, err := ExportONNXModel(m, opt)
	if err != nil {
		return err
	}
	b, err := onnx.Marshal(pm)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// ExportONNXFile writes m as an ONNX model file, atomically.
func ExportONNXFile(path string, m *graph.Model, opt ONNXOptions) error {
	pm, err := ExportONNXModel(m, opt)
	if err != nil {
		return err
	}
	return onnx.WriteFile(path, pm)
}

// ExportONNXModel returns m's inference graph as an ONNX model of opset
// ONNXOpset. Its inputs and outputs have Capa's shapes, channels-last
// (N, H, W, C), with a dynamic batch dimension "N"; inside, images are
// transposed once to ONNX's (N, C, H, W) and back only where a layer needs
// channels-last (Flatten, Reshape, the outputs). Layers that act only in
// training (Dropout, GaussianNoise, the augmentation layers) are left out,
// as in Capa's Predict. Models used as layers (graph.AsLayer: a frozen
// pretrained base) are written inline. A layer without an ONNX mapping is
// an error naming it and its class.
func ExportONNXModel(m *graph.Model, opt ONNXOptions) (*onnx.ModelProto, error) {
	nodes, inputs, _ := m.Nodes()
	e := &onnxExporter{g: &onnx.GraphProto{Name: proto.String(m.Name)}, names: map[string]int{}}
	ins := make([]value, len(inputs))
	for k, i := range inputs {
		n := nodes[i]
		name := graph.NameOf(n.Layer)
		if name == "" {
			name = fmt.Sprintf("input_%d", k)
		}
		e.g.Input = append(e.g.Input, valueInfo(name, n.Shape))
		ins[k] = value{name: name, shape: n.Shape}
	}
	outs, err := e.model(m, ins, "")
	if err != nil {
		return nil, err
	}
	for k, v := range outs {
		shape := v.shape
		v = e.channelsLast(v)
		name := "output"
		if len(outs) > 1 {
			name = fmt.Sprintf("output_%d", k)
		}
		e.add("Identity", []string{v.name}, []string{name})
		e.g.Output = append(e.g.Output, valueInfo(name, shape))
	}
	producer := opt.Producer
	if producer == "" {
		producer = "capa"
	}
	return &onnx.ModelProto{
		IrVersion:    proto.Int64(8), // the IR of opset 17 (ONNX 1.12)
		ProducerName: proto.String(producer),
		OpsetImport:  []*onnx.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(ONNXOpset)}},
		Graph:        e.g,
	}, nil
}

// model writes the nodes of m applied to ins (one value per input of m)
// and returns the values of its outputs. A model used as a layer is
// written inline, its layers' names under the layer's (scope).
func (e *onnxExporter) model(m *graph.Model, ins []value, scope string) ([]value, error) {
	nodes, inputs, outputs := m.Nodes()
	vals := make([]value, len(nodes))
	isInput := map[int]bool{}
	for k, i := range inputs {
		isInput[i] = true
		vals[i] = ins[k]
	}
	for i, n := range nodes {
		if isInput[i] {
			continue
		}
		in := make([]value, len(n.Inputs))
		for k, j := range n.Inputs {
			in[k] = vals[j]
		}
		name := scope + graph.NameOf(n.Layer)
		if ml, ok := n.Layer.(*graph.ModelLayer); ok && ml.Model() != nil {
			outs, err := e.model(ml.Model(), in, name+"/")
			if err != nil {
				return nil, err
			}
			vals[i] = outs[0]
			vals[i].shape = n.Shape
			continue
		}
		class := n.Layer.Class()
		f, ok := onnxLayers[class]
		if !ok {
			if onnxInferenceIdentity[class] {
				vals[i] = in[0]
				continue
			}
			return nil, fmt.Errorf("interchange: layer %q (%s) has no ONNX mapping; the exported layers are %s", name, class, strings.Join(ONNXLayers(), ", "))
		}
		e.prefix = name
		out, err := f(e, n.Layer, in, n.Shape)
		if err != nil {
			return nil, fmt.Errorf("interchange: layer %q (%s): %w", name, class, err)
		}
		out.shape = n.Shape
		vals[i] = out
	}
	outs := make([]value, len(outputs))
	for k, i := range outputs {
		outs[k] = vals[i]
	}
	return outs, nil
}

// ONNXLayers lists the layer classes ExportONNX maps (besides the ones it
// leaves out at inference), sorted.
func ONNXLayers() []string {
	var out []string
	for c := range onnxLayers {
		out = append(out, c)
	}
	for c := range onnxInferenceIdentity {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// value is a tensor of the ONNX graph being written: its name, Capa's
// per-sample shape, and whether an image is stored as (N, C, H, W).
type value struct {
	name  string
	shape graph.Shape
	nchw  bool
}

func (v value) image() bool { return len(v.shape) == 3 }

// onnxLayerFunc writes the ONNX nodes of one application of a layer to in,
// whose per-sample output shape is out.
type onnxLayerFunc func(e *onnxExporter, l graph.Layer, in []value, out graph.Shape) (value, error)

// onnxInferenceIdentity are the layers that are the identity at inference.
var onnxInferenceIdentity = map[string]bool{
	"Dropout": true, "SpatialDropout2D": true, "GaussianNoise": true,
	"RandomFlip": true, "RandomRotation": true, "RandomTranslation": true,
	"RandomZoom": true, "RandomContrast": true, "RandomBrightness": true,
}

// onnxLayers maps each exported layer class to its ONNX nodes.
var onnxLayers = map[string]onnxLayerFunc{
	"Conv2D":                 exportConv2D,
	"DepthwiseConv2D":        exportDepthwise,
	"SeparableConv2D":        exportSeparable,
	"Conv2DTranspose":        exportConvTranspose,
	"Dense":                  exportDense,
	"Activation":             exportActivationLayer,
	"ReLU":                   exportReLU,
	"LeakyReLU":              exportLeakyReLU,
	"ELU":                    exportELU,
	"MaxPooling2D":           exportPool("MaxPool"),
	"AveragePooling2D":       exportPool("AveragePool"),
	"GlobalAveragePooling2D": exportGlobalPool("GlobalAveragePool"),
	"GlobalMaxPooling2D":     exportGlobalPool("GlobalMaxPool"),
	"Flatten":                exportFlatten,
	"Reshape":                exportReshape,
	"BatchNormalization":     exportBatchNorm,
	"LayerNormalization":     exportLayerNorm,
	"Add":                    exportMerge("Add"),
	"Subtract":               exportMerge("Sub"),
	"Multiply":               exportMerge("Mul"),
	"Average":                exportMerge("Mean"),
	"Maximum":                exportMerge("Max"),
	"Minimum":                exportMerge("Min"),
	"Concatenate":            exportConcatenate,
	"ZeroPadding2D":          exportZeroPadding,
	"Cropping2D":             exportCropping,
	"UpSampling2D":           exportUpSampling,
	"Rescaling":              exportRescaling,
	"Permute":                exportPermute,
	"PReLU":                  exportPReLU,
}

// onnxExporter accumulates the graph.
type onnxExporter struct {
	g      *onnx.GraphProto
	names  map[string]int
	prefix string // the current layer's name
}

// fresh returns a new tensor name for the current layer.
func (e *onnxExporter) fresh(what string) string {
	base := e.prefix + "/" + what
	k := e.names[base]
	e.names[base] = k + 1
	if k == 0 {
		return base
	}
	return fmt.Sprintf("%s_%d", base, k)
}

// add appends a node and returns its first output's name.
func (e *onnxExporter) add(op string, in, out []string, attrs ...*onnx.AttributeProto) string {
	e.g.Node = append(e.g.Node, &onnx.NodeProto{
		OpType: proto.String(op), Name: proto.String(e.fresh(op)),
		Input: in, Output: out, Attribute: attrs,
	})
	return out[0]
}

// op appends a node of one output and returns it.
func (e *onnxExporter) op(op string, in []string, attrs ...*onnx.AttributeProto) string {
	return e.add(op, in, []string{e.fresh(strings.ToLower(op))}, attrs...)
}

// weight adds an initializer and returns its name.
func (e *onnxExporter) weight(what string, dims []int64, v []float32) string {
	name := e.fresh(what)
	e.g.Initializer = append(e.g.Initializer, onnx.FloatTensor(name, dims, v))
	return name
}

// ints adds an INT64 initializer (shapes, pads) and returns its name.
func (e *onnxExporter) ints(what string, v ...int64) string {
	name := e.fresh(what)
	e.g.Initializer = append(e.g.Initializer, onnx.Int64Tensor(name, []int64{int64(len(v))}, v))
	return name
}

// scalar adds a float scalar initializer.
func (e *onnxExporter) scalar(what string, v float32) string {
	name := e.fresh(what)
	e.g.Initializer = append(e.g.Initializer, onnx.FloatTensor(name, nil, []float32{v}))
	return name
}

// channelsFirst returns v as (N, C, H, W) if it is an image.
func (e *onnxExporter) channelsFirst(v value) value {
	if !v.image() || v.nchw {
		return v
	}
	return value{name: e.op("Transpose", []string{v.name}, intsAttr("perm", 0, 3, 1, 2)), shape: v.shape, nchw: true}
}

// channelsLast returns v as Capa holds it, (N, H, W, C) for an image.
func (e *onnxExporter) channelsLast(v value) value {
	if !v.nchw {
		return v
	}
	return value{name: e.op("Transpose", []string{v.name}, intsAttr("perm", 0, 2, 3, 1)), shape: v.shape}
}

func valueInfo(name string, s graph.Shape) *onnx.ValueInfoProto {
	dims := []*onnx.TensorShapeProto_Dimension{{Value: &onnx.TensorShapeProto_Dimension_DimParam{DimParam: "N"}}}
	for _, d := range s {
		dims = append(dims, &onnx.TensorShapeProto_Dimension{Value: &onnx.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
	}
	return &onnx.ValueInfoProto{Name: proto.String(name), Type: &onnx.TypeProto{Value: &onnx.TypeProto_TensorType{TensorType: &onnx.TypeProto_Tensor{
		ElemType: proto.Int32(int32(onnx.TensorProto_FLOAT)),
		Shape:    &onnx.TensorShapeProto{Dim: dims},
	}}}}
}

func intsAttr(name string, v ...int64) *onnx.AttributeProto {
	return &onnx.AttributeProto{Name: proto.String(name), Type: onnx.AttributeProto_INTS.Enum(), Ints: v}
}

func intAttr(name string, v int64) *onnx.AttributeProto {
	return &onnx.AttributeProto{Name: proto.String(name), Type: onnx.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

func floatAttr(name string, v float64) *onnx.AttributeProto {
	return &onnx.AttributeProto{Name: proto.String(name), Type: onnx.AttributeProto_FLOAT.Enum(), F: proto.Float32(float32(v))}
}

func stringAttr(name, v string) *onnx.AttributeProto {
	return &onnx.AttributeProto{Name: proto.String(name), Type: onnx.AttributeProto_STRING.Enum(), S: []byte(v)}
}

// param returns the layer's weight named suffix ("kernel", "bias", ...),
// or nil.
func param(l graph.Layer, suffix string) *graph.Param {
	for _, p := range graph.ParamsOf(l) {
		if strings.HasSuffix(p.Name, "/"+suffix) {
			return p
		}
	}
	return nil
}

// pads returns ONNX's pads (begin H, begin W, end H, end W) for Keras's
// padding over an input of spatial size hw: "valid" none, "same" the
// output ceil(in/stride) with the odd pixel at the end, as TensorFlow.
func pads(padding string, hw [2]int, k, s, d [2]int) []int64 {
	p := make([]int64, 4)
	if padding != "same" {
		return p
	}
	for i := 0; i < 2; i++ {
		out := (hw[i] + s[i] - 1) / s[i]
		total := (out-1)*s[i] + (k[i]-1)*d[i] + 1 - hw[i]
		if total < 0 {
			total = 0
		}
		p[i], p[i+2] = int64(total/2), int64(total-total/2)
	}
	return p
}

func spatial(v value) [2]int { return [2]int{v.shape[0], v.shape[1]} }

func i64(v [2]int) []int64 { return []int64{int64(v[0]), int64(v[1])} }

// convKernel reorders a Keras kernel (kh, kw, a, b) to ONNX's (b, a, kh, kw).
func convKernel(p *graph.Param) ([]int64, []float32) {
	s := p.Shape()
	kh, kw, a, b := s[0], s[1], s[2], s[3]
	src, dst := p.Data(), make([]float32, p.Size())
	for i := 0; i < kh; i++ {
		for j := 0; j < kw; j++ {
			for c := 0; c < a; c++ {
				for o := 0; o < b; o++ {
					dst[((o*a+c)*kh+i)*kw+j] = src[((i*kw+j)*a+c)*b+o]
				}
			}
		}
	}
	return []int64{int64(b), int64(a), int64(kh), int64(kw)}, dst
}

func exportConv2D(e *onnxExporter, l graph.Layer, in []value, _ graph.Shape) (value, error) {
	c := l.(*graph.Conv2D)
	x := e.channelsFirst(in[0])
	dims, w := convKernel(param(l, "kernel"))
	ins := []string{x.name, e.weight("kernel", dims, w)}
	if b := param(l, "bias"); b != nil {
		ins = append(ins, e.weight("bias", []int64{int64(b.Size())}, b.Data()))
	}
	groups := c.Groups
	if groups == 0 {
		groups = 1
	}
	y := e.op("Conv", ins,
		intsAttr("kernel_shape", i64(c.KernelSize)...), intsAttr("strides", i64(c.Strides)...),
		intsAttr("dilations", i64(c.DilationRate)...), intAttr("group", int64(groups)),
		intsAttr("pads", pads(c.Padding, spatial(x), c.KernelSize, c.Strides, c.DilationRate)...))
	return e.activation(c.Activation, value{name: y, shape: nil, nchw: true})
}

// exportConvTranspose writes Keras's transposed convolution, the gradient
// of a convolution from out to the input that crops (before, after) of the
// full output (in-1)*stride+kernel, as ONNX's ConvTranspose: pads
// (before, after), or output_padding where the output is longer than the
// full one ("valid" with a kernel smaller than the stride, or Keras's
// output_padding).
func exportConvTranspose(e *onnxExporter, l graph.Layer, in []value, out graph.Shape) (value, error) {
	c := l.(*graph.Conv2DTranspose)
	x := e.channelsFirst(in[0])
	hw := spatial(in[0])
	p, extra := make([]int64, 4), make([]int64, 2)
	for i := range 2 {
		full := (hw[i]-1)*c.Strides[i] + c.KernelSize[i]
		before := 0
		if c.Padding == "same" {
			before = max(full-out[i], 0) / 2
		}
		after := full - out[i] - before
		if after < 0 {
			extra[i], after = int64(-after), 0
		}
		p[i], p[i+2] = int64(before), int64(after)
	}
	// Keras's (kh, kw, filters, in) to ONNX's (in, filters, kh, kw).
	dims, w := convKernel(param(l, "kernel"))
	ins := []string{x.name, e.weight("kernel", dims, w)}
	if b := param(l, "bias"); b != nil {
		ins = append(ins, e.weight("bias", []int64{int64(b.Size())}, b.Data()))
	}
	y := e.op("ConvTranspose", ins, intsAttr("kernel_shape", i64(c.KernelSize)...), intsAttr("strides", i64(c.Strides)...),
		intsAttr("pads", p...), intsAttr("output_padding", extra...))
	return e.activation(c.Activation, value{name: y, nchw: true})
}

// depthwise writes a depthwise convolution of x (kernel (kh, kw, c, dm):
// output channel c*dm+m), returning the output name.
func (e *onnxExporter) depthwise(x value, k, b *graph.Param, size, strides [2]int, padding string) string {
	s := k.Shape()
	kh, kw, c, dm := s[0], s[1], s[2], s[3]
	src, dst := k.Data(), make([]float32, k.Size())
	for i := 0; i < kh; i++ {
		for j := 0; j < kw; j++ {
			for ch := 0; ch < c; ch++ {
				for m := 0; m < dm; m++ {
					dst[((ch*dm+m)*kh+i)*kw+j] = src[((i*kw+j)*c+ch)*dm+m]
				}
			}
		}
	}
	ins := []string{x.name, e.weight("depthwise_kernel", []int64{int64(c * dm), 1, int64(kh), int64(kw)}, dst)}
	if b != nil {
		ins = append(ins, e.weight("bias", []int64{int64(b.Size())}, b.Data()))
	}
	return e.op("Conv", ins, intsAttr("kernel_shape", i64(size)...), intsAttr("strides", i64(strides)...),
		intAttr("group", int64(c)), intsAttr("pads", pads(padding, spatial(x), size, strides, [2]int{1, 1})...))
}

func exportDepthwise(e *onnxExporter, l graph.Layer, in []value, _ graph.Shape) (value, error) {
	c := l.(*graph.DepthwiseConv2D)
	x := e.channelsFirst(in[0])
	y := e.depthwise(x, param(l, "depthwise_kernel"), param(l, "bias"), c.KernelSize, c.Strides, c.Padding)
	return e.activation(c.Activation, value{name: y, nchw: true})
}

func exportSeparable(e *onnxExporter, l graph.Layer, in []value, _ graph.Shape) (value, error) {
	c := l.(*graph.SeparableConv2D)
	x := e.channelsFirst(in[0])
	y := e.depthwise(x, param(l, "depthwise_kernel"), nil, c.KernelSize, c.Strides, c.Padding)
	dims, w := convKernel(param(l, "pointwise_kernel"))
	ins := []string{y, e.weight("pointwise_kernel", dims, w)}
	if b := param(l, "bias"); b != nil {
		ins = append(ins, e.weight("bias", []int64{int64(b.Size())}, b.Data()))
	}
	z := e.op("Conv", ins, intsAttr("kernel_shape", 1, 1))
	return e.activation(c.Activation, value{name: z, nchw: true})
}

func exportDense(e *onnxExporter, l graph.Layer, in []value, _ graph.Shape) (value, error) {
	d := l.(*graph.Dense)
	x := in[0]
	if len(x.shape) != 1 {
		return value{}, fmt.Errorf("Dense on a per-sample shape %v: only vectors are exported", x.shape)
	}
	k := param(l, "kernel")
	s := k.Shape()
	ins := []string{x.name, e.weight("kernel", []int64{int64(s[0]), int64(s[1])}, k.Data())}
	if b := param(l, "bias"); b != nil {
		ins = append(ins, e.weight("bias", []int64{int64(b.Size())}, b.Data()))
	}
	return e.activation(d.Activation, value{name: e.op("Gemm", ins)})
}

func exportActivationLayer(e *onnxExporter, l graph.Layer, in []value, _ graph.Shape) (value, error) {
	return e.activation(l.(*graph.Activation).Activation, in[0])
}

// activation applies Keras's activation function name to x, element-wise
// (softmax over the channels).
func (e *onnxExporter) activation(name string, x value) (value, error) {
	un := func(op string, attrs ...*onnx.AttributeProto) (value, error) {
		return value{name: e.op(op, []string{x.name}, attrs...), nchw: x.nchw}, nil
	}
	times := func(g string) (value, error) { // x * g(x)
		return value{name: e.op("Mul", []string{x.name, g}), nchw: x.nchw}, nil
	}
	switch name {
	case "", "linear":
		return x, nil
	case "relu":
		return un("Relu")
	case "sigmoid":
		return un("Sigmoid")
	case "tanh":
		return un("Tanh")
	case "softmax":
		axis := int64(-1)
		if x.nchw {
			axis = 1
		}
		return un("Softmax", intAttr("axis", axis))
	case "relu6":
		return value{name: e.op("Clip", []string{x.name, e.scalar("min", 0), e.scalar("max", 6)}), nchw: x.nchw}, nil
	case "leaky_relu":
		return un("LeakyRelu", floatAttr("alpha", 0.2))
	case "elu":
		return un("Elu", floatAttr("alpha", 1))
	case "selu":
		return un("Selu", floatAttr("alpha", 1.6732632423543772), floatAttr("gamma", 1.0507009873554805))
	case "softplus":
		return un("Softplus")
	case "softsign":
		return un("Softsign")
	case "exponential":
		return un("Exp")
	case "hard_sigmoid":
		return un("HardSigmoid", floatAttr("alpha", 1.0/6), floatAttr("beta", 0.5))
	case "silu", "swish":
		return times(e.op("Sigmoid", []string{x.name}))
	case "hard_silu", "hard_swish":
		return times(e.op("HardSigmoid", []string{x.name}, floatAttr("alpha", 1.0/6), floatAttr("beta", 0.5)))
	case "mish":
		return times(e.op("Tanh", []string{e.op("Softplus", []string{x.name})}))
	case "gelu": // x * (1 + erf(x/sqrt 2)) / 2
		erf := e.op("Erf", []string{e.op("Mul", []string{x.name, e.scalar("inv_sqrt2", float32(1/math.Sqrt2))})})
		half := e.op("Mul", []string{e.op("Add", []string{erf, e.scalar("one", 1)}), e.scalar("half", 0.5)})
		return times(half)
	case "gelu_approximate": // x * (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2
		x3 := e.op("Mul", []string{e.op("Mul", []string{x.name, x.name}), x.name})
		inner := e.op("Add", []string{x.name, e.op("Mul", []string{x3, e.scalar("c", 0.044715)})})
		t := e.op("Tanh", []string{e.op("Mul", []string{inner, e.scalar("sqrt_2_pi", float32(math.Sqrt(2/math.Pi)))})})
		half := e.op("Mul", []string{e.op("Add", []string{t, e.scalar("one", 1)}), e.scalar("half", 0.5)})
		return times(half)
	}
	return value{}, fmt.Errorf("activation %q has no ONNX mapping", name)
}

func exportReLU(e *onnxExporter, l graph.Layer, in []value, _ graph.Shape) (value, error) {
	r := l.(*graph.ReLU)
	x := in[0]
	if r.Threshold != 0 {
		return value{}, fmt.Errorf("ReLU with threshold %v has no ONNX mapping", r.Threshold)
	}
	var y string
	switch {
	case r.NegativeSlope != 0 && r.MaxValue > 0:
		return value{}, fmt.Errorf("ReLU with both negative_slope and max_value has no ONNX mapping")
	case r.NegativeSlope != 0:
		y = e.op("LeakyRelu", []string{x.name}, floatAttr("alpha", r.NegativeSlope))
	case r.MaxValue > 0:
		y = e.op("Clip", []string{x.name, e.scalar("min", 0), e.scalar("max", float32(r.MaxValue))})
	default:
		y = e.op("Relu", []string{x.name})
	}
	return value{name: y, nchw: x.nchw}, nil
}

func exportLeakyReLU(e *onnxExporter, l graph.Layer, in []value, _ graph.Shape) (value, error) {
	return value{name: e.op("LeakyRelu", []string{in[0].name}, floatAttr("alpha", l.(*graph.LeakyReLU).NegativeSlope)), nchw: in[0].nchw}, nil
}

func exportELU(e *onnxExporter, l graph.Layer, in []value, _ graph.Shape) (value, error) {
	return value{name: e.op("Elu", []string{in[0].name}, floatAttr("alpha", l.(*graph.ELU).Alpha)), nchw: in[0].nchw}, nil
}

func exportPool(op string) onnxLayerFunc {
	return func(e *onnxExporter, l graph.Layer, in []value, _ graph.Shape) (value, error) {
		var size, strides [2]int
		var padding string
		switch p := l.(type) {
		case *graph.MaxPooling2D:
			size, strides, padding = p.PoolSize, p.Strides, p.Padding
		case *graph.AveragePooling2D:
			size, strides, padding = p.PoolSize, p.Strides, p.Padding
		}
		x := e.channelsFirst(in[0])
		attrs := []*onnx.AttributeProto{intsAttr("kernel_shape", i64(size)...), intsAttr("strides", i64(strides)...),
			intsAttr("pads", pads(padding, spatial(x), size, strides, [2]int{1, 1})...)}
		if op == "AveragePool" {
			attrs = append(attrs, intAttr("count_include_pad", 0)) // Keras averages the real pixels
		}
		return value{name: e.op(op, []string{x.name}, attrs...), nchw: true}, nil
	}
}

func exportGlobalPool(op string) onnxLayerFunc {
	return func(e *onnxExporter, _ graph.Layer, in []value, _ graph.Shape) (value, error) {
		x := e.channelsFirst(in[0])
		return value{name: e.op("Flatten", []string{e.op(op, []string{x.name})}, intAttr("axis", 1))}, nil
	}
}

func exportFlatten(e *onnxExporter, _ graph.Layer, in []value, _ graph.Shape) (value, error) {
	x := e.channelsLast(in[0]) // Capa (and Keras) flatten channels-last
	return value{name: e.op("Flatten", []string{x.name}, intAttr("axis", 1))}, nil
}

func exportReshape(e *onnxExporter, _ graph.Layer, in []value, out graph.Shape) (value, error) {
	x := e.channelsLast(in[0])
	shape := []int64{-1}
	for _, d := range out {
		shape = append(shape, int64(d))
	}
	return value{name: e.op("Reshape", []string{x.name, e.ints("shape", shape...)})}, nil
}

func exportBatchNorm(e *onnxExporter, l graph.Layer, in []value, _ graph.Shape) (value, error) {
	b := l.(*graph.BatchNormalization)
	x := e.channelsFirst(in[0])
	ps := []string{x.name}
	for _, n := range []string{"gamma", "beta", "moving_mean", "moving_variance"} {
		p := param(l, n)
		if p == nil {
			return value{}, fmt.Errorf("no weight %q", n)
		}
		ps = append(ps, e.weight(n, []int64{int64(p.Size())}, p.Data()))
	}
	return value{name: e.op("BatchNormalization", ps, floatAttr("epsilon", b.Epsilon)), nchw: x.nchw}, nil
}

func exportLayerNorm(e *onnxExporter, l graph.Layer, in []value, _ graph.Shape) (value, error) {
	n := l.(*graph.LayerNormalization)
	x := e.channelsLast(in[0])
	rank := len(x.shape) + 1
	if n.Axis != -1 && n.Axis != rank-1 {
		return value{}, fmt.Errorf("LayerNormalization over axis %d: only the last axis is exported", n.Axis)
	}
	c := x.shape[len(x.shape)-1]
	ins := []string{x.name}
	for _, w := range []struct {
		name string
		def  float32
	}{{"gamma", 1}, {"beta", 0}} {
		p := param(l, w.name)
		v := make([]float32, c)
		if p != nil {
			copy(v, p.Data())
		} else {
			for i := range v {
				v[i] = w.def
			}
		}
		ins = append(ins, e.weight(w.name, []int64{int64(c)}, v))
	}
	return value{name: e.op("LayerNormalization", ins, intAttr("axis", -1), floatAttr("epsilon", n.Epsilon))}, nil
}

func exportMerge(op string) onnxLayerFunc {
	return func(e *onnxExporter, _ graph.Layer, in []value, _ graph.Shape) (value, error) {
		names := make([]string, len(in))
		nchw := false
		for i, v := range in {
			v = e.channelsFirst(v)
			names[i], nchw = v.name, v.nchw
		}
		if op == "Mean" || op == "Max" || op == "Min" || len(names) == 2 {
			return value{name: e.op(op, names), nchw: nchw}, nil
		}
		if op == "Sub" {
			return value{}, fmt.Errorf("Subtract takes two inputs, got %d", len(names))
		}
		y := names[0]
		for _, n := range names[1:] {
			y = e.op(op, []string{y, n})
		}
		return value{name: y, nchw: nchw}, nil
	}
}

func exportConcatenate(e *onnxExporter, l graph.Layer, in []value, _ graph.Shape) (value, error) {
	axis := l.(*graph.Concatenate).Axis
	rank := len(in[0].shape) + 1
	if axis < 0 {
		axis += rank
	}
	names := make([]string, len(in))
	nchw := false
	for i, v := range in {
		v = e.channelsFirst(v)
		names[i], nchw = v.name, v.nchw
	}
	if nchw { // (N, H, W, C) axis -> (N, C, H, W) axis
		axis = [...]int{0, 2, 3, 1}[axis]
	}
	return value{name: e.op("Concat", names, intAttr("axis", int64(axis))), nchw: nchw}, nil
}

func exportZeroPadding(e *onnxExporter, l graph.Layer, in []value, _ graph.Shape) (value, error) {
	p := l.(*graph.ZeroPadding2D).Padding
	x := e.channelsFirst(in[0])
	pads := e.ints("pads", 0, 0, int64(p[0][0]), int64(p[1][0]), 0, 0, int64(p[0][1]), int64(p[1][1]))
	return value{name: e.op("Pad", []string{x.name, pads}), nchw: true}, nil
}

func exportCropping(e *onnxExporter, l graph.Layer, in []value, _ graph.Shape) (value, error) {
	c := l.(*graph.Cropping2D).Cropping
	x := e.channelsFirst(in[0])
	h, w := x.shape[0], x.shape[1]
	starts := e.ints("starts", int64(c[0][0]), int64(c[1][0]))
	ends := e.ints("ends", int64(h-c[0][1]), int64(w-c[1][1]))
	return value{name: e.op("Slice", []string{x.name, starts, ends, e.ints("axes", 2, 3)}), nchw: true}, nil
}

func exportUpSampling(e *onnxExporter, l graph.Layer, in []value, _ graph.Shape) (value, error) {
	u := l.(*graph.UpSampling2D)
	x := e.channelsFirst(in[0])
	scales := e.fresh("scales")
	e.g.Initializer = append(e.g.Initializer, onnx.FloatTensor(scales, []int64{4}, []float32{1, 1, float32(u.Size[0]), float32(u.Size[1])}))
	attrs := []*onnx.AttributeProto{stringAttr("mode", "nearest"), stringAttr("coordinate_transformation_mode", "asymmetric"), stringAttr("nearest_mode", "floor")}
	switch u.Interpolation {
	case "", "nearest":
	case "bilinear":
		attrs = []*onnx.AttributeProto{stringAttr("mode", "linear"), stringAttr("coordinate_transformation_mode", "half_pixel")}
	default:
		return value{}, fmt.Errorf("interpolation %q has no ONNX mapping", u.Interpolation)
	}
	return value{name: e.op("Resize", []string{x.name, "", scales}, attrs...), nchw: true}, nil
}

func exportRescaling(e *onnxExporter, l graph.Layer, in []value, _ graph.Shape) (value, error) {
	r := l.(*graph.Rescaling)
	x := in[0]
	y := e.op("Mul", []string{x.name, e.scalar("scale", float32(r.Scale))})
	if r.Offset != 0 {
		y = e.op("Add", []string{y, e.scalar("offset", float32(r.Offset))})
	}
	return value{name: y, nchw: x.nchw}, nil
}

func exportPermute(e *onnxExporter, l graph.Layer, in []value, _ graph.Shape) (value, error) {
	x := e.channelsLast(in[0])
	perm := []int64{0}
	for _, d := range l.(*graph.Permute).Dims {
		perm = append(perm, int64(d))
	}
	return value{name: e.op("Transpose", []string{x.name}, intsAttr("perm", perm...))}, nil
}

func exportPReLU(e *onnxExporter, l graph.Layer, in []value, _ graph.Shape) (value, error) {
	x := e.channelsLast(in[0]) // alpha has the channels-last per-sample shape
	a := param(l, "alpha")
	dims := make([]int64, 0, len(a.Shape()))
	for _, d := range a.Shape() {
		dims = append(dims, int64(d))
	}
	return value{name: e.op("PRelu", []string{x.name, e.weight("alpha", dims, a.Data())})}, nil
}
