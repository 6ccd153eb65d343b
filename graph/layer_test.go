package graph

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/capa-ml/capa/internal/gradcheck"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Gradient checks of every layer through its own Call: the layer is built in
// a model, then its input and its trainable weights become the inputs of a
// gradcheck expression (the weights' nodes are preset in the Ctx, so Call
// uses them), and the symbolic gradients are compared with finite
// differences.

// ltCase is one layer gradient check.
type ltCase struct {
	name     string
	layer    func() Layer
	in       Shape // per-sample input shape
	batch    int
	training bool
	// distinct inputs: a shuffled grid of well separated values (so max
	// pooling has no near ties the finite differences could cross).
	distinct bool
	opt      gradcheck.Options
}

// ltDistinct returns a tensor of the given shape holding a shuffled grid of
// values spaced 2/size apart in [-1, 1).
func ltDistinct(seed uint64, shape ...int) *tensor.Dense {
	t := tensor.New(tensor.WithShape(shape...), tensor.Of(tensor.Float32))
	d := t.Data().([]float32)
	rng := rand.New(rand.NewPCG(seed, 3))
	for i, j := range rng.Perm(len(d)) {
		d[i] = float32(-1 + 2*float64(j)/float64(len(d)))
	}
	return t
}

// ltGradCheck builds l in a model on input shape c.in and checks the
// gradients of its Call with respect to its input and its trainable weights.
func ltGradCheck(t *testing.T, c ltCase) {
	t.Helper()
	l := c.layer()
	m, err := SequentialSeed(3, Input(c.in...), l)
	if err != nil {
		t.Fatalf("%s: build: %v", c.name, err)
	}
	var params []*Param
	for _, p := range ParamsOf(l) {
		if p.Trainable {
			params = append(params, p)
		}
	}
	var x *tensor.Dense
	if c.distinct {
		x = ltDistinct(11, c.in.WithBatch(c.batch)...)
	} else {
		x = gradcheck.Random(11, -1, 1, c.in.WithBatch(c.batch)...)
	}
	inputs := []*tensor.Dense{x}
	for i, p := range params {
		// Random weights (biases and beta included, so their gradients are
		// exercised away from the zero initialization).
		inputs = append(inputs, gradcheck.Random(uint64(20+i), -0.6, 0.6, p.Shape()...))
	}
	want := m.LayerOutputShape(0).WithBatch(c.batch)
	build := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
		ctx := NewCtx(g, c.training)
		for i, p := range params {
			ctx.nodes[p] = in[i+1]
		}
		y, err := l.Call(ctx, in[0])
		if err != nil {
			return nil, err
		}
		if !y.Shape().Eq(tensor.Shape(want)) {
			return nil, fmt.Errorf("Call output shape %v, Build said %v", y.Shape(), want)
		}
		return y, nil
	}
	res, err := gradcheck.Check(build, inputs, c.opt)
	if err != nil {
		t.Errorf("%s: %v", c.name, err)
		return
	}
	t.Logf("%s: rel err %.2g (norm %.3g)", c.name, res.RelErr, res.Norm)
}

func TestLayerGradConv2D(t *testing.T) {
	cases := []ltCase{
		{name: "valid s1", in: Shape{5, 5, 2}, layer: func() Layer {
			return &Conv2D{Filters: 3, KernelSize: [2]int{3, 3}}
		}},
		{name: "same s1", in: Shape{5, 4, 2}, layer: func() Layer {
			return &Conv2D{Filters: 2, KernelSize: [2]int{3, 3}, Padding: "same"}
		}},
		{name: "valid s2", in: Shape{7, 6, 1}, layer: func() Layer {
			return &Conv2D{Filters: 2, KernelSize: [2]int{3, 2}, Strides: [2]int{2, 2}}
		}},
		{name: "same s2", in: Shape{7, 6, 2}, layer: func() Layer {
			return &Conv2D{Filters: 2, KernelSize: [2]int{3, 3}, Strides: [2]int{2, 2}, Padding: "same"}
		}},
		{name: "same even kernel", in: Shape{5, 6, 2}, layer: func() Layer {
			return &Conv2D{Filters: 2, KernelSize: [2]int{2, 4}, Padding: "same"}
		}},
		{name: "same even kernel s2", in: Shape{6, 5, 1}, layer: func() Layer {
			return &Conv2D{Filters: 2, KernelSize: [2]int{4, 2}, Strides: [2]int{2, 2}, Padding: "same"}
		}},
		{name: "no bias", in: Shape{4, 4, 2}, layer: func() Layer {
			return &Conv2D{Filters: 2, KernelSize: [2]int{2, 2}, NoBias: true}
		}},
		{name: "relu", in: Shape{5, 5, 1}, layer: func() Layer {
			return &Conv2D{Filters: 2, KernelSize: [2]int{3, 3}, Activation: "relu"}
		}},
		{name: "tanh same", in: Shape{4, 4, 2}, layer: func() Layer {
			return &Conv2D{Filters: 2, KernelSize: [2]int{3, 3}, Activation: "tanh", Padding: "same"}
		}},
	}
	for _, c := range cases {
		c.batch = 2
		c.name = "Conv2D " + c.name
		ltGradCheck(t, c)
	}
	// No bias means no bias weight.
	m, err := Sequential(Input(4, 4, 1), &Conv2D{Filters: 2, KernelSize: [2]int{2, 2}, NoBias: true})
	if err != nil {
		t.Fatal(err)
	}
	if ps := m.Params(); len(ps) != 1 || ps[0].Name != "conv2d/kernel" {
		t.Errorf("Conv2D NoBias weights: %v", ltNames(ps))
	}
}

func ltNames(ps []*Param) []string {
	var out []string
	for _, p := range ps {
		out = append(out, fmt.Sprintf("%s%v", p.Name, p.Shape()))
	}
	return out
}

func TestLayerGradDense(t *testing.T) {
	for _, act := range []string{"relu", "sigmoid", "tanh", "softmax", "linear", ""} {
		ltGradCheck(t, ltCase{
			name: "Dense " + act, in: Shape{5}, batch: 3,
			layer: func() Layer { return &Dense{Units: 4, Activation: act} },
			// A small step: with 1e-2 a relu input crosses its kink.
			opt: gradcheck.Options{Eps: 1e-3},
		})
	}
	ltGradCheck(t, ltCase{
		name: "Dense no bias", in: Shape{3}, batch: 2,
		layer: func() Layer { return &Dense{Units: 2, NoBias: true} },
	})
}

func TestLayerGradPooling(t *testing.T) {
	for _, pad := range []string{"valid", "same", ""} {
		for _, s := range []struct {
			in      Shape
			pool    [2]int
			strides [2]int
		}{
			{Shape{4, 4, 2}, [2]int{2, 2}, [2]int{}},
			{Shape{5, 5, 1}, [2]int{2, 2}, [2]int{}}, // odd map: "same" pads
			{Shape{5, 6, 2}, [2]int{3, 2}, [2]int{1, 2}},
		} {
			ltGradCheck(t, ltCase{
				name: fmt.Sprintf("MaxPooling2D %q %v", pad, s), in: s.in, batch: 2, distinct: true,
				layer: func() Layer { return &MaxPooling2D{PoolSize: s.pool, Strides: s.strides, Padding: pad} },
			})
			ltGradCheck(t, ltCase{
				name: fmt.Sprintf("AveragePooling2D %q %v", pad, s), in: s.in, batch: 2,
				layer: func() Layer { return &AveragePooling2D{PoolSize: s.pool, Strides: s.strides, Padding: pad} },
			})
		}
	}
	ltGradCheck(t, ltCase{
		name: "GlobalAveragePooling2D", in: Shape{3, 4, 2}, batch: 2,
		layer: func() Layer { return &GlobalAveragePooling2D{} },
	})
}

func TestLayerGradFlattenActivation(t *testing.T) {
	ltGradCheck(t, ltCase{name: "Flatten", in: Shape{2, 3, 2}, batch: 2,
		layer: func() Layer { return &Flatten{} }})
	ltGradCheck(t, ltCase{name: "Flatten of a vector", in: Shape{4}, batch: 2,
		layer: func() Layer { return &Flatten{} }})
	for _, act := range []string{"relu", "sigmoid", "tanh", "linear"} {
		ltGradCheck(t, ltCase{name: "Activation " + act, in: Shape{3, 2, 2}, batch: 2,
			layer: func() Layer { return &Activation{Activation: act} }})
	}
	ltGradCheck(t, ltCase{name: "Activation softmax", in: Shape{5}, batch: 3,
		layer: func() Layer { return &Activation{Activation: "softmax"} }})
}

func TestLayerGradBatchNormalization(t *testing.T) {
	for _, training := range []bool{true, false} {
		for _, in := range []Shape{{3, 3, 2}, {4}} {
			ltGradCheck(t, ltCase{
				name: fmt.Sprintf("BatchNormalization training=%v %v", training, in), in: in, batch: 3, training: training,
				layer: func() Layer {
					return &ltBNWithStats{BatchNormalization: BatchNormalization{}}
				},
			})
		}
	}
}

// ltBNWithStats is a BatchNormalization whose moving statistics are set to
// non-trivial values after Build, so the inference graph is exercised with
// a mean and variance other than 0 and 1.
type ltBNWithStats struct{ BatchNormalization }

func (l *ltBNWithStats) Build(in Shape, rng *rand.Rand) (Shape, error) {
	out, err := l.BatchNormalization.Build(in, rng)
	if err != nil {
		return nil, err
	}
	for i := range l.mean.Data() {
		l.mean.Data()[i] = 0.1 * float32(i+1)
		l.variance.Data()[i] = 0.5 + 0.25*float32(i)
	}
	return out, nil
}

// TestBatchNormalizationLayerStatistics checks the layer's momentum
// convention (Keras's: the weight of the old value) on one training run, and
// that the inference graph and a frozen layer leave the statistics alone.
func TestBatchNormalizationLayerStatistics(t *testing.T) {
	run := func(bn *BatchNormalization, training bool, x *tensor.Dense) []float32 {
		t.Helper()
		m, err := SequentialSeed(1, Input(4), bn)
		if err != nil {
			t.Fatal(err)
		}
		gr, err := m.Graph(3, training)
		if err != nil {
			t.Fatal(err)
		}
		r, err := NewRunner(gr)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if err := r.Run(x.Data().([]float32)); err != nil {
			t.Fatal(err)
		}
		return append([]float32(nil), r.Output()...)
	}
	x := gradcheck.Random(5, -2, 3, 3, 4)
	xd := x.Data().([]float32)
	bn := &BatchNormalization{}
	run(bn, true, x)
	if bn.Momentum != 0.99 || bn.Epsilon != 1e-3 {
		t.Errorf("defaults: momentum %v epsilon %v, want 0.99 and 0.001", bn.Momentum, bn.Epsilon)
	}
	for c := 0; c < 4; c++ {
		var mean, v float64
		for n := 0; n < 3; n++ {
			mean += float64(xd[n*4+c]) / 3
		}
		for n := 0; n < 3; n++ {
			d := float64(xd[n*4+c]) - mean
			v += d * d / 3
		}
		wantM, wantV := 0.01*mean, 0.99+0.01*v
		if got := float64(bn.mean.Data()[c]); math.Abs(got-wantM) > 1e-6 {
			t.Errorf("moving_mean[%d] = %v after one step, want %v", c, got, wantM)
		}
		if got := float64(bn.variance.Data()[c]); math.Abs(got-wantV) > 1e-6 {
			t.Errorf("moving_variance[%d] = %v after one step, want %v", c, got, wantV)
		}
	}
	// Inference leaves the statistics alone.
	bn2 := &BatchNormalization{}
	inf := run(bn2, false, x)
	if bn2.mean.Data()[0] != 0 || bn2.variance.Data()[0] != 1 {
		t.Errorf("inference changed the statistics: %v %v", bn2.mean.Data(), bn2.variance.Data())
	}
	// With mean 0 and variance 1, inference is x/sqrt(1+eps).
	for i, v := range inf {
		if want := float64(xd[i]) / math.Sqrt(1+1e-3); math.Abs(float64(v)-want) > 1e-5 {
			t.Fatalf("inference output[%d] = %v, want %v", i, v, want)
		}
	}
	// A frozen BatchNormalization in a training graph runs in inference mode.
	bn3 := &BatchNormalization{Base: Base{Frozen: true}}
	fr := run(bn3, true, x)
	for i := range fr {
		if fr[i] != inf[i] {
			t.Fatalf("frozen BatchNormalization in a training graph: output[%d] = %v, inference gives %v", i, fr[i], inf[i])
		}
	}
	if bn3.mean.Data()[0] != 0 || bn3.variance.Data()[0] != 1 {
		t.Errorf("frozen BatchNormalization changed its statistics: %v %v", bn3.mean.Data(), bn3.variance.Data())
	}
}

// TestDropoutLayer checks that Dropout is the identity at inference (the very
// node, no op added) and in training drops about Rate of the inputs, scales
// the rest by 1/(1-Rate), and has the gradient mask/(1-Rate).
func TestDropoutLayer(t *testing.T) {
	const rate = 0.3 // not 0.5: Gorgonia's own dropout gradient is dy/p
	l := &Dropout{Rate: rate}
	if _, err := SequentialSeed(4, Input(10, 10, 4), l); err != nil {
		t.Fatal(err)
	}
	g := G.NewGraph()
	x := G.NodeFromAny(g, gradcheck.Random(1, 0.5, 1.5, 5, 10, 10, 4), G.WithName("x"))
	y, err := l.Call(NewCtx(g, false), x)
	if err != nil {
		t.Fatal(err)
	}
	if y != x {
		t.Errorf("Dropout at inference is not the identity: got node %v", y)
	}

	g = G.NewGraph()
	xv := gradcheck.Random(1, 0.5, 1.5, 5, 10, 10, 4)
	x = G.NodeFromAny(g, xv, G.WithName("x"))
	if y, err = l.Call(NewCtx(g, true), x); err != nil {
		t.Fatal(err)
	}
	r := gradcheck.Random(2, -1, 1, 5, 10, 10, 4)
	loss := G.Must(G.Sum(G.Must(G.HadamardProd(y, G.NodeFromAny(g, r, G.WithName("r"))))))
	if _, err := G.Grad(loss, x); err != nil {
		t.Fatal(err)
	}
	var yv G.Value
	G.Read(y, &yv)
	vm := G.NewTapeMachine(g, G.BindDualValues(x))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	gv, err := x.Grad()
	if err != nil {
		t.Fatal(err)
	}
	xs, ys, gs, rs := xv.Data().([]float32), yv.Data().([]float32), gv.Data().([]float32), r.Data().([]float32)
	dropped := 0
	for i := range xs {
		if ys[i] == 0 {
			dropped++
			if gs[i] != 0 {
				t.Fatalf("dropped element %d has gradient %v", i, gs[i])
			}
			continue
		}
		if want := xs[i] / (1 - rate); math.Abs(float64(ys[i]-want)) > 1e-6 {
			t.Fatalf("kept element %d: %v, want x/(1-rate) = %v", i, ys[i], want)
		}
		if want := rs[i] / (1 - rate); math.Abs(float64(gs[i]-want)) > 1e-6 {
			t.Fatalf("gradient of kept element %d: %v, want r/(1-rate) = %v", i, gs[i], want)
		}
	}
	if frac := float64(dropped) / float64(len(xs)); math.Abs(frac-rate) > 0.05 {
		t.Errorf("dropped fraction %.3f, want about %v", frac, rate)
	}

	// Rate 0 is the identity in training too.
	l0 := &Dropout{}
	if _, err := Sequential(Input(3), l0); err != nil {
		t.Fatal(err)
	}
	if y, err := l0.Call(NewCtx(g, true), x); err != nil || y != x {
		t.Errorf("Dropout(0) in training: %v, %v; want the input node", y, err)
	}
}

// TestLayerOutputShapes checks each layer's Build shape against the node
// its Call produces, in training and inference graphs of batch 3.
func TestLayerOutputShapes(t *testing.T) {
	for _, c := range []struct {
		in    Shape
		layer Layer
		want  Shape
	}{
		{Shape{28, 28, 1}, &Conv2D{Filters: 32, KernelSize: [2]int{5, 5}}, Shape{24, 24, 32}},
		{Shape{28, 28, 1}, &Conv2D{Filters: 4, KernelSize: [2]int{5, 5}, Padding: "same"}, Shape{28, 28, 4}},
		{Shape{28, 28, 1}, &Conv2D{Filters: 4, KernelSize: [2]int{5, 5}, Strides: [2]int{2, 2}, Padding: "same"}, Shape{14, 14, 4}},
		{Shape{7, 7, 1}, &Conv2D{Filters: 4, KernelSize: [2]int{2, 2}, Strides: [2]int{2, 2}, Padding: "same"}, Shape{4, 4, 4}},
		{Shape{7, 7, 1}, &Conv2D{Filters: 4, KernelSize: [2]int{3, 3}, Strides: [2]int{2, 3}}, Shape{3, 2, 4}},
		{Shape{24, 24, 32}, &MaxPooling2D{PoolSize: [2]int{2, 2}}, Shape{12, 12, 32}},
		{Shape{5, 5, 2}, &MaxPooling2D{}, Shape{2, 2, 2}},
		{Shape{5, 5, 2}, &MaxPooling2D{Padding: "same"}, Shape{3, 3, 2}},
		{Shape{5, 5, 2}, &AveragePooling2D{PoolSize: [2]int{3, 3}, Strides: [2]int{1, 1}}, Shape{3, 3, 2}},
		{Shape{5, 5, 2}, &AveragePooling2D{Padding: "same"}, Shape{3, 3, 2}},
		{Shape{5, 4, 3}, &GlobalAveragePooling2D{}, Shape{3}},
		{Shape{4, 4, 64}, &Flatten{}, Shape{1024}},
		{Shape{6}, &Dense{Units: 3}, Shape{3}},
		{Shape{3, 3, 2}, &BatchNormalization{}, Shape{3, 3, 2}},
		{Shape{3, 3, 2}, &Dropout{Rate: 0.5}, Shape{3, 3, 2}},
		{Shape{3, 3, 2}, &Activation{Activation: "relu"}, Shape{3, 3, 2}},
	} {
		m, err := Sequential(Input(c.in...), c.layer)
		if err != nil {
			t.Errorf("%s on %v: %v", c.layer.Class(), c.in, err)
			continue
		}
		if got := m.OutputShape(); !got.Equal(c.want) {
			t.Errorf("%s on %v: output shape %v, want %v", c.layer.Class(), c.in, got, c.want)
		}
		for _, training := range []bool{false, true} {
			gr, err := m.Graph(3, training)
			if err != nil {
				t.Errorf("%s: graph: %v", c.layer.Class(), err)
				continue
			}
			if !gr.Out.Shape().Eq(tensor.Shape(c.want.WithBatch(3))) {
				t.Errorf("%s training=%v: graph output %v, want %v", c.layer.Class(), training, gr.Out.Shape(), c.want.WithBatch(3))
			}
		}
	}
}
