package graph_test

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/train"
)

// ftData is n samples of each input shape, with labels in [0, classes)
// that depend on the inputs (so training lowers the loss).
func ftData(seed uint64, n, classes int, shapes ...graph.Shape) graph.Data {
	rng := rand.New(rand.NewPCG(seed, 1))
	d := graph.Data{N: n, Y: make([]float32, n)}
	for _, s := range shapes {
		x := make([]float32, n*s.Size())
		for i := range x {
			x[i] = rng.Float32()
		}
		d.Inputs = append(d.Inputs, x)
	}
	for i := range d.Y {
		x := d.Inputs[0][i*shapes[0].Size() : (i+1)*shapes[0].Size()]
		var s float32
		for _, v := range x[:len(x)/2] {
			s += v
		}
		d.Y[i] = float32(int(s*float32(classes)/float32(len(x)/2)*0.999) % classes)
	}
	if len(shapes) == 1 {
		d.X, d.Inputs = d.Inputs[0], nil
	}
	return d
}

// residualModel is a small residual network: the tensor after the first
// convolution is consumed twice (by the second convolution and by Add).
func residualModel(t *testing.T) *graph.Model {
	t.Helper()
	in := graph.NewInput(8, 8, 1)
	x := graph.Apply(&graph.Conv2D{Filters: 4, KernelSize: [2]int{3, 3}, Padding: "same", Activation: "relu"}, in)
	y := graph.Apply(&graph.Conv2D{Filters: 4, KernelSize: [2]int{3, 3}, Padding: "same"}, x)
	y = graph.Apply(&graph.Add{}, x, y)
	y = graph.Apply(&graph.Activation{Activation: "relu"}, y)
	y = graph.Apply(&graph.GlobalAveragePooling2D{}, y)
	y = graph.Apply(&graph.Dense{Units: 3, Activation: "softmax"}, y)
	m, err := graph.Functional([]*graph.Tensor{in}, []*graph.Tensor{y})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// inceptionModel joins three branches with Concatenate.
func inceptionModel(t *testing.T) *graph.Model {
	t.Helper()
	in := graph.NewInput(8, 8, 2)
	a := graph.Apply(&graph.Conv2D{Filters: 3, KernelSize: [2]int{1, 1}, Activation: "relu"}, in)
	b := graph.Apply(&graph.Conv2D{Filters: 2, KernelSize: [2]int{3, 3}, Padding: "same", Activation: "relu"}, in)
	c := graph.Apply(&graph.MaxPooling2D{PoolSize: [2]int{3, 3}, Strides: [2]int{1, 1}, Padding: "same"}, in)
	y := graph.Apply(&graph.Concatenate{}, a, b, c)
	y = graph.Apply(&graph.GlobalMaxPooling2D{}, y)
	y = graph.Apply(&graph.Dense{Units: 3, Activation: "softmax"}, y)
	m, err := graph.Functional([]*graph.Tensor{in}, []*graph.Tensor{y})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// twoInputModel takes an image and a vector.
func twoInputModel(t *testing.T) *graph.Model {
	t.Helper()
	img := graph.NamedInput("image", 6, 6, 1)
	vec := graph.NamedInput("extra", 5)
	a := graph.Apply(&graph.Conv2D{Filters: 2, KernelSize: [2]int{3, 3}, Activation: "relu"}, img)
	a = graph.Apply(&graph.Flatten{}, a)
	b := graph.Apply(&graph.Dense{Units: 4, Activation: "relu"}, vec)
	y := graph.Apply(&graph.Concatenate{Axis: 1}, a, b)
	y = graph.Apply(&graph.Dense{Units: 3, Activation: "softmax"}, y)
	m, err := graph.Functional([]*graph.Tensor{img, vec}, []*graph.Tensor{y})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// sharedModel applies one Dense layer to two inputs (shared weights).
func sharedModel(t *testing.T) *graph.Model {
	t.Helper()
	p, q := graph.NewInput(6), graph.NewInput(6)
	shared := &graph.Dense{Units: 4, Activation: "tanh"}
	a, b := graph.Apply(shared, p), graph.Apply(shared, q)
	y := graph.Apply(&graph.Subtract{}, a, b)
	y = graph.Apply(&graph.Dense{Units: 3, Activation: "softmax"}, y)
	m, err := graph.Functional([]*graph.Tensor{p, q}, []*graph.Tensor{y})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestFunctionalTrainSaveLoad trains each model, saves it, loads it, and
// checks that predictions and evaluation are the same bits and that
// training on goes on identically from the loaded file.
func TestFunctionalTrainSaveLoad(t *testing.T) {
	cases := []struct {
		name   string
		model  func(*testing.T) *graph.Model
		shapes []graph.Shape
		params int
	}{
		// 3*3*1*4+4 + 3*3*4*4+4 + 4*3+3
		{"residual", residualModel, []graph.Shape{{8, 8, 1}}, 40 + 148 + 15},
		// 1*1*2*3+3 + 3*3*2*2+2 + 7*3+3
		{"inception", inceptionModel, []graph.Shape{{8, 8, 2}}, 9 + 38 + 24},
		// 3*3*1*2+2 + 5*4+4 + (32+4)*3+3
		{"two inputs", twoInputModel, []graph.Shape{{6, 6, 1}, {5}}, 20 + 24 + 111},
		// 6*4+4 (once) + 4*3+3
		{"shared layer", sharedModel, []graph.Shape{{6}, {6}}, 28 + 15},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := c.model(t)
			if tr, non := m.CountParams(); tr != c.params || non != 0 {
				t.Errorf("%d + %d weights, want %d", tr, non, c.params)
			}
			d := ftData(7, 96, 3, c.shapes...)
			if err := m.Compile(train.NewAdam(), train.SparseCategoricalCrossentropy{}); err != nil {
				t.Fatal(err)
			}
			h, err := m.Fit(d, graph.FitOptions{Epochs: 3, BatchSize: 16, Progress: nopWriter{}})
			if err != nil {
				t.Fatal(err)
			}
			if l := h["loss"]; !(l[2] < l[0]) {
				t.Errorf("loss did not fall: %v", l)
			}
			path := filepath.Join(t.TempDir(), "m.safetensors")
			if err := m.Save(path); err != nil {
				t.Fatal(err)
			}
			m2, err := graph.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if !m2.IsFunctional() || m2.Summary() != m.Summary() {
				t.Errorf("summary after load:\n%s\nwant\n%s", m2.Summary(), m.Summary())
			}
			xs := d.Inputs
			if xs == nil {
				xs = [][]float32{d.X}
			}
			p1, err := m.PredictInputs(xs, 10)
			if err != nil {
				t.Fatal(err)
			}
			p2, err := m2.PredictInputs(xs, 10)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p1[0], p2[0]) {
				t.Error("predictions differ after load")
			}
			r1, err1 := m.Evaluate(d, 16)
			r2, err2 := m2.Evaluate(d, 16)
			if err1 != nil || err2 != nil || r1.Loss != r2.Loss || r1.Accuracy != r2.Accuracy {
				t.Errorf("evaluate: %v %v / %v %v", r1.Loss, err1, r2.Loss, err2)
			}
			// Training on: the same losses from the original and the copy.
			h1, err1 := m.Fit(d, graph.FitOptions{Epochs: 1, BatchSize: 16, Progress: nopWriter{}})
			h2, err2 := m2.Fit(d, graph.FitOptions{Epochs: 1, BatchSize: 16, Progress: nopWriter{}})
			if err1 != nil || err2 != nil || !slices.Equal(h1["loss"], h2["loss"]) {
				t.Errorf("resumed training: %v %v / %v %v", h1["loss"], err1, h2["loss"], err2)
			}
		})
	}
}

type nopWriter struct{}

func (nopWriter) Write(b []byte) (int, error) { return len(b), nil }

// TestFunctionalSeed: the same seed gives the same weights, and a spec
// rebuilds the initial weights.
func TestFunctionalSeed(t *testing.T) {
	a, b := residualModel(t), residualModel(t)
	for i, p := range a.Params() {
		if !slices.Equal(p.Data(), b.Params()[i].Data()) {
			t.Fatalf("%s differs between two builds", p.Name)
		}
	}
	s, err := a.Spec()
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Build()
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range a.Params() {
		if q := c.Params()[i]; q.Name != p.Name || !slices.Equal(p.Data(), q.Data()) {
			t.Fatalf("%s differs after Spec and Build", p.Name)
		}
	}
}

// TestFunctionalSummary checks the layout of a Functional summary: the
// inputs are rows, "Connected to" names each inbound tensor, one per line,
// and a shared layer lists both applications.
func TestFunctionalSummary(t *testing.T) {
	got := residualModel(t).Summary()
	want := `Model: "functional"
_______________________________________________________________________________________________________________________
 Layer (type)                                       Output Shape         Param #     Connected to
=======================================================================================================================
 input_layer (InputLayer)                           [(None, 8, 8, 1)]    0           []

 conv2d (Conv2D)                                    (None, 8, 8, 4)      40          ['input_layer[0][0]']

 conv2d_1 (Conv2D)                                  (None, 8, 8, 4)      148         ['conv2d[0][0]']

 add (Add)                                          (None, 8, 8, 4)      0           ['conv2d[0][0]',
                                                                                      'conv2d_1[0][0]']

 activation (Activation)                            (None, 8, 8, 4)      0           ['add[0][0]']

 global_average_pooling2d (GlobalAveragePooling2D)  (None, 4)            0           ['activation[0][0]']

 dense (Dense)                                      (None, 3)            15          ['global_average_pooling2d[0][0]']
=======================================================================================================================
Total params: 203
Trainable params: 203
Non-trainable params: 0
_______________________________________________________________________________________________________________________
`
	if got != want {
		t.Errorf("summary:\n%s\nwant\n%s", got, want)
	}
	s := sharedModel(t).Summary()
	if !strings.Contains(s, "['input_layer[0][0]',\n") || !strings.Contains(s, "'input_layer_1[0][0]']") {
		t.Errorf("shared layer's row should list both inputs:\n%s", s)
	}
}

// TestFunctionalErrors: shape errors name the layer and the shapes, and
// nothing is built from a bad graph.
func TestFunctionalErrors(t *testing.T) {
	in := graph.NewInput(4, 4, 3)
	a := graph.Apply(&graph.Conv2D{Filters: 8, KernelSize: [2]int{1, 1}}, in)
	b := graph.Apply(&graph.Conv2D{Filters: 16, KernelSize: [2]int{1, 1}}, in)
	other := graph.NewInput(4, 4, 3)
	shared := &graph.Dense{Units: 2}
	graph.Apply(shared, graph.NewInput(3))
	cases := []struct {
		name string
		t    *graph.Tensor
		want []string
	}{
		{"add", graph.Apply(&graph.Add{Base: graph.Base{Name: "res"}}, a, b), []string{`"res" (Add)`, "incompatible shapes", "(None, 4, 4, 8)", "(None, 4, 4, 16)"}},
		{"concatenate", graph.Apply(&graph.Concatenate{}, a, graph.Apply(&graph.MaxPooling2D{}, b)), []string{"Concatenate", "matching shapes", "(None, 2, 2, 16)"}},
		{"subtract of 3", graph.Apply(&graph.Subtract{}, a, a, a), []string{"exactly 2 inputs"}},
		{"merge of 1", graph.Apply(&graph.Add{}, a), []string{"at least 2 inputs"}},
		{"dense on 2", graph.Apply(&graph.Dense{Units: 3}, a, b), []string{"takes one input"}},
		{"shared, other shape", graph.Apply(shared, graph.NewInput(4)), []string{"dense", "built on (None, 3)", "(None, 4)"}},
		{"bad input", graph.Apply(&graph.Flatten{}, graph.NewInput(0, 3)), []string{"non-positive"}},
		{"error carried", graph.Apply(&graph.Flatten{}, graph.Apply(&graph.Add{}, a, b)), []string{"incompatible shapes"}},
	}
	for _, c := range cases {
		err := c.t.Err()
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", c.name, err, w)
			}
		}
		if _, err2 := graph.Functional([]*graph.Tensor{in}, []*graph.Tensor{c.t}); err2 == nil {
			t.Errorf("%s: Functional accepted it", c.name)
		}
	}
	y := graph.Apply(&graph.Add{}, a, graph.Apply(&graph.Conv2D{Filters: 8, KernelSize: [2]int{1, 1}}, other))
	if _, err := graph.Functional([]*graph.Tensor{in}, []*graph.Tensor{y}); err == nil || !strings.Contains(err.Error(), "not among the model's inputs") {
		t.Errorf("missing input: %v", err)
	}
	m, err := graph.Functional([]*graph.Tensor{in, other}, []*graph.Tensor{y})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Predict(make([]float32, 48), 1); err == nil || !strings.Contains(err.Error(), "PredictInputs") {
		t.Errorf("Predict on two inputs: %v", err)
	}
	if err := m.Add(&graph.Flatten{}); err == nil {
		t.Error("Add on a Functional model accepted")
	}
	if _, err := graph.Sequential(graph.Input(3), &graph.Add{}); err == nil {
		t.Error("Sequential accepted a merge layer")
	}
}

// TestFunctionalSpecErrors: a spec whose connections name nothing, or form
// a cycle, is refused with the layer named.
func TestFunctionalSpecErrors(t *testing.T) {
	s, err := residualModel(t).Spec()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		edit func(s *graph.ModelSpec)
		want string
	}{
		{"unknown layer", func(s *graph.ModelSpec) { s.Layers[2].InboundNodes[0][0].Layer = "nope" }, "nope[0]"},
		{"unknown node", func(s *graph.ModelSpec) { s.Layers[2].InboundNodes[0][0].Node = 3 }, "conv2d[3]"},
		{"cycle", func(s *graph.ModelSpec) { s.Layers[1].InboundNodes[0][0].Layer = "add" }, "cycle"},
		{"bad output", func(s *graph.ModelSpec) { s.OutputLayers[0].Layer = "nope" }, "output nope[0]"},
		{"unused layer", func(s *graph.ModelSpec) { s.OutputLayers[0].Layer = "activation" }, "not between"},
	} {
		e := s
		e.Layers = slices.Clone(s.Layers)
		for i := range e.Layers {
			e.Layers[i].InboundNodes = nil
			for _, refs := range s.Layers[i].InboundNodes {
				e.Layers[i].InboundNodes = append(e.Layers[i].InboundNodes, slices.Clone(refs))
			}
		}
		e.OutputLayers = slices.Clone(s.OutputLayers)
		c.edit(&e)
		if _, err := e.Build(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

// TestMergeValues checks each merge layer's forward values on small
// inputs, with broadcasting.
func TestMergeValues(t *testing.T) {
	a := []float32{1, -2, 3, 4, 5, -6}
	b := []float32{2, -3, 3, 0, 1, 7}
	cases := []struct {
		layer graph.Layer
		want  []float32
	}{
		{&graph.Add{}, []float32{3, -5, 6, 4, 6, 1}},
		{&graph.Subtract{}, []float32{-1, 1, 0, 4, 4, -13}},
		{&graph.Multiply{}, []float32{2, 6, 9, 0, 5, -42}},
		{&graph.Average{}, []float32{1.5, -2.5, 3, 2, 3, 0.5}},
		{&graph.Maximum{}, []float32{2, -2, 3, 4, 5, 7}},
		{&graph.Minimum{}, []float32{1, -3, 3, 0, 1, -6}},
		{&graph.Concatenate{}, []float32{1, -2, 3, 2, -3, 3, 4, 5, -6, 0, 1, 7}},
	}
	for _, c := range cases {
		p, q := graph.NewInput(3), graph.NewInput(3)
		m, err := graph.Functional([]*graph.Tensor{p, q}, []*graph.Tensor{graph.Apply(c.layer, p, q)})
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.PredictInputs([][]float32{a, b}, 2)
		if err != nil {
			t.Fatal(err)
		}
		for i := range c.want {
			if math.Abs(float64(got[0][i]-c.want[i])) > 1e-6 {
				t.Errorf("%s: %v, want %v", c.layer.Class(), got[0], c.want)
				break
			}
		}
	}
	// Broadcasting: (2, 1) + (1, 3) -> (2, 3).
	p, q := graph.NewInput(2, 1), graph.NewInput(1, 3)
	y := graph.Apply(&graph.Add{}, p, q)
	if !y.Shape().Equal(graph.Shape{2, 3}) {
		t.Fatalf("broadcast shape %v, want (None, 2, 3): %v", y.Shape(), y.Err())
	}
	m, err := graph.Functional([]*graph.Tensor{p, q}, []*graph.Tensor{y})
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.PredictInputs([][]float32{{1, 2}, {10, 20, 30}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{11, 21, 31, 12, 22, 32}; !slices.Equal(got[0], want) {
		t.Errorf("broadcast add: %v, want %v", got[0], want)
	}
}
