package interchange

import (
	"fmt"
	"math"
	"slices"

	"github.com/capa-ml/capa/formats/onnx"
	"github.com/capa-ml/capa/graph"
)

// ImportONNXFile reads an ONNX model file and builds it as a Functional
// Capa model (see ImportONNX).
func ImportONNXFile(path string) (*graph.Model, error) {
	pm, err := onnx.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := ImportONNX(pm)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// ImportONNX builds an ONNX model of one float input as a Functional Capa
// model with the ONNX weights. The model keeps the ONNX model's layouts at
// its boundary: an (N, C, H, W) model from PyTorch takes and returns
// (N, C, H, W) arrays, a channels-last one (such as Capa's exports)
// channels-last ones; inside, Capa transposes once to channels-last (a
// Permute layer) and back for the outputs. The operators of opsets 11 to
// 21 it builds: Conv (grouped and depthwise too), Gemm, BatchNormalization,
// Relu, LeakyRelu, Elu, Selu, Sigmoid, Tanh, Softplus, Softsign, Exp, Clip (as
// ReLU with a maximum), HardSigmoid, Softmax (last axis), MaxPool and
// AveragePool ("valid" or "same" padding; any padding before a MaxPool of
// non-negative values), GlobalAveragePool, GlobalMaxPool, Flatten,
// Reshape, Transpose (to and from channels-last), Add, Sub, Mul, Max, Min,
// Resize (whole scales, as UpSampling2D), Slice (of H and W), PRelu,
// LayerNormalization (last axis), Mean, Sum (of tensors of one shape; Mul, Add, Sub and Div by a scalar
// constant as Rescaling), Concat, Pad (zeros over H and W), Identity and Dropout. Any
// other operator, domain or opset, and inputs of unknown size (but the
// batch), are refused with an error naming the node.
func ImportONNX(pm *onnx.ModelProto) (*graph.Model, error) {
	for _, o := range pm.OpsetImport {
		if d := o.GetDomain(); d != "" && d != "ai.onnx" {
			return nil, fmt.Errorf("interchange: operator domain %q is not supported (only ONNX's own)", d)
		}
		if v := o.GetVersion(); v < 11 || v > 21 {
			return nil, fmt.Errorf("interchange: opset %d is not supported (11 to 21 are)", v)
		}
	}
	im := &onnxImporter{vals: map[string]ival{}, consts: map[string]*onnx.TensorProto{}}
	g := pm.Graph
	for _, t := range g.Initializer {
		im.consts[t.GetName()] = t
	}
	var inputs []*graph.Tensor
	for _, v := range g.Input {
		if im.consts[v.GetName()] != nil {
			continue // an initializer listed as an input (IR < 4)
		}
		t, err := im.input(v)
		if err != nil {
			return nil, err
		}
		inputs = append(inputs, t)
	}
	if len(inputs) != 1 {
		return nil, fmt.Errorf("interchange: the model has %d inputs; ImportONNX builds models of one", len(inputs))
	}
	im.uses = map[string]int{}
	for _, n := range g.Node {
		for _, in := range n.Input {
			im.uses[in]++
		}
	}
	for _, v := range g.Output {
		im.uses[v.GetName()]++
	}
	for i, n := range g.Node {
		if err := im.node(n); err != nil {
			return nil, fmt.Errorf("interchange: node %d %q (%s): %w", i, n.GetName(), n.GetOpType(), err)
		}
	}
	var outputs []*graph.Tensor
	for _, v := range g.Output {
		x, ok := im.vals[v.GetName()]
		if !ok {
			return nil, fmt.Errorf("interchange: output %q is not computed from the input", v.GetName())
		}
		switch x.layout {
		case nchw:
			x.t = graph.Apply(&graph.Permute{Dims: []int{3, 1, 2}}, x.t)
		case pooled:
			x.t = graph.Apply(&graph.Reshape{TargetShape: []int{x.t.Shape()[0], 1, 1}}, x.t)
		}
		outputs = append(outputs, x.t)
	}
	m, err := graph.Functional(inputs, outputs)
	if err != nil {
		return nil, fmt.Errorf("interchange: building the model: %w", err)
	}
	if g.GetName() != "" {
		m.Name = g.GetName()
	}
	for _, w := range im.weights {
		if err := setWeight(w.layer, w.name, w.values); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// layout says how a Capa tensor holds an ONNX tensor.
type layout int

const (
	plain  layout = iota // the same shape
	nchw                 // ONNX (N, C, H, W) held as Capa's (N, H, W, C)
	pooled               // ONNX (N, C, 1, 1) held as Capa's (N, C)
)

// ival is an ONNX tensor computed from the input.
type ival struct {
	t      *graph.Tensor
	layout layout
	nonNeg bool // known to hold no negative value (a Relu's output)
	// fuse is the Conv2D, DepthwiseConv2D or Dense layer (without an
	// activation) that computed the tensor, into which a following
	// activation is folded when the tensor has no other reader.
	fuse graph.Layer
}

// setActivation folds activation into l (a layer fuse names) and says if
// it could.
func setActivation(l graph.Layer, activation string) bool {
	switch l := l.(type) {
	case *graph.Conv2D:
		l.Activation = activation
	case *graph.DepthwiseConv2D:
		l.Activation = activation
	case *graph.Dense:
		l.Activation = activation
	default:
		return false
	}
	return true
}

type pendingWeight struct {
	layer  graph.Layer
	name   string
	values []float32
}

type onnxImporter struct {
	uses     map[string]int // readers of each tensor (the graph's outputs count)
	vals     map[string]ival
	consts   map[string]*onnx.TensorProto
	weights  []pendingWeight
	permuted map[*graph.Tensor]*graph.Tensor // channels-last views made by image
}

// image returns x as an (N, C, H, W) image: a tensor of ONNX rank 4 that
// Capa holds as it is (the model's input) is permuted to channels-last,
// once.
func (im *onnxImporter) image(x ival) (ival, error) {
	if x.layout == nchw {
		return x, nil
	}
	if x.layout != plain || len(x.t.Shape()) != 3 {
		return ival{}, fmt.Errorf("needs an (N, C, H, W) image, got a tensor of shape (N, %v)", x.t.Shape())
	}
	if im.permuted == nil {
		im.permuted = map[*graph.Tensor]*graph.Tensor{}
	}
	p, ok := im.permuted[x.t]
	if !ok {
		p = graph.Apply(&graph.Permute{Dims: []int{2, 3, 1}}, x.t)
		im.permuted[x.t] = p
	}
	return ival{t: p, layout: nchw, nonNeg: x.nonNeg}, nil
}

// input declares the model's input; an image (C, H, W) is permuted to
// channels-last at once.
func (im *onnxImporter) input(v *onnx.ValueInfoProto) (*graph.Tensor, error) {
	tt := v.GetType().GetTensorType()
	if tt == nil || tt.GetElemType() != int32(onnx.TensorProto_FLOAT) {
		return nil, fmt.Errorf("interchange: input %q is not a float tensor", v.GetName())
	}
	var shape []int
	for i, d := range tt.GetShape().GetDim() {
		if i == 0 {
			continue // the batch, fixed or not
		}
		if d.GetDimValue() <= 0 {
			return nil, fmt.Errorf("interchange: input %q has a dynamic dimension %d (%q); only the batch may be", v.GetName(), i, d.GetDimParam())
		}
		shape = append(shape, int(d.GetDimValue()))
	}
	if len(shape) == 0 {
		return nil, fmt.Errorf("interchange: input %q has no shape", v.GetName())
	}
	in := graph.NewInput(shape...)
	if err := in.Err(); err != nil {
		return nil, err
	}
	im.vals[v.GetName()] = ival{t: in}
	return in, nil
}

// weight records values for a layer's weight, set once the model exists.
func (im *onnxImporter) weight(l graph.Layer, name string, v []float32) {
	im.weights = append(im.weights, pendingWeight{l, name, v})
}

func setWeight(l graph.Layer, name string, v []float32) error {
	p := param(l, name)
	if p == nil {
		return fmt.Errorf("interchange: layer %q has no weight %q", graph.NameOf(l), name)
	}
	if p.Size() != len(v) {
		return fmt.Errorf("interchange: weight %s has %d values, the ONNX tensor %d", p.Name, p.Size(), len(v))
	}
	copy(p.Data(), v)
	return nil
}

// floats returns the constant input i of n.
func (im *onnxImporter) floats(n *onnx.NodeProto, i int) ([]float32, []int64, error) {
	if i >= len(n.Input) || n.Input[i] == "" {
		return nil, nil, nil
	}
	t, ok := im.consts[n.Input[i]]
	if !ok {
		return nil, nil, fmt.Errorf("input %d (%q) must be a constant (an initializer)", i, n.Input[i])
	}
	v, err := onnx.TensorFloats(t)
	return v, t.Dims, err
}

// ints returns the INT64 constant input i of n.
func (im *onnxImporter) ints(n *onnx.NodeProto, i int) ([]int64, error) {
	if i >= len(n.Input) {
		return nil, fmt.Errorf("has %d inputs, needs %d", len(n.Input), i+1)
	}
	t, ok := im.consts[n.Input[i]]
	if !ok {
		return nil, fmt.Errorf("input %d (%q) must be an INT64 constant", i, n.Input[i])
	}
	return onnx.TensorInt64s(t)
}

// in returns n's input i, computed from the model's input.
func (im *onnxImporter) in(n *onnx.NodeProto, i int) (ival, error) {
	if i >= len(n.Input) {
		return ival{}, fmt.Errorf("has %d inputs, needs %d", len(n.Input), i+1)
	}
	x, ok := im.vals[n.Input[i]]
	if !ok {
		if _, c := im.consts[n.Input[i]]; c {
			return ival{}, fmt.Errorf("input %q is a constant where Capa takes a computed tensor", n.Input[i])
		}
		return ival{}, fmt.Errorf("input %q is unknown", n.Input[i])
	}
	return x, nil
}

type attrs map[string]*onnx.AttributeProto

func (a attrs) ints(name string, def ...int64) []int64 {
	if v, ok := a[name]; ok {
		return v.Ints
	}
	return def
}

func (a attrs) int(name string, def int64) int64 {
	if v, ok := a[name]; ok {
		return v.GetI()
	}
	return def
}

func (a attrs) float(name string, def float64) float64 {
	if v, ok := a[name]; ok {
		return float64(v.GetF())
	}
	return def
}

func (a attrs) str(name, def string) string {
	if v, ok := a[name]; ok {
		return string(v.S)
	}
	return def
}

// node imports one ONNX node.
func (im *onnxImporter) node(n *onnx.NodeProto) error {
	if d := n.GetDomain(); d != "" && d != "ai.onnx" {
		return fmt.Errorf("operator domain %q is not supported", d)
	}
	a := attrs{}
	for _, at := range n.Attribute {
		a[at.GetName()] = at
	}
	if len(n.Output) < 1 {
		return fmt.Errorf("has no output")
	}
	if n.GetOpType() == "Constant" {
		v, ok := a["value"]
		if !ok || v.T == nil {
			return fmt.Errorf("only Constant nodes with a tensor value are supported")
		}
		t := v.T
		im.consts[n.Output[0]] = t
		return nil
	}
	out, err := im.op(n, a)
	if err != nil {
		return err
	}
	if err := out.t.Err(); err != nil {
		return err
	}
	im.vals[n.Output[0]] = out
	return nil
}

func (im *onnxImporter) op(n *onnx.NodeProto, a attrs) (ival, error) {
	unary := func(l graph.Layer) (ival, error) {
		x, err := im.in(n, 0)
		if err != nil {
			return ival{}, err
		}
		return ival{t: graph.Apply(l, x.t), layout: x.layout}, nil
	}
	act := func(name string) (ival, error) {
		x, err := im.in(n, 0)
		if err != nil {
			return ival{}, err
		}
		if x.fuse != nil && im.uses[n.Input[0]] == 1 && setActivation(x.fuse, name) {
			return ival{t: x.t, layout: x.layout}, nil // Conv2D(activation=...), as Keras writes it
		}
		return unary(&graph.Activation{Activation: name})
	}
	switch op := n.GetOpType(); op {
	case "Identity", "Dropout":
		x, err := im.in(n, 0)
		x.fuse = nil // its input may have other readers
		return x, err
	case "Relu":
		v, err := act("relu")
		v.nonNeg = true
		return v, err
	case "Sigmoid":
		return act("sigmoid")
	case "Tanh":
		return act("tanh")
	case "Softplus":
		return act("softplus")
	case "Exp":
		return act("exponential")
	case "Softsign":
		return act("softsign")
	case "Selu":
		if a.float("alpha", 1.67326319217681884765625) != float64(float32(1.6732632423543772)) || a.float("gamma", 1.05070102214813232421875) != float64(float32(1.0507009873554805)) {
			return ival{}, fmt.Errorf("Selu with other than the standard alpha and gamma")
		}
		return act("selu")
	case "HardSigmoid":
		if math.Abs(a.float("alpha", 0.2)-1.0/6) > 1e-7 || math.Abs(a.float("beta", 0.5)-0.5) > 1e-7 {
			return ival{}, fmt.Errorf("HardSigmoid with alpha %v, beta %v: Keras's hard_sigmoid is alpha 1/6, beta 0.5", a.float("alpha", 0.2), a.float("beta", 0.5))
		}
		return act("hard_sigmoid")
	case "LeakyRelu":
		return unary(&graph.LeakyReLU{NegativeSlope: a.float("alpha", 0.01)})
	case "Elu":
		return unary(&graph.ELU{Alpha: a.float("alpha", 1)})
	case "Clip":
		lo, _, err := im.floats(n, 1)
		if err != nil {
			return ival{}, err
		}
		hi, _, err := im.floats(n, 2)
		if err != nil {
			return ival{}, err
		}
		if len(lo) != 1 || lo[0] != 0 {
			return ival{}, fmt.Errorf("Clip with a minimum other than 0")
		}
		r := &graph.ReLU{}
		if len(hi) == 1 && !math.IsInf(float64(hi[0]), 1) {
			r.MaxValue = float64(hi[0])
		}
		var v ival
		switch r.MaxValue {
		case 0:
			v, err = act("relu")
		case 6:
			v, err = act("relu6")
		default:
			v, err = unary(r)
		}
		v.nonNeg = true
		return v, err
	case "Softmax":
		x, err := im.in(n, 0)
		if err != nil {
			return ival{}, err
		}
		if ax := a.int("axis", -1); x.layout != plain || len(x.t.Shape()) != 1 || (ax != -1 && ax != 1) {
			return ival{}, fmt.Errorf("Softmax over axis %d of a rank-%d tensor: only over the last axis of (N, K) is supported", ax, len(x.t.Shape())+1)
		}
		return act("softmax")
	case "Conv":
		return im.conv(n, a)
	case "ConvTranspose":
		return im.convTranspose(n, a)
	case "Gemm", "MatMul":
		return im.gemm(n, a)
	case "BatchNormalization":
		x, err := im.in(n, 0)
		if err != nil {
			return ival{}, err
		}
		if len(x.t.Shape()) == 3 {
			if x, err = im.image(x); err != nil {
				return ival{}, err
			}
		}
		l := &graph.BatchNormalization{Epsilon: a.float("epsilon", 1e-5), Momentum: 0.99}
		if len(n.Output) > 1 && n.Output[1] != "" {
			return ival{}, fmt.Errorf("BatchNormalization in training mode (several outputs)")
		}
		sh := x.t.Shape()
		for i, w := range []string{"gamma", "beta", "moving_mean", "moving_variance"} {
			v, _, err := im.floats(n, i+1)
			if err != nil {
				return ival{}, err
			}
			if len(v) != sh[len(sh)-1] { // checked before the layer's weights exist
				return ival{}, fmt.Errorf("BatchNormalization %s of %d values for %d channels", w, len(v), sh[len(sh)-1])
			}
			im.weight(l, w, v)
		}
		return ival{t: graph.Apply(l, x.t), layout: x.layout}, nil
	case "MaxPool", "AveragePool":
		return im.pool(n, a)
	case "GlobalAveragePool", "GlobalMaxPool":
		x, err := im.in(n, 0)
		if err != nil {
			return ival{}, err
		}
		if x, err = im.image(x); err != nil {
			return ival{}, err
		}
		var l graph.Layer = &graph.GlobalAveragePooling2D{}
		if op == "GlobalMaxPool" {
			l = &graph.GlobalMaxPooling2D{}
		}
		return ival{t: graph.Apply(l, x.t), layout: pooled, nonNeg: x.nonNeg}, nil
	case "Flatten":
		x, err := im.in(n, 0)
		if err != nil {
			return ival{}, err
		}
		if a.int("axis", 1) != 1 {
			return ival{}, fmt.Errorf("Flatten with axis %d: only axis 1 is supported", a.int("axis", 1))
		}
		return im.flatten(x), nil
	case "Reshape":
		x, err := im.in(n, 0)
		if err != nil {
			return ival{}, err
		}
		shape, err := im.ints(n, 1)
		if err != nil {
			return ival{}, err
		}
		if len(shape) == 2 && (shape[0] == 0 || shape[0] == -1 || shape[0] == 1) && (shape[1] == -1 || int(shape[1]) == x.t.Shape().Size()) {
			return im.flatten(x), nil
		}
		if x.layout != plain {
			return ival{}, fmt.Errorf("Reshape of an image to %v: only to (N, -1) is supported", shape)
		}
		if len(shape) < 2 {
			return ival{}, fmt.Errorf("Reshape to %v: want (N, ...)", shape)
		}
		var target []int
		for i, d := range shape[1:] {
			if d == 0 && i < len(x.t.Shape()) {
				d = int64(x.t.Shape()[i])
			}
			if d < 1 || d > 1<<31 {
				return ival{}, fmt.Errorf("Reshape to %v: only fixed positive sizes besides the batch", shape)
			}
			target = append(target, int(d))
		}
		return ival{t: graph.Apply(&graph.Reshape{TargetShape: target}, x.t)}, nil
	case "Transpose":
		x, err := im.in(n, 0)
		if err != nil {
			return ival{}, err
		}
		perm := a.ints("perm")
		switch {
		case x.layout == plain && len(x.t.Shape()) == 3 && slices.Equal(perm, []int64{0, 3, 1, 2}):
			return ival{t: x.t, layout: nchw, nonNeg: x.nonNeg}, nil // already channels-last
		case x.layout == nchw && slices.Equal(perm, []int64{0, 2, 3, 1}):
			return ival{t: x.t, layout: plain, nonNeg: x.nonNeg}, nil
		case x.layout == plain && len(perm) > 0 && perm[0] == 0:
			dims := make([]int, len(perm)-1)
			for i, p := range perm[1:] {
				dims[i] = int(p)
			}
			return ival{t: graph.Apply(&graph.Permute{Dims: dims}, x.t)}, nil
		}
		return ival{}, fmt.Errorf("Transpose %v is not supported here", perm)
	case "Add", "Sub", "Mul", "Div", "Max", "Min", "Mean", "Sum":
		if v, ok, err := im.biasAdd(n); ok || err != nil {
			return v, err
		}
		return im.merge(n)
	case "Concat":
		xs, l, _, err := im.inputs(n)
		if err != nil {
			return ival{}, err
		}
		axis := a.int("axis", 1)
		rank := int64(len(xs[0].Shape()) + 1)
		if axis < 0 {
			axis += rank
		}
		if axis < 0 || axis >= rank || (l == nchw && rank != 4) {
			return ival{}, fmt.Errorf("Concat axis %d of rank-%d tensors", a.int("axis", 1), rank)
		}
		if l == nchw {
			axis = [...]int64{0, 3, 1, 2}[axis]
		}
		if axis == 0 {
			return ival{}, fmt.Errorf("Concat along the batch axis")
		}
		return ival{t: graph.Apply(&graph.Concatenate{Axis: int(axis)}, xs...), layout: l}, nil
	case "Resize":
		return im.resize(n, a)
	case "LayerNormalization":
		x, err := im.in(n, 0)
		if err != nil {
			return ival{}, err
		}
		if x.layout != plain || (a.int("axis", -1) != -1 && a.int("axis", -1) != int64(len(x.t.Shape()))) {
			return ival{}, fmt.Errorf("LayerNormalization over axis %d: only the last axis of a channels-last tensor", a.int("axis", -1))
		}
		l := &graph.LayerNormalization{Epsilon: a.float("epsilon", 1e-5)}
		for i, w := range []string{"gamma", "beta"} {
			v, _, err := im.floats(n, i+1)
			if err != nil {
				return ival{}, err
			}
			if sh := x.t.Shape(); v == nil || len(v) != sh[len(sh)-1] {
				return ival{}, fmt.Errorf("LayerNormalization needs a scale and a bias of %d values", sh[len(sh)-1])
			}
			im.weight(l, w, v)
		}
		return ival{t: graph.Apply(l, x.t)}, nil
	case "PRelu":
		return im.prelu(n)
	case "Slice":
		x, err := im.in(n, 0)
		if err != nil {
			return ival{}, err
		}
		if x, err = im.image(x); err != nil {
			return ival{}, err
		}
		starts, err := im.ints(n, 1)
		if err != nil {
			return ival{}, err
		}
		ends, err := im.ints(n, 2)
		if err != nil {
			return ival{}, err
		}
		axes, err := im.ints(n, 3)
		if err != nil || len(n.Input) > 4 || !slices.Equal(axes, []int64{2, 3}) || len(starts) != 2 || len(ends) != 2 {
			return ival{}, fmt.Errorf("Slice: only of H and W (axes [2 3], steps 1) of an image")
		}
		sh := x.t.Shape()
		c := [2][2]int{{int(starts[0]), sh[0] - int(ends[0])}, {int(starts[1]), sh[1] - int(ends[1])}}
		if c[0][0] < 0 || c[0][1] < 0 || c[1][0] < 0 || c[1][1] < 0 {
			return ival{}, fmt.Errorf("Slice %v:%v of %v: only non-negative crops within the image", starts, ends, sh)
		}
		return ival{t: graph.Apply(&graph.Cropping2D{Cropping: c}, x.t), layout: nchw, nonNeg: x.nonNeg}, nil
	case "Pad":
		x, err := im.in(n, 0)
		if err != nil {
			return ival{}, err
		}
		if m := a.str("mode", "constant"); m != "constant" {
			return ival{}, fmt.Errorf("Pad mode %q: only constant zeros", m)
		}
		if v, _, err := im.floats(n, 2); err != nil || (len(v) > 0 && v[0] != 0) {
			return ival{}, fmt.Errorf("Pad with a value other than 0")
		}
		p, err := im.ints(n, 1)
		if err != nil {
			return ival{}, err
		}
		if x, err = im.image(x); err != nil {
			return ival{}, err
		}
		if len(p) != 8 || p[0] != 0 || p[1] != 0 || p[4] != 0 || p[5] != 0 {
			return ival{}, fmt.Errorf("Pad %v: only over H and W of (N, C, H, W)", p)
		}
		l := &graph.ZeroPadding2D{Padding: [2][2]int{{int(p[2]), int(p[6])}, {int(p[3]), int(p[7])}}}
		return ival{t: graph.Apply(l, x.t), layout: nchw, nonNeg: x.nonNeg}, nil
	}
	return ival{}, fmt.Errorf("operator %s is not supported", n.GetOpType())
}

// flatten flattens x in ONNX's order (C, H, W for an image).
func (im *onnxImporter) flatten(x ival) ival {
	switch x.layout {
	case pooled:
		return ival{t: x.t, nonNeg: x.nonNeg}
	case nchw:
		return ival{t: graph.Apply(&graph.Flatten{}, graph.Apply(&graph.Permute{Dims: []int{3, 1, 2}}, x.t)), nonNeg: x.nonNeg}
	}
	if len(x.t.Shape()) == 1 {
		return x
	}
	return ival{t: graph.Apply(&graph.Flatten{}, x.t), nonNeg: x.nonNeg}
}

// padding maps ONNX's pads (begin H, begin W, end H, end W) to Keras's
// padding: "valid", "same", or "valid" after a ZeroPadding2D (ok says if
// that is allowed).
func (im *onnxImporter) padding(x ival, a attrs, k, s, d [2]int, zeroPadOK bool) (ival, string, error) {
	switch ap := a.str("auto_pad", "NOTSET"); ap {
	case "VALID":
		return x, "valid", nil
	case "SAME_UPPER":
		return x, "same", nil
	case "NOTSET":
	default:
		return x, "", fmt.Errorf("auto_pad %s is not supported", ap)
	}
	p := a.ints("pads", 0, 0, 0, 0)
	if len(p) != 4 {
		return x, "", fmt.Errorf("pads %v: want four", p)
	}
	if slices.Equal(p, []int64{0, 0, 0, 0}) {
		return x, "valid", nil
	}
	sh := x.t.Shape()
	if slices.Equal(p, pads("same", [2]int{sh[0], sh[1]}, k, s, d)) {
		return x, "same", nil
	}
	if !zeroPadOK {
		return x, "", fmt.Errorf("pads %v are neither \"valid\" nor Keras's \"same\"", p)
	}
	l := &graph.ZeroPadding2D{Padding: [2][2]int{{int(p[0]), int(p[2])}, {int(p[1]), int(p[3])}}}
	return ival{t: graph.Apply(l, x.t), layout: nchw, nonNeg: x.nonNeg}, "valid", nil
}

// pair returns two positive spatial values (def for none).
func pair(v []int64, def int) ([2]int, error) {
	switch {
	case len(v) == 0:
		return [2]int{def, def}, nil
	case len(v) == 2 && v[0] >= 1 && v[1] >= 1 && v[0] <= 1<<20 && v[1] <= 1<<20:
		return [2]int{int(v[0]), int(v[1])}, nil
	}
	return [2]int{}, fmt.Errorf("%v: want two positive spatial values", v)
}

// convOperands returns a Conv's or ConvTranspose's image input, its 4-D
// weight and dimensions, and its bias (nil when absent).
func (im *onnxImporter) convOperands(n *onnx.NodeProto) (x ival, w []float32, dims []int64, b []float32, err error) {
	if x, err = im.in(n, 0); err != nil {
		return
	}
	if x, err = im.image(x); err != nil {
		return
	}
	if w, dims, err = im.floats(n, 1); err != nil {
		return
	}
	if len(dims) != 4 {
		err = fmt.Errorf("%s weight of dimensions %v: only 2-D convolutions", n.GetOpType(), dims)
		return
	}
	b, _, err = im.floats(n, 2)
	return
}

func (im *onnxImporter) conv(n *onnx.NodeProto, a attrs) (ival, error) {
	x, w, dims, b, err := im.convOperands(n)
	if err != nil {
		return ival{}, err
	}
	cout, cg, kh, kw := int(dims[0]), int(dims[1]), int(dims[2]), int(dims[3])
	k := [2]int{kh, kw}
	s, err := pair(a.ints("strides"), 1)
	if err != nil {
		return ival{}, err
	}
	d, err := pair(a.ints("dilations"), 1)
	if err != nil {
		return ival{}, err
	}
	group := int(a.int("group", 1))
	cin := x.t.Shape()[2]
	if cg*group != cin || cout%group != 0 {
		return ival{}, fmt.Errorf("weight %v and group %d do not fit %d input channels", dims, group, cin)
	}
	x, padding, err := im.padding(x, a, k, s, d, true)
	if err != nil {
		return ival{}, err
	}
	if group == cin && cg == 1 && group > 1 && d == [2]int{1, 1} {
		dm := cout / cin
		l := &graph.DepthwiseConv2D{KernelSize: k, Strides: s, Padding: padding, DepthMultiplier: dm, NoBias: b == nil}
		// ONNX (c*dm+m, 1, kh, kw) -> Keras (kh, kw, c, dm): the same as
		// the (kh, kw, 1, c*dm) reorder.
		im.weight(l, "depthwise_kernel", kerasKernel(w, cout, 1, kh, kw))
		if b != nil {
			im.weight(l, "bias", b)
		}
		return ival{t: graph.Apply(l, x.t), layout: nchw, fuse: l}, nil
	}
	l := &graph.Conv2D{Filters: cout, KernelSize: k, Strides: s, DilationRate: d, Groups: group, Padding: padding, NoBias: b == nil}
	im.weight(l, "kernel", kerasKernel(w, cout, cg, kh, kw))
	if b != nil {
		im.weight(l, "bias", b)
	}
	return ival{t: graph.Apply(l, x.t), layout: nchw, fuse: l}, nil
}

// convTranspose imports ONNX's ConvTranspose (2-D, one group, no dilation)
// as Keras's Conv2DTranspose with "valid" padding and output_padding,
// whose output is the full (in-1)*stride+kernel+output_padding, then a
// Cropping2D of the pads (PyTorch's padding), which is exact.
func (im *onnxImporter) convTranspose(n *onnx.NodeProto, a attrs) (ival, error) {
	x, w, dims, b, err := im.convOperands(n)
	if err != nil {
		return ival{}, err
	}
	cin, cout, kh, kw := int(dims[0]), int(dims[1]), int(dims[2]), int(dims[3])
	if g := a.int("group", 1); g != 1 {
		return ival{}, fmt.Errorf("ConvTranspose with group %d: only one group is supported", g)
	}
	if d, err := pair(a.ints("dilations"), 1); err != nil || d != [2]int{1, 1} {
		return ival{}, fmt.Errorf("ConvTranspose with dilations %v: only 1 is supported", a.ints("dilations"))
	}
	if ap := a.str("auto_pad", "NOTSET"); ap != "NOTSET" && ap != "VALID" {
		return ival{}, fmt.Errorf("ConvTranspose with auto_pad %s: only explicit pads are supported", ap)
	}
	if len(a.ints("output_shape")) > 0 {
		return ival{}, fmt.Errorf("ConvTranspose with output_shape: only pads and output_padding are supported")
	}
	if got := x.t.Shape()[2]; got != cin {
		return ival{}, fmt.Errorf("ConvTranspose weight %v for %d input channels", dims, got)
	}
	k := [2]int{kh, kw}
	s, err := pair(a.ints("strides"), 1)
	if err != nil {
		return ival{}, err
	}
	op := a.ints("output_padding", 0, 0)
	p := a.ints("pads", 0, 0, 0, 0)
	if a.str("auto_pad", "NOTSET") == "VALID" {
		p = []int64{0, 0, 0, 0}
	}
	if len(op) != 2 || len(p) != 4 {
		return ival{}, fmt.Errorf("ConvTranspose pads %v, output_padding %v: want four and two", p, op)
	}
	sh := x.t.Shape()
	for i := range 2 {
		full := int64(sh[i]-1)*int64(s[i]) + int64(k[i]) + op[i]
		if op[i] < 0 || op[i] >= int64(s[i]) || p[i] < 0 || p[i+2] < 0 || p[i]+p[i+2] >= full {
			return ival{}, fmt.Errorf("ConvTranspose pads %v, output_padding %v for strides %v and a %dx%d input", p, op, s, sh[0], sh[1])
		}
	}
	l := &graph.Conv2DTranspose{Filters: cout, KernelSize: k, Strides: s, Padding: "valid",
		OutputPadding: &[2]int{int(op[0]), int(op[1])}, NoBias: b == nil}
	im.weight(l, "kernel", kerasKernel(w, cin, cout, kh, kw))
	if b != nil {
		im.weight(l, "bias", b)
	}
	y := ival{t: graph.Apply(l, x.t), layout: nchw, fuse: l}
	if slices.Equal(p, []int64{0, 0, 0, 0}) {
		return y, nil
	}
	crop := &graph.Cropping2D{Cropping: [2][2]int{{int(p[0]), int(p[2])}, {int(p[1]), int(p[3])}}}
	return ival{t: graph.Apply(crop, y.t), layout: nchw}, nil
}

// kerasKernel reorders ONNX's (b, a, kh, kw) to Keras's (kh, kw, a, b).
func kerasKernel(w []float32, b, a, kh, kw int) []float32 {
	dst := make([]float32, len(w))
	for o := 0; o < b; o++ {
		for c := 0; c < a; c++ {
			for i := 0; i < kh; i++ {
				for j := 0; j < kw; j++ {
					dst[((i*kw+j)*a+c)*b+o] = w[((o*a+c)*kh+i)*kw+j]
				}
			}
		}
	}
	return dst
}

// biasAdd folds Add(a Dense without bias, a constant vector of its units)
// into the Dense's bias when the Dense has no other reader: PyTorch
// exports Linear so (MatMul, then Add) in some graphs.
func (im *onnxImporter) biasAdd(n *onnx.NodeProto) (ival, bool, error) {
	if n.GetOpType() != "Add" || len(n.Input) != 2 {
		return ival{}, false, nil
	}
	for k := range 2 {
		t, ok := im.consts[n.Input[k]]
		x, computed := im.vals[n.Input[1-k]]
		if !ok || !computed {
			continue
		}
		d, isDense := x.fuse.(*graph.Dense)
		if !isDense || !d.NoBias || im.uses[n.Input[1-k]] != 1 || len(t.Dims) != 1 || t.Dims[0] != int64(d.Units) {
			return ival{}, false, nil
		}
		b, err := onnx.TensorFloats(t)
		if err != nil {
			return ival{}, false, err
		}
		d.NoBias = false
		im.weight(d, "bias", b)
		return ival{t: x.t, fuse: d}, true, nil
	}
	return ival{}, false, nil
}

// gemm imports Gemm (Y = X W + b, W possibly transposed) and MatMul by a
// constant matrix as Dense.
func (im *onnxImporter) gemm(n *onnx.NodeProto, a attrs) (ival, error) {
	x, err := im.in(n, 0)
	if err != nil {
		return ival{}, err
	}
	if x.layout == pooled {
		x = ival{t: x.t}
	}
	if x.layout != plain || len(x.t.Shape()) != 1 {
		return ival{}, fmt.Errorf("Gemm of a tensor that is not (N, K)")
	}
	if a.float("alpha", 1) != 1 || a.float("beta", 1) != 1 || a.int("transA", 0) != 0 {
		return ival{}, fmt.Errorf("Gemm with alpha, beta or transA: only Y = X W + b")
	}
	w, dims, err := im.floats(n, 1)
	if err != nil {
		return ival{}, err
	}
	if len(dims) != 2 {
		return ival{}, fmt.Errorf("Gemm weight of dimensions %v", dims)
	}
	kIn, units := int(dims[0]), int(dims[1])
	if a.int("transB", 0) == 1 {
		units, kIn = kIn, units
		t := make([]float32, len(w))
		for o := 0; o < units; o++ {
			for i := 0; i < kIn; i++ {
				t[i*units+o] = w[o*kIn+i]
			}
		}
		w = t
	}
	if kIn != x.t.Shape()[0] {
		return ival{}, fmt.Errorf("Gemm weight %v on %d inputs", dims, x.t.Shape()[0])
	}
	b, bdims, err := im.floats(n, 2)
	if err != nil {
		return ival{}, err
	}
	if b != nil && len(b) != units {
		return ival{}, fmt.Errorf("Gemm bias of dimensions %v for %d units: only a bias per unit", bdims, units)
	}
	l := &graph.Dense{Units: units, NoBias: b == nil}
	im.weight(l, "kernel", w)
	if b != nil {
		im.weight(l, "bias", b)
	}
	return ival{t: graph.Apply(l, x.t), fuse: l}, nil
}

func (im *onnxImporter) pool(n *onnx.NodeProto, a attrs) (ival, error) {
	x, err := im.in(n, 0)
	if err != nil {
		return ival{}, err
	}
	if x, err = im.image(x); err != nil {
		return ival{}, err
	}
	k, err := pair(a.ints("kernel_shape"), 0)
	if err != nil || k[0] == 0 {
		return ival{}, fmt.Errorf("kernel_shape %v: want two sizes", a.ints("kernel_shape"))
	}
	s, err := pair(a.ints("strides"), 1)
	if err != nil {
		return ival{}, err
	}
	if d, _ := pair(a.ints("dilations"), 1); d != [2]int{1, 1} || a.int("ceil_mode", 0) != 0 {
		return ival{}, fmt.Errorf("dilated or ceil_mode pooling is not supported")
	}
	isMax := n.GetOpType() == "MaxPool"
	if len(n.Output) > 1 && n.Output[1] != "" {
		return ival{}, fmt.Errorf("MaxPool's indices output is not supported")
	}
	// Zeros before a MaxPool of non-negative values are what its -inf
	// padding gives.
	x, padding, err := im.padding(x, a, k, s, [2]int{1, 1}, isMax && x.nonNeg)
	if err != nil {
		return ival{}, err
	}
	if isMax {
		return ival{t: graph.Apply(&graph.MaxPooling2D{PoolSize: k, Strides: s, Padding: padding}, x.t), layout: nchw, nonNeg: x.nonNeg}, nil
	}
	if padding == "same" && a.int("count_include_pad", 0) != 0 {
		return ival{}, fmt.Errorf("AveragePool counting the padding: Keras averages the real pixels")
	}
	return ival{t: graph.Apply(&graph.AveragePooling2D{PoolSize: k, Strides: s, Padding: padding}, x.t), layout: nchw, nonNeg: x.nonNeg}, nil
}

// inputs returns n's inputs, all held in one layout (images permuted to
// channels-last where some are), whether all are non-negative.
func (im *onnxImporter) inputs(n *onnx.NodeProto) ([]*graph.Tensor, layout, bool, error) {
	if len(n.Input) == 0 {
		return nil, 0, false, fmt.Errorf("has no inputs")
	}
	xs := make([]ival, len(n.Input))
	anyNCHW, nonNeg := false, true
	for i := range n.Input {
		x, err := im.in(n, i)
		if err != nil {
			return nil, 0, false, err
		}
		xs[i], anyNCHW, nonNeg = x, anyNCHW || x.layout == nchw, nonNeg && x.nonNeg
	}
	ts := make([]*graph.Tensor, len(xs))
	for i, x := range xs {
		if anyNCHW {
			var err error
			if x, err = im.image(x); err != nil {
				return nil, 0, false, err
			}
		}
		if x.layout != xs[0].layout && !anyNCHW {
			return nil, 0, false, fmt.Errorf("tensors held in different layouts")
		}
		ts[i] = x.t
	}
	l := xs[0].layout
	if anyNCHW {
		l = nchw
	}
	return ts, l, nonNeg, nil
}

// scale imports Mul, Add, Sub or Div of a tensor by a scalar constant.
func (im *onnxImporter) scale(n *onnx.NodeProto) (ival, bool, error) {
	if len(n.Input) != 2 {
		return ival{}, false, nil
	}
	k := -1
	for i, in := range n.Input {
		if t, ok := im.consts[in]; ok && t.GetDataType() == int32(onnx.TensorProto_FLOAT) {
			if c, err := onnx.NumElements(t.Dims, 2); err == nil && c == 1 {
				k = i
			}
		}
	}
	if k < 0 {
		return ival{}, false, nil
	}
	c, _, err := im.floats(n, k)
	if err != nil {
		return ival{}, true, err
	}
	x, err := im.in(n, 1-k)
	if err != nil {
		return ival{}, true, err
	}
	v := float64(c[0])
	var r *graph.Rescaling
	switch op := n.GetOpType(); {
	case op == "Mul":
		r = &graph.Rescaling{Scale: v}
	case op == "Add":
		r = &graph.Rescaling{Scale: 1, Offset: v}
	case op == "Sub" && k == 1:
		r = &graph.Rescaling{Scale: 1, Offset: -v}
	case op == "Sub":
		r = &graph.Rescaling{Scale: -1, Offset: v}
	case op == "Div" && k == 1:
		r = &graph.Rescaling{Scale: 1 / v}
	default:
		return ival{}, true, fmt.Errorf("%s of a constant by a tensor is not supported", op)
	}
	return ival{t: graph.Apply(r, x.t), layout: x.layout, nonNeg: x.nonNeg && r.Scale > 0 && r.Offset >= 0}, true, nil
}

func (im *onnxImporter) merge(n *onnx.NodeProto) (ival, error) {
	if v, ok, err := im.scale(n); ok {
		return v, err
	}
	if n.GetOpType() == "Div" {
		return ival{}, fmt.Errorf("Div of two tensors is not supported")
	}
	xs, l, nonNeg, err := im.inputs(n)
	if err != nil {
		return ival{}, err
	}
	for _, x := range xs[1:] {
		if !x.Shape().Equal(xs[0].Shape()) {
			return ival{}, fmt.Errorf("%s of shapes %v and %v: broadcasting is not supported", n.GetOpType(), xs[0].Shape(), x.Shape())
		}
	}
	var layer graph.Layer
	switch n.GetOpType() {
	case "Add", "Sum":
		layer = &graph.Add{}
	case "Sub":
		layer, nonNeg = &graph.Subtract{}, false
	case "Mul":
		layer = &graph.Multiply{}
	case "Max":
		layer = &graph.Maximum{}
	case "Min":
		layer = &graph.Minimum{}
	case "Mean":
		layer = &graph.Average{}
	}
	if len(xs) == 1 {
		return ival{t: xs[0], layout: l, nonNeg: nonNeg}, nil
	}
	return ival{t: graph.Apply(layer, xs...), layout: l, nonNeg: nonNeg}, nil
}

func (im *onnxImporter) resize(n *onnx.NodeProto, a attrs) (ival, error) {
	x, err := im.in(n, 0)
	if err != nil {
		return ival{}, err
	}
	if x, err = im.image(x); err != nil {
		return ival{}, err
	}
	sc, _, err := im.floats(n, 2)
	if err != nil {
		return ival{}, err
	}
	if len(n.Input) > 3 || len(sc) != 4 || sc[0] != 1 || sc[1] != 1 || sc[2] != float32(int(sc[2])) || sc[3] != float32(int(sc[3])) {
		return ival{}, fmt.Errorf("Resize: only by whole scales (1, 1, sh, sw) given as scales")
	}
	interp := ""
	switch mode, ct := a.str("mode", "nearest"), a.str("coordinate_transformation_mode", "half_pixel"); {
	case mode == "nearest" && ct == "asymmetric" && a.str("nearest_mode", "round_prefer_floor") == "floor":
		interp = "nearest"
	case mode == "linear" && (ct == "half_pixel" || ct == "pytorch_half_pixel"):
		interp = "bilinear"
	default:
		return ival{}, fmt.Errorf("Resize mode %q with %q coordinates: only Keras's nearest (asymmetric, floor) and bilinear (half_pixel)", mode, ct)
	}
	l := &graph.UpSampling2D{Size: [2]int{int(sc[2]), int(sc[3])}, Interpolation: interp}
	return ival{t: graph.Apply(l, x.t), layout: nchw, nonNeg: x.nonNeg}, nil
}

func (im *onnxImporter) prelu(n *onnx.NodeProto) (ival, error) {
	x, err := im.in(n, 0)
	if err != nil {
		return ival{}, err
	}
	if x.layout == pooled {
		x = ival{t: x.t}
	}
	v, dims, err := im.floats(n, 1)
	if err != nil {
		return ival{}, err
	}
	sh := x.t.Shape()
	// The slope's dimensions, broadcast from the right over ONNX's
	// per-sample dimensions, then in Capa's order.
	d := make([]int, len(sh))
	if len(dims) > len(sh) {
		return ival{}, fmt.Errorf("PRelu slope of dimensions %v on a tensor of rank %d", dims, len(sh)+1)
	}
	for i := range d {
		d[i] = 1
	}
	for i, k := range dims {
		d[len(sh)-len(dims)+i] = int(k)
	}
	if x.layout == nchw { // (C, H, W) -> (H, W, C)
		d = []int{d[1], d[2], d[0]}
		if d[0] != 1 || d[1] != 1 {
			return ival{}, fmt.Errorf("PRelu of an image: only one slope per channel (or one in all)")
		}
	}
	var shared []int
	full := make([]int, len(sh))
	for i := range sh {
		switch d[i] {
		case sh[i]:
			full[i] = sh[i]
		case 1:
			shared = append(shared, i+1)
			full[i] = 1
		default:
			return ival{}, fmt.Errorf("PRelu slope of dimensions %v does not broadcast over %v", dims, sh)
		}
	}
	l := &graph.PReLU{SharedAxes: shared}
	if len(v) != graph.Shape(full).Size() {
		return ival{}, fmt.Errorf("PRelu slope of %d values where Capa's PReLU has %d (it shares slopes along whole axes)", len(v), graph.Shape(full).Size())
	}
	im.weight(l, "alpha", v)
	return ival{t: graph.Apply(l, x.t), layout: x.layout}, nil
}
