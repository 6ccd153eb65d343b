package graph_test

import (
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/capa-ml/capa"
	"github.com/capa-ml/capa/graph"
)

// mtWantErr fails unless err is non-nil and its message holds every fragment.
func mtWantErr(t *testing.T, what string, err error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want one mentioning %q", what, fragments)
		return
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("%s: error %q does not mention %q", what, err, f)
		}
	}
}

func TestShapeInferenceErrors(t *testing.T) {
	for _, c := range []struct {
		what   string
		layers []graph.Layer
		want   []string
	}{
		{"5x5 kernel on a 3x3 map", []graph.Layer{graph.Input(3, 3, 1),
			&graph.Conv2D{Filters: 2, KernelSize: [2]int{5, 5}}},
			[]string{`layer "conv2d"`, "Conv2D", "(None, 3, 3, 1)", "5x5", "3x3", `"valid"`}},
		{"pool larger than the map after a conv", []graph.Layer{graph.Input(6, 6, 1),
			&graph.Conv2D{Filters: 2, KernelSize: [2]int{3, 3}},
			&graph.MaxPooling2D{PoolSize: [2]int{5, 5}}},
			[]string{`layer "max_pooling2d"`, "MaxPooling2D", "(None, 4, 4, 2)", "5x5", "4x4"}},
		{"Dense after a 4-D map", []graph.Layer{graph.Input(4, 4, 3),
			&graph.Dense{Units: 2}},
			[]string{`layer "dense"`, "Dense", "(None, 4, 4, 3)", "Flatten"}},
		{"bad padding", []graph.Layer{graph.Input(4, 4, 1),
			&graph.Conv2D{Filters: 1, KernelSize: [2]int{2, 2}, Padding: "full"}},
			[]string{`layer "conv2d"`, "padding", `"full"`, `"valid"`, `"same"`}},
		{"bad pooling padding", []graph.Layer{graph.Input(4, 4, 1),
			&graph.AveragePooling2D{Padding: "SAME"}},
			[]string{`layer "average_pooling2d"`, "padding", `"SAME"`}},
		{"negative filters", []graph.Layer{graph.Input(4, 4, 1),
			&graph.Conv2D{Filters: -3, KernelSize: [2]int{2, 2}}},
			[]string{`layer "conv2d"`, "filters", "-3"}},
		{"zero kernel", []graph.Layer{graph.Input(4, 4, 1),
			&graph.Conv2D{Filters: 1}},
			[]string{`layer "conv2d"`, "kernel_size", "[0 0]"}},
		{"negative strides", []graph.Layer{graph.Input(4, 4, 1),
			&graph.MaxPooling2D{Strides: [2]int{-1, 1}}},
			[]string{`layer "max_pooling2d"`, "strides", "[-1 1]"}},
		{"zero units", []graph.Layer{graph.Input(4),
			&graph.Dense{Units: 0}},
			[]string{`layer "dense"`, "units", "0"}},
		{"unknown activation", []graph.Layer{graph.Input(4),
			&graph.Dense{Base: graph.Base{Name: "out"}, Units: 2, Activation: "snake"}},
			[]string{`layer "out"`, "Dense", `unknown activation "snake"`, "relu", "softmax"}},
		{"unknown activation layer", []graph.Layer{graph.Input(4),
			&graph.Activation{Activation: "Relu"}},
			[]string{`layer "activation"`, `"Relu"`}},
		{"missing activation", []graph.Layer{graph.Input(4), &graph.Activation{}},
			[]string{`layer "activation"`, "activation is required"}},
		{"softmax on a map", []graph.Layer{graph.Input(2, 2, 3), &graph.Activation{Activation: "softmax"}},
			[]string{`layer "activation"`, "softmax", "(None, 2, 2, 3)"}},
		{"unknown initializer", []graph.Layer{graph.Input(4),
			&graph.Dense{Units: 2, KernelInitializer: "glorot"}},
			[]string{`layer "dense"`, "kernel", `"glorot"`, "glorot_uniform"}},
		{"dropout rate 1", []graph.Layer{graph.Input(4), &graph.Dropout{Rate: 1}},
			[]string{`layer "dropout"`, "rate", "1"}},
		{"batch norm momentum", []graph.Layer{graph.Input(4), &graph.BatchNormalization{Momentum: 1.5}},
			[]string{`layer "batch_normalization"`, "momentum", "1.5"}},
		{"global pooling of a vector", []graph.Layer{graph.Input(4), &graph.GlobalAveragePooling2D{}},
			[]string{`layer "global_average_pooling2d"`, "(None, 4)"}},
		{"conv on a vector", []graph.Layer{graph.Input(4), &graph.Conv2D{Filters: 1, KernelSize: [2]int{1, 1}}},
			[]string{`layer "conv2d"`, "(None, 4)"}},
		{"Input not first", []graph.Layer{&graph.Flatten{}, graph.Input(3)},
			[]string{"first layer", "Input", "Flatten"}},
		{"second Input", []graph.Layer{graph.Input(3, 3, 1), &graph.Flatten{}, graph.Input(9)},
			[]string{"Input must be the first layer", "position 2"}},
		{"Input twice in a row", []graph.Layer{graph.Input(3, 3, 1), graph.Input(9)},
			[]string{"Input must be the first layer", "position 1"}},
		{"bad Input shape", []graph.Layer{graph.Input(3, 0, 1)},
			[]string{"Input", "[3 0 1]", "non-positive"}},
		{"empty Input", []graph.Layer{graph.Input()},
			[]string{"Input", "shape"}},
		{"duplicate names", []graph.Layer{graph.Input(2, 2, 1),
			&graph.Flatten{Base: graph.Base{Name: "a"}},
			&graph.Dense{Base: graph.Base{Name: "a"}, Units: 1}},
			[]string{`"a"`, "two layers"}},
		{"duplicate of a generated name", []graph.Layer{graph.Input(2),
			&graph.Dense{Units: 2},
			&graph.Dense{Base: graph.Base{Name: "dense"}, Units: 1}},
			[]string{`"dense"`, "two layers"}},
	} {
		_, err := graph.Sequential(c.layers...)
		mtWantErr(t, c.what, err, c.want...)
	}
}

func TestLayerInTwoModels(t *testing.T) {
	d := &graph.Dense{Units: 2}
	if _, err := graph.Sequential(graph.Input(3), d); err != nil {
		t.Fatal(err)
	}
	_, err := graph.Sequential(graph.Input(3), d)
	mtWantErr(t, "layer reused", err, `"dense"`, "already belongs")
}

func TestGeneratedNames(t *testing.T) {
	m, err := graph.Sequential(graph.Input(4),
		&graph.Dense{Base: graph.Base{Name: "dense_1"}, Units: 3},
		&graph.Dense{Units: 3}, &graph.Dense{Units: 3},
		&graph.BatchNormalization{}, &graph.Activation{Activation: "relu"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range m.Layers() {
		names = append(names, graph.NameOf(l))
	}
	want := []string{"dense_1", "dense", "dense_2", "batch_normalization", "activation"}
	if !slices.Equal(names, want) {
		t.Errorf("names %v, want %v", names, want)
	}
	if _, err := m.Layer("dense_2"); err != nil {
		t.Error(err)
	}
	_, err = m.Layer("nope")
	mtWantErr(t, "Layer(nope)", err, `"nope"`)
	if _, err := m.Param("dense_2/kernel"); err != nil {
		t.Error(err)
	}
	_, err = m.Param("dense_2/gamma")
	mtWantErr(t, "Param", err, `"dense_2/gamma"`)
}

func TestSummaryPractical(t *testing.T) {
	m, err := graph.Sequential(capa.PracticalLayers(0)...)
	if err != nil {
		t.Fatal(err)
	}
	tr, non := m.CountParams()
	if tr != 62346 || non != 0 {
		t.Errorf("params: %d trainable, %d non-trainable; want 62346 and 0", tr, non)
	}
	wantRows := [][3]string{
		{"conv2d (Conv2D)", "(None, 24, 24, 32)", "832"},
		{"max_pooling2d (MaxPooling2D)", "(None, 12, 12, 32)", "0"},
		{"conv2d_1 (Conv2D)", "(None, 8, 8, 64)", "51,264"},
		{"max_pooling2d_1 (MaxPooling2D)", "(None, 4, 4, 64)", "0"},
		{"flatten (Flatten)", "(None, 1024)", "0"},
		{"dense (Dense)", "(None, 10)", "10,250"},
	}
	s := m.Summary()
	mtCheckRows(t, s, wantRows)
	for _, line := range []string{"Total params: 62,346", "Trainable params: 62,346", "Non-trainable params: 0", `Model: "sequential"`} {
		if !strings.Contains(s, line) {
			t.Errorf("summary lacks %q:\n%s", line, s)
		}
	}

	// With a hidden Dense(64).
	m, err = graph.Sequential(capa.PracticalLayers(64)...)
	if err != nil {
		t.Fatal(err)
	}
	mtCheckRows(t, m.Summary(), [][3]string{
		{"flatten (Flatten)", "(None, 1024)", "0"},
		{"dense (Dense)", "(None, 64)", "65,600"},
		{"dense_1 (Dense)", "(None, 10)", "650"},
	})
	if tr, non := m.CountParams(); tr != 832+51264+65600+650 || non != 0 {
		t.Errorf("hidden 64: %d + %d params", tr, non)
	}

	// Freezing the first convolution.
	l, err := m.Layer("conv2d")
	if err != nil {
		t.Fatal(err)
	}
	l.(*graph.Conv2D).SetTrainable(false)
	tr, non = m.CountParams()
	if tr != 51264+65600+650 || non != 832 {
		t.Errorf("conv2d frozen: %d trainable, %d non-trainable", tr, non)
	}
	if s := m.Summary(); !strings.Contains(s, "Non-trainable params: 832") || !strings.Contains(s, "Trainable params: 117,514") {
		t.Errorf("summary after freezing:\n%s", s)
	}
	l.(*graph.Conv2D).SetTrainable(true)
	if tr, non = m.CountParams(); non != 0 {
		t.Errorf("unfrozen: %d non-trainable", non)
	}
}

// mtCheckRows checks that the summary has a line per row with its three
// columns in order.
func mtCheckRows(t *testing.T, summary string, rows [][3]string) {
	t.Helper()
	lines := strings.Split(summary, "\n")
	for _, r := range rows {
		found := false
		for _, line := range lines {
			f := strings.Fields(line)
			if len(f) >= 2 && strings.Join(f[:2], " ") == r[0] {
				found = true
				if got := strings.Join(f[2:], " "); got != r[1]+" "+r[2] {
					t.Errorf("summary row %s: %q, want %q", r[0], got, r[1]+" "+r[2])
				}
			}
		}
		if !found {
			t.Errorf("summary has no row %s:\n%s", r[0], summary)
		}
	}
}

func TestSummaryBatchNormalization(t *testing.T) {
	bn := &graph.BatchNormalization{}
	m, err := graph.Sequential(graph.Input(4, 4, 3),
		&graph.Conv2D{Filters: 8, KernelSize: [2]int{3, 3}, NoBias: true}, bn,
		&graph.GlobalAveragePooling2D{}, &graph.Dense{Units: 2})
	if err != nil {
		t.Fatal(err)
	}
	// conv 3*3*3*8 = 216, BN 4*8 = 32 (16 trainable, 16 statistics), dense 18.
	check := func(what string, wantTr, wantNon int) {
		t.Helper()
		tr, non := m.CountParams()
		if tr != wantTr || non != wantNon {
			t.Errorf("%s: %d trainable, %d non-trainable; want %d and %d", what, tr, non, wantTr, wantNon)
		}
		s := m.Summary()
		for _, want := range []string{"Total params: " + mtCommas(wantTr+wantNon), "Trainable params: " + mtCommas(wantTr), "Non-trainable params: " + mtCommas(wantNon)} {
			if !strings.Contains(s, want+"\n") {
				t.Errorf("%s: summary lacks %q:\n%s", what, want, s)
			}
		}
	}
	check("BatchNormalization", 216+16+18, 16)
	mtCheckRows(t, m.Summary(), [][3]string{{"batch_normalization (BatchNormalization)", "(None, 2, 2, 8)", "32"}})
	var stats []string
	for _, p := range m.Params() {
		if p.IsStatistic() {
			stats = append(stats, p.Name)
		}
	}
	if want := []string{"batch_normalization/moving_mean", "batch_normalization/moving_variance"}; !slices.Equal(stats, want) {
		t.Errorf("statistics %v, want %v", stats, want)
	}
	bn.SetTrainable(false)
	check("BatchNormalization frozen", 216+18, 32)
	bn.SetTrainable(true)
	check("BatchNormalization unfrozen", 216+16+18, 16)
	if bn.Trainable() != true {
		t.Error("Trainable() false after SetTrainable(true)")
	}
}

// mtCommas formats n with thousands separators, as the summary does.
func mtCommas(n int) string {
	d := strconv.Itoa(n)
	var b strings.Builder
	for i, c := range d {
		if i > 0 && (len(d)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// mtEveryClass returns a model that uses every registered layer class but
// InputLayer, each with non-default settings where it has any.
func mtEveryClass() []graph.Layer {
	return []graph.Layer{
		graph.Input(9, 8, 2),
		&graph.Conv2D{Filters: 3, KernelSize: [2]int{3, 2}, Strides: [2]int{1, 2}, Padding: "same", Activation: "tanh",
			KernelInitializer: "he_normal", BiasInitializer: "ones", KernelRegularizer: graph.L2(1e-3)},
		&graph.BatchNormalization{Momentum: 0.9, Epsilon: 1e-4},
		&graph.MaxPooling2D{PoolSize: [2]int{3, 3}, Strides: [2]int{1, 1}, Padding: "same"},
		&graph.AveragePooling2D{Padding: "same"},
		&graph.Dropout{Base: graph.Base{Name: "drop"}, Rate: 0.25},
		&graph.Activation{Activation: "relu"},
		&graph.ReLU{MaxValue: 6, NegativeSlope: 0.1, Threshold: 0.5},
		&graph.LeakyReLU{NegativeSlope: 0.2},
		&graph.ELU{Alpha: 0.5},
		&graph.Activation{Activation: "gelu"},
		&graph.ZeroPadding2D{Padding: [2][2]int{{1, 0}, {0, 2}}},
		&graph.Cropping2D{Cropping: [2][2]int{{1, 0}, {0, 1}}},
		&graph.UpSampling2D{Size: [2]int{2, 1}},
		&graph.Rescaling{Scale: 0.5, Offset: 0.1},
		&graph.DepthwiseConv2D{KernelSize: [2]int{2, 1}, Padding: "same", DepthMultiplier: 2, Activation: "relu"},
		&graph.SeparableConv2D{Filters: 4, KernelSize: [2]int{3, 3}, Padding: "same", DepthMultiplier: 2, PointwiseInitializer: "he_uniform"},
		&graph.Conv2DTranspose{Filters: 4, KernelSize: [2]int{3, 3}, Strides: [2]int{2, 2}, Padding: "same", OutputPadding: &[2]int{1, 0}},
		&graph.Conv2D{Filters: 4, KernelSize: [2]int{2, 2}, DilationRate: [2]int{2, 1}, Groups: 2, Padding: "same"},
		&graph.LayerNormalization{Epsilon: 1e-5},
		&graph.PReLU{SharedAxes: []int{1, 2}, AlphaInitializer: "ones"},
		&graph.SpatialDropout2D{Rate: 0.2},
		&graph.GaussianNoise{Stddev: 0.1},
		&graph.Permute{Dims: []int{2, 1, 3}},
		&graph.UpSampling2D{Interpolation: "bilinear"},
		&graph.MaxPooling2D{},
		&graph.Conv2D{Filters: 4, KernelSize: [2]int{2, 2}, NoBias: true, Base: graph.Base{Frozen: true}},
		&graph.GlobalAveragePooling2D{},
		&graph.Flatten{},
		&graph.Reshape{TargetShape: []int{-1}},
		&graph.Dense{Units: 5, Activation: "sigmoid", KernelInitializer: "lecun_uniform", KernelRegularizer: graph.L1(0.5)},
		&graph.Dense{Units: 3, Activation: "softmax", NoBias: true},
	}
}

// mtEveryMerge is a Functional model with every merge layer and
// GlobalMaxPooling2D, a shared layer and two inputs.
func mtEveryMerge(t *testing.T) *graph.Model {
	t.Helper()
	a, b := graph.NamedInput("left", 4, 4, 2), graph.NamedInput("right", 4, 4, 2)
	shared := &graph.Conv2D{Filters: 2, KernelSize: [2]int{1, 1}}
	x, y := graph.Apply(shared, a), graph.Apply(shared, b)
	var ms []*graph.Tensor
	for _, l := range []graph.Layer{&graph.Add{}, &graph.Subtract{}, &graph.Multiply{}, &graph.Average{}, &graph.Maximum{}, &graph.Minimum{}} {
		ms = append(ms, graph.Apply(l, x, y))
	}
	z := graph.Apply(&graph.Concatenate{Axis: 3}, ms...)
	z = graph.Apply(&graph.GlobalMaxPooling2D{}, z)
	z = graph.Apply(&graph.Dense{Units: 2}, z)
	m, err := graph.FunctionalSeed(9, []*graph.Tensor{a, b}, []*graph.Tensor{z})
	if err != nil {
		t.Fatal(err)
	}
	m.Name = "every_merge"
	return m
}

// mtRoundTrip checks that m's spec goes through JSON and rebuilds the
// same model, weights included, and returns the rebuilt model.
func mtRoundTrip(t *testing.T, m *graph.Model) *graph.Model {
	spec, err := m.Spec()
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	var back graph.ModelSpec
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	m2, err := back.Build()
	if err != nil {
		t.Fatalf("rebuild: %v\n%s", err, js)
	}
	spec2, err := m2.Spec()
	if err != nil {
		t.Fatal(err)
	}
	if js2, _ := json.Marshal(spec2); string(js) != string(js2) {
		t.Errorf("spec changed through JSON:\n%s\n%s", js, js2)
	}
	if m.Summary() != m2.Summary() || m2.Name != m.Name || m2.Seed() != m.Seed() {
		t.Errorf("summary, name or seed changed:\n%s\n%s", m.Summary(), m2.Summary())
	}
	mtSameWeights(t, m, m2)
	return m2
}

func TestSpecRoundTrip(t *testing.T) {
	m, err := graph.SequentialSeed(7, mtEveryClass()...)
	if err != nil {
		t.Fatal(err)
	}
	m.Name = "every_class"
	fm := mtEveryMerge(t)
	nm, _ := mtNested(t)
	// Every class of this package is covered (package augment, linked in
	// through capa, tests its own).
	seen := map[string]bool{"InputLayer": true}
	for _, l := range slices.Concat(m.Layers(), fm.Layers(), nm.Layers()) {
		seen[l.Class()] = true
	}
	t.Run("functional", func(t *testing.T) { mtRoundTrip(t, fm) })
	t.Run("nested", func(t *testing.T) { mtRoundTrip(t, nm) })
	for _, c := range graph.Classes() {
		l, err := graph.New(c)
		if err != nil {
			t.Fatal(err)
		}
		if reflect.TypeOf(l).Elem().PkgPath() != reflect.TypeOf(graph.Dense{}).PkgPath() {
			continue
		}
		if !seen[c] {
			t.Errorf("class %s is registered but not in the round-trip model", c)
		}
	}
	m2 := mtRoundTrip(t, m)
	if m2.Name != "every_class" || m2.Seed() != 7 {
		t.Errorf("name %q seed %d", m2.Name, m2.Seed())
	}
	for i, l := range m.Layers() {
		l2 := m2.Layers()[i]
		a, _ := json.Marshal(l)
		b, _ := json.Marshal(l2)
		if string(a) != string(b) || l.Class() != l2.Class() {
			t.Errorf("layer %d: %s %s, rebuilt %s %s", i, l.Class(), a, l2.Class(), b)
		}
	}
	// Configuration details that matter.
	if p, _ := m2.Param("conv2d/kernel"); p.Regularizer == nil || p.Regularizer.L2 != 1e-3 {
		t.Errorf("conv2d kernel regularizer %+v", p.Regularizer)
	}
	if l, _ := m2.Layer("conv2d_2"); l.(*graph.Conv2D).Trainable() {
		t.Error("frozen conv2d_2 is trainable after the round trip")
	}
	if p, _ := m2.Param("conv2d_2/kernel"); p.Trainable {
		t.Error("frozen conv2d_2/kernel is trainable after the round trip")
	}
	if _, err := m2.Param("conv2d_2/bias"); err == nil {
		t.Error("NoBias conv2d_2 has a bias after the round trip")
	}
	if l, _ := m2.Layer("conv2d_1"); l.(*graph.Conv2D).Groups != 2 || l.(*graph.Conv2D).DilationRate != [2]int{2, 1} {
		t.Errorf("conv2d_1's groups and dilation after the round trip: %+v", l)
	}
	rs1, err := m.RandomState()
	if err != nil {
		t.Fatal(err)
	}
	rs2, _ := m2.RandomState()
	for _, name := range []string{"drop", "spatial_dropout2d", "gaussian_noise"} {
		if len(rs1) != 3 || string(rs1[name]) != string(rs2[name]) {
			t.Errorf("%s random state %v / %v", name, rs1, rs2)
		}
	}
	// The rebuilt model computes the same function.
	x := mtInputs(4, m.InputShape().Size())
	y1, err := m.Predict(x, 4)
	if err != nil {
		t.Fatal(err)
	}
	y2, err := m2.Predict(x, 4)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(y1, y2) {
		t.Errorf("predictions differ after the round trip: %v / %v", y1, y2)
	}

	// InputLayer round-trips on its own.
	ls, err := graph.Spec(graph.Input(28, 28, 1))
	if err != nil {
		t.Fatal(err)
	}
	il, err := graph.FromSpec(ls)
	if err != nil {
		t.Fatal(err)
	}
	if in, ok := il.(*graph.InputLayer); !ok || !slices.Equal(in.Shape, []int{28, 28, 1}) {
		t.Errorf("InputLayer round trip: %#v", il)
	}
}

func mtSameWeights(t *testing.T, a, b *graph.Model) {
	t.Helper()
	pa, pb := a.Params(), b.Params()
	if len(pa) != len(pb) {
		t.Fatalf("%d weights, %d after", len(pa), len(pb))
	}
	for i := range pa {
		if pa[i].Name != pb[i].Name || !slices.Equal(pa[i].Shape(), pb[i].Shape()) || pa[i].Trainable != pb[i].Trainable {
			t.Errorf("weight %d: %s%v trainable=%v, %s%v trainable=%v", i, pa[i].Name, pa[i].Shape(), pa[i].Trainable, pb[i].Name, pb[i].Shape(), pb[i].Trainable)
			continue
		}
		if !mtBitEqual(pa[i].Data(), pb[i].Data()) {
			t.Errorf("weight %s differs", pa[i].Name)
		}
	}
}

func mtBitEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func mtInputs(n, size int) []float32 {
	x := make([]float32, n*size)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)*0.37)) * 0.8
	}
	return x
}

func TestSpecErrors(t *testing.T) {
	_, err := graph.FromSpec(graph.LayerSpec{Class: "Conv3D", Config: json.RawMessage(`{}`)})
	mtWantErr(t, "unknown class", err, `unknown layer class "Conv3D"`, "Conv2D", "Dense")
	_, err = graph.FromSpec(graph.LayerSpec{Class: "Dense", Config: json.RawMessage(`{"units": 3, "use_bais": false}`)})
	mtWantErr(t, "unknown field", err, "Dense", "use_bais")
	_, err = graph.FromSpec(graph.LayerSpec{Class: "Dense", Config: json.RawMessage(`{"units": "three"}`)})
	mtWantErr(t, "bad field", err, "Dense", "units")

	s := graph.ModelSpec{Name: "m", Seed: 1, Input: []int{4},
		Layers: []graph.LayerSpec{{Class: "Dense", Config: json.RawMessage(`{"units": 2}`)}, {Class: "Bogus", Config: json.RawMessage(`{}`)}}}
	_, err = s.Build()
	mtWantErr(t, "ModelSpec with an unknown class", err, "layer 1", `"Bogus"`)

	s = graph.ModelSpec{Name: "m", Seed: 1, Input: []int{4},
		Layers:      []graph.LayerSpec{{Class: "Dense", Config: json.RawMessage(`{"units": 2}`)}},
		BuildShapes: [][]int{{5}}}
	_, err = s.Build()
	mtWantErr(t, "ModelSpec with another build shape", err, `"dense"`, "(None, 5)", "(None, 4)")

	s = graph.ModelSpec{Name: "m", Seed: 1, Input: []int{4},
		Layers: []graph.LayerSpec{{Class: "Dense", Config: json.RawMessage(`{"units": -2}`)}}}
	_, err = s.Build()
	mtWantErr(t, "ModelSpec with a bad config", err, "layer 0", "Dense", "units", "-2")
}

func TestSeeds(t *testing.T) {
	build := func(seed uint64) *graph.Model {
		m, err := graph.SequentialSeed(seed, capa.PracticalLayers(16)...)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	a, b, c := build(5), build(5), build(6)
	mtSameWeights(t, a, b)
	for i, p := range a.Params() {
		q := c.Params()[i]
		if strings.HasSuffix(p.Name, "/bias") {
			continue // zeros whatever the seed
		}
		if mtBitEqual(p.Data(), q.Data()) {
			t.Errorf("%s is the same for seeds 5 and 6", p.Name)
		}
	}
	// Two identical layers of one model get different weights.
	m, err := graph.Sequential(graph.Input(4), &graph.Dense{Units: 4}, &graph.Dense{Units: 4})
	if err != nil {
		t.Fatal(err)
	}
	if mtBitEqual(m.Params()[0].Data(), m.Params()[2].Data()) {
		t.Error("dense/kernel == dense_1/kernel")
	}
	// Sequential uses DefaultSeed.
	d, err := graph.Sequential(capa.PracticalLayers(16)...)
	if err != nil {
		t.Fatal(err)
	}
	mtSameWeights(t, d, build(graph.DefaultSeed))
}

func TestGlorotUniform(t *testing.T) {
	m, err := graph.Sequential(graph.Input(10, 10, 16),
		&graph.Conv2D{Filters: 32, KernelSize: [2]int{3, 3}},
		&graph.Flatten{},
		&graph.Dense{Units: 300})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name          string
		fanIn, fanOut int
	}{
		{"conv2d/kernel", 3 * 3 * 16, 3 * 3 * 32},
		{"dense/kernel", 8 * 8 * 32, 300},
	} {
		p, err := m.Param(c.name)
		if err != nil {
			t.Fatal(err)
		}
		limit := math.Sqrt(6 / float64(c.fanIn+c.fanOut))
		var sum, sum2, maxAbs float64
		for _, v := range p.Data() {
			w := float64(v)
			sum += w
			sum2 += w * w
			maxAbs = math.Max(maxAbs, math.Abs(w))
		}
		n := float64(p.Size())
		mean, variance := sum/n, sum2/n-(sum/n)*(sum/n)
		want := 2 / float64(c.fanIn+c.fanOut) // limit²/3
		if maxAbs > limit {
			t.Errorf("%s: |w| up to %v > limit %v", c.name, maxAbs, limit)
		}
		if maxAbs < 0.98*limit {
			t.Errorf("%s: |w| only up to %v, limit %v: not uniform on the whole range", c.name, maxAbs, limit)
		}
		// The standard error of the variance estimate is about
		// want*sqrt(0.8/n); allow 6 of them.
		if tol := 6 * want * math.Sqrt(0.8/n); math.Abs(variance-want) > tol {
			t.Errorf("%s: variance %v, want %v ± %v", c.name, variance, want, tol)
		}
		if math.Abs(mean) > 6*limit/math.Sqrt(3*n) {
			t.Errorf("%s: mean %v", c.name, mean)
		}
	}
	for _, name := range []string{"conv2d/bias", "dense/bias"} {
		p, _ := m.Param(name)
		for _, v := range p.Data() {
			if v != 0 {
				t.Fatalf("%s not zeros: %v", name, p.Data())
			}
		}
	}
}

func TestOtherInitializers(t *testing.T) {
	m, err := graph.Sequential(graph.Input(50),
		&graph.Dense{Units: 40, KernelInitializer: "he_uniform", BiasInitializer: "ones"},
		&graph.Dense{Units: 40, KernelInitializer: "he_normal"},
		&graph.Dense{Units: 40, KernelInitializer: "zeros"})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := m.Param("dense/kernel")
	for _, v := range p.Data() {
		if math.Abs(float64(v)) > math.Sqrt(6.0/50) {
			t.Fatalf("he_uniform: %v beyond sqrt(6/fan_in)", v)
		}
	}
	p, _ = m.Param("dense/bias")
	for _, v := range p.Data() {
		if v != 1 {
			t.Fatalf("ones bias: %v", p.Data())
		}
	}
	p, _ = m.Param("dense_1/kernel")
	std := math.Sqrt(2.0 / 40)
	var sum2 float64
	for _, v := range p.Data() {
		if math.Abs(float64(v)) > 2*std/0.87962566103423978+1e-6 {
			t.Fatalf("he_normal: %v beyond two (corrected) standard deviations", v)
		}
		sum2 += float64(v) * float64(v)
	}
	if v := sum2 / float64(p.Size()); math.Abs(v-std*std) > 0.15*std*std {
		t.Errorf("he_normal variance %v, want about %v", v, std*std)
	}
	p, _ = m.Param("dense_2/kernel")
	for _, v := range p.Data() {
		if v != 0 {
			t.Fatalf("zeros kernel: %v", v)
		}
	}
}

func TestPredictPartialBatch(t *testing.T) {
	m, err := graph.SequentialSeed(3, graph.Input(5, 5, 2),
		&graph.Conv2D{Filters: 3, KernelSize: [2]int{3, 3}, Activation: "relu"},
		&graph.BatchNormalization{},
		&graph.Dropout{Rate: 0.5},
		&graph.Flatten{},
		&graph.Dense{Units: 4, Activation: "softmax"})
	if err != nil {
		t.Fatal(err)
	}
	const n = 7
	in, out := m.InputShape().Size(), m.OutputShape().Size()
	x := mtInputs(n, in)
	var one []float32
	for i := 0; i < n; i++ {
		y, err := m.Predict(x[i*in:(i+1)*in], 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(y) != out {
			t.Fatalf("sample %d: %d outputs, want %d", i, len(y), out)
		}
		one = append(one, y...)
	}
	for _, batch := range []int{3, 1, 2, 7, 100} {
		y, err := m.Predict(x, batch)
		if err != nil {
			t.Fatal(err)
		}
		if len(y) != n*out {
			t.Fatalf("batch %d: %d outputs, want %d", batch, len(y), n*out)
		}
		for i := range y {
			if math.Abs(float64(y[i]-one[i])) > 1e-6 {
				t.Fatalf("batch %d: output %d (sample %d) = %v, one by one %v", batch, i, i/out, y[i], one[i])
			}
		}
		// Softmax rows sum to one: every sample was computed.
		for s := 0; s < n; s++ {
			var sum float32
			for _, v := range y[s*out : (s+1)*out] {
				sum += v
			}
			if math.Abs(float64(sum)-1) > 1e-5 {
				t.Errorf("batch %d sample %d: outputs sum to %v", batch, s, sum)
			}
		}
	}
	// Predicting twice gives the same (dropout is off at inference).
	a, _ := m.Predict(x, 3)
	b, _ := m.Predict(x, 3)
	if !mtBitEqual(a, b) {
		t.Error("Predict is not deterministic")
	}
	_, err = m.Predict(x[:in+1], 3)
	mtWantErr(t, "ragged input", err, strconv.Itoa(in+1), "(None, 5, 5, 2)")
	_, err = m.Predict(x, 0)
	mtWantErr(t, "batch 0", err, "batch size", "0")
}

func TestGraphErrors(t *testing.T) {
	m, err := graph.Sequential(graph.Input(3), &graph.Dense{Units: 2})
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Graph(0, false)
	mtWantErr(t, "Graph(0)", err, "batch size", "0")
	gr, err := m.Graph(2, false)
	if err != nil {
		t.Fatal(err)
	}
	mtWantErr(t, "Feed", gr.Feed(make([]float32, 5)), "5", "6")
	nodes, params := gr.TrainableNodes(m)
	if len(nodes) != 2 || params[0].Name != "dense/kernel" || params[1].Name != "dense/bias" {
		t.Errorf("trainable nodes %v %v", nodes, params)
	}
}

// TestPredictAfterAdd checks that Predict sees a layer added after an
// earlier Predict.
func TestPredictAfterAdd(t *testing.T) {
	m, err := graph.Sequential(graph.Input(3), &graph.Dense{Units: 4})
	if err != nil {
		t.Fatal(err)
	}
	x := mtInputs(2, 3)
	if y, err := m.Predict(x, 2); err != nil || len(y) != 8 {
		t.Fatalf("Predict: %d values, %v", len(y), err)
	}
	if err := m.Add(&graph.Dense{Units: 2, KernelInitializer: "ones"}); err != nil {
		t.Fatal(err)
	}
	y, err := m.Predict(x, 2)
	if err != nil || len(y) != 4 {
		t.Fatalf("Predict after Add: %d values, want 4 (%v)", len(y), err)
	}
	if y[0] != y[1] {
		t.Errorf("the added layer (ones kernel) should give equal outputs: %v", y)
	}
}
