package train

import (
	"fmt"
	"math"
	"testing"

	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/internal/gradcheck"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// utLossBuild returns a gradcheck expression: the loss of act(in[0])
// against the fixed target, where act is applied by a graph.Activation layer
// (so the context knows the logits, as in a model) or not at all ("").
func utLossBuild(loss graph.Loss, act string, target *tensor.Dense) gradcheck.Build {
	return func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
		c := graph.NewCtx(g, true)
		out := in[0]
		if act != "" {
			l := &graph.Activation{Activation: act}
			var err error
			if out, err = l.Call(c, in[0]); err != nil {
				return nil, err
			}
		}
		tn := G.NodeFromAny(g, target.Clone().(*tensor.Dense), G.WithName("target"))
		return loss.Build(c.Output(out), tn)
	}
}

// utLossValue evaluates the loss once and returns it with its gradient
// with respect to the input.
func utLossValue(t *testing.T, loss graph.Loss, act string, x, target *tensor.Dense) (float64, []float32) {
	t.Helper()
	g := G.NewGraph()
	xn := G.NodeFromAny(g, x.Clone().(*tensor.Dense), G.WithName("x"))
	l, err := utLossBuild(loss, act, target)(g, []*G.Node{xn})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := G.Grad(l, xn); err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g, G.BindDualValues(xn))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	gv, err := xn.Grad()
	if err != nil {
		t.Fatal(err)
	}
	return float64(l.Value().Data().(float32)), append([]float32(nil), gv.Data().([]float32)...)
}

func utTensor(shape []int, v []float32) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(append([]float32(nil), v...)))
}

// utOneHot returns one-hot targets for labels over k classes.
func utOneHot(labels []int, k int) *tensor.Dense {
	d := make([]float32, len(labels)*k)
	for i, l := range labels {
		d[i*k+l] = 1
	}
	return utTensor([]int{len(labels), k}, d)
}

func utSoftmax(z []float32) []float64 {
	m := math.Inf(-1)
	for _, v := range z {
		m = math.Max(m, float64(v))
	}
	var s float64
	out := make([]float64, len(z))
	for i, v := range z {
		out[i] = math.Exp(float64(v) - m)
		s += out[i]
	}
	for i := range out {
		out[i] /= s
	}
	return out
}

func TestCategoricalLosses(t *testing.T) {
	const n, k = 4, 5
	z := gradcheck.Random(1, -3, 3, n, k)
	labels := []int{0, 3, 4, 1}
	target := utOneHot(labels, k)
	// Soft labels for the categorical loss.
	soft := gradcheck.Random(2, 0, 1, n, k)
	sd := soft.Data().([]float32)
	for i := 0; i < n; i++ {
		var s float32
		for _, v := range sd[i*k : (i+1)*k] {
			s += v
		}
		for j := range sd[i*k : (i+1)*k] {
			sd[i*k+j] /= s
		}
	}
	for _, c := range []struct {
		name   string
		loss   graph.Loss
		target *tensor.Dense
	}{
		{"sparse", SparseCategoricalCrossentropy{}, target},
		{"categorical one-hot", CategoricalCrossentropy{}, target},
		{"categorical soft", CategoricalCrossentropy{}, soft},
	} {
		// From softmax logits.
		if _, err := gradcheck.Check(utLossBuild(c.loss, "softmax", c.target), []*tensor.Dense{z}, gradcheck.Options{}); err != nil {
			t.Errorf("%s from logits: %v", c.name, err)
		}
		got, grad := utLossValue(t, c.loss, "softmax", z, c.target)
		zd, td := z.Data().([]float32), c.target.Data().([]float32)
		var want float64
		for i := 0; i < n; i++ {
			p := utSoftmax(zd[i*k : (i+1)*k])
			for j := 0; j < k; j++ {
				want -= float64(td[i*k+j]) * math.Log(p[j]) / n
				// d/dz = (p - t)/n
				if g := (p[j] - float64(td[i*k+j])) / n; math.Abs(float64(grad[i*k+j])-g) > 1e-6 {
					t.Errorf("%s: gradient [%d,%d] = %v, want %v", c.name, i, j, grad[i*k+j], g)
				}
			}
		}
		if math.Abs(got-want) > 1e-5*math.Max(1, want) {
			t.Errorf("%s from logits: %v, want %v", c.name, got, want)
		}
	}

	// From plain probabilities (no softmax layer): -Σ t·log p / n.
	p := gradcheck.Random(3, 0.05, 0.95, n, k)
	for _, c := range []struct {
		name string
		loss graph.Loss
	}{{"sparse", SparseCategoricalCrossentropy{}}, {"categorical", CategoricalCrossentropy{}}} {
		if _, err := gradcheck.Check(utLossBuild(c.loss, "", target), []*tensor.Dense{p}, gradcheck.Options{Eps: 1e-3}); err != nil {
			t.Errorf("%s from probabilities: %v", c.name, err)
		}
		got, _ := utLossValue(t, c.loss, "", p, target)
		var want float64
		pd := p.Data().([]float32)
		for i, l := range labels {
			want -= math.Log(float64(pd[i*k+l])) / n
		}
		if math.Abs(got-want) > 1e-5 {
			t.Errorf("%s from probabilities: %v, want %v", c.name, got, want)
		}
	}
	// Probabilities are clipped: a zero probability gives a finite loss,
	// -log(1e-7)/n.
	zero := utTensor([]int{1, 2}, []float32{0, 1})
	got, _ := utLossValue(t, CategoricalCrossentropy{}, "", zero, utOneHot([]int{0}, 2))
	if want := -math.Log(1e-7); math.Abs(got-want) > 1e-3 {
		t.Errorf("zero probability: loss %v, want %v", got, want)
	}
	// Huge logits through softmax stay finite.
	big := utTensor([]int{2, 3}, []float32{1000, -1000, 0, -500, 500, 0})
	got, grad := utLossValue(t, SparseCategoricalCrossentropy{}, "softmax", big, utOneHot([]int{1, 1}, 3))
	if math.Abs(got-1000) > 1e-3 {
		t.Errorf("huge logits: loss %v, want 1000 (2000/2)", got)
	}
	for _, g := range grad {
		if math.IsNaN(float64(g)) || math.IsInf(float64(g), 0) {
			t.Fatalf("huge logits: gradient %v", grad)
		}
	}
}

func TestBinaryCrossentropy(t *testing.T) {
	const n, k = 3, 2
	tg := gradcheck.Random(4, 0, 1, n, k) // soft labels in [0, 1]
	hard := utTensor([]int{n, k}, []float32{0, 1, 1, 0, 1, 1})
	z := gradcheck.Random(5, -4, 4, n, k)
	sig := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	for _, target := range []*tensor.Dense{tg, hard} {
		if _, err := gradcheck.Check(utLossBuild(BinaryCrossentropy{}, "sigmoid", target), []*tensor.Dense{z}, gradcheck.Options{Eps: 1e-3}); err != nil {
			t.Errorf("binary from sigmoid logits: %v", err)
		}
		got, grad := utLossValue(t, BinaryCrossentropy{}, "sigmoid", z, target)
		var want float64
		zd, td := z.Data().([]float32), target.Data().([]float32)
		for i := range zd {
			p, y := sig(float64(zd[i])), float64(td[i])
			want -= (y*math.Log(p) + (1-y)*math.Log(1-p)) / (n * k)
			if g := (p - y) / (n * k); math.Abs(float64(grad[i])-g) > 1e-6 {
				t.Errorf("binary gradient [%d] = %v, want %v", i, grad[i], g)
			}
		}
		if math.Abs(got-want) > 1e-5 {
			t.Errorf("binary from logits: %v, want %v", got, want)
		}

		p := gradcheck.Random(6, 0.05, 0.95, n, k)
		if _, err := gradcheck.Check(utLossBuild(BinaryCrossentropy{}, "", target), []*tensor.Dense{p}, gradcheck.Options{Eps: 1e-3}); err != nil {
			t.Errorf("binary from probabilities: %v", err)
		}
		got, _ = utLossValue(t, BinaryCrossentropy{}, "", p, target)
		want = 0
		for i, v := range p.Data().([]float32) {
			y := float64(td[i])
			want -= (y*math.Log(float64(v)) + (1-y)*math.Log(1-float64(v))) / (n * k)
		}
		if math.Abs(got-want) > 1e-5 {
			t.Errorf("binary from probabilities: %v, want %v", got, want)
		}
	}

	// Logits of ±50: the sigmoid saturates to exactly 0 or 1 in float32, but
	// the loss from logits stays exact and finite: each wrong sample costs
	// 50, each right one about e^-50.
	big := utTensor([]int{2, 2}, []float32{50, -50, 50, -50})
	target := utTensor([]int{2, 2}, []float32{0, 1, 1, 0})
	got, grad := utLossValue(t, BinaryCrossentropy{}, "sigmoid", big, target)
	if math.Abs(got-25) > 1e-4 {
		t.Errorf("logits ±50: loss %v, want (50+50)/4 = 25", got)
	}
	wantGrad := []float64{0.25, -0.25, 0, 0}
	for i, g := range grad {
		if math.IsNaN(float64(g)) || math.Abs(float64(g)-wantGrad[i]) > 1e-6 {
			t.Errorf("logits ±50: gradient %v, want %v", grad, wantGrad)
			break
		}
	}
	if _, err := gradcheck.Check(utLossBuild(BinaryCrossentropy{}, "sigmoid", target), []*tensor.Dense{big}, gradcheck.Options{Eps: 1e-2}); err != nil {
		t.Errorf("logits ±50: %v", err)
	}
}

func TestLossTargets(t *testing.T) {
	dst := make([]float32, 6)
	if err := (SparseCategoricalCrossentropy{}).Targets(dst, []float32{2, 0}, 3); err != nil {
		t.Fatal(err)
	}
	if want := []float32{0, 0, 1, 1, 0, 0}; !utBitEqual(dst, want) {
		t.Errorf("one-hot %v, want %v", dst, want)
	}
	for _, c := range []struct {
		labels []float32
		want   []string
	}{
		{[]float32{0, 3}, []string{"label 3", "sample 1", "[0, 3)"}},
		{[]float32{-1, 0}, []string{"label -1", "sample 0"}},
		{[]float32{1.5, 0}, []string{"label 1.5", "sample 0"}},
		{[]float32{float32(math.NaN()), 0}, []string{"label NaN", "sample 0"}},
		{[]float32{0, 1e10}, []string{"label 1e+10", "sample 1"}},
	} {
		err := (SparseCategoricalCrossentropy{}).Targets(dst, c.labels, 3)
		utWantErr(t, fmt.Sprint("labels ", c.labels), err, c.want...)
	}
	err := (SparseCategoricalCrossentropy{}).Targets(dst, []float32{0}, 3)
	utWantErr(t, "wrong count", err, "1 labels")
	err = (CategoricalCrossentropy{}).Targets(dst, []float32{0, 1}, 3)
	utWantErr(t, "categorical wrong count", err, "2 label values", "6")

	for _, c := range []struct {
		l    graph.Loss
		k    int
		want int
	}{
		{SparseCategoricalCrossentropy{}, 10, 1},
		{CategoricalCrossentropy{}, 10, 10},
		{BinaryCrossentropy{}, 1, 1},
	} {
		if got := c.l.LabelSize(c.k); got != c.want {
			t.Errorf("%s: LabelSize(%d) = %d, want %d", c.l.Name(), c.k, got, c.want)
		}
		l, err := LossByName(c.l.Name())
		if err != nil || l != c.l {
			t.Errorf("LossByName(%q) = %v, %v", c.l.Name(), l, err)
		}
	}
	_, err = LossByName("mse")
	utWantErr(t, "unknown loss", err, `"mse"`)
}
