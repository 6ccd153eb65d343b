package train

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/capa-ml/capa/graph"
)

// utSteps runs two Update steps of o on a two-element weight vector with
// the gradients g1 then g2, the slots initialized as the Trainer does, and
// returns the weights after each step and the final slots.
func utSteps(o graph.Optimizer, w0 []float32, g1, g2 []float32, lr float64) (w1, w2 []float32, slots [][]float32) {
	w := append([]float32(nil), w0...)
	for _, name := range o.Slots() {
		s := make([]float32, len(w))
		for i := range s {
			s[i] = o.InitSlot(name)
		}
		slots = append(slots, s)
	}
	o.Update(w, g1, slots, 1, lr)
	w1 = append([]float32(nil), w...)
	o.Update(w, g2, slots, 2, lr)
	return w1, append([]float32(nil), w...), slots
}

func utNear(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i]) - want[i]); d > tol*math.Max(1, math.Abs(want[i])) || math.IsNaN(float64(got[i])) {
			t.Errorf("%s[%d] = %.9g, want %.9g", what, i, got[i], want[i])
		}
	}
}

var (
	utW0 = []float32{1, -2}
	utG1 = []float32{0.5, 2}
	utG2 = []float32{-0.25, 1}
)

func TestSGD(t *testing.T) {
	// Plain: w -= lr·g.  1 - 0.05 = 0.95; 0.95 + 0.025 = 0.975.
	w1, w2, _ := utSteps(&SGD{}, utW0, utG1, utG2, 0.1)
	utNear(t, "sgd step 1", w1, []float64{0.95, -2.2}, 1e-7)
	utNear(t, "sgd step 2", w2, []float64{0.975, -2.3}, 1e-7)

	// Momentum 0.9: v1 = -0.05, w1 = 0.95; v2 = -0.045 + 0.025 = -0.02, w2 = 0.93.
	// Second element: v1 = -0.2, w1 = -2.2; v2 = -0.18 - 0.1 = -0.28, w2 = -2.48.
	w1, w2, s := utSteps(&SGD{Momentum: 0.9}, utW0, utG1, utG2, 0.1)
	utNear(t, "momentum step 1", w1, []float64{0.95, -2.2}, 1e-7)
	utNear(t, "momentum step 2", w2, []float64{0.93, -2.48}, 1e-7)
	utNear(t, "momentum slot", s[0], []float64{-0.02, -0.28}, 1e-7)

	// Nesterov: w += m·v - lr·g.  w1 = 1 + 0.9·(-0.05) - 0.05 = 0.905;
	// w2 = 0.905 + 0.9·(-0.02) + 0.025 = 0.912.
	// Second: w1 = -2 - 0.18 - 0.2 = -2.38; w2 = -2.38 + 0.9·(-0.28) - 0.1 = -2.732.
	w1, w2, _ = utSteps(&SGD{Momentum: 0.9, Nesterov: true}, utW0, utG1, utG2, 0.1)
	utNear(t, "nesterov step 1", w1, []float64{0.905, -2.38}, 1e-7)
	utNear(t, "nesterov step 2", w2, []float64{0.912, -2.732}, 1e-7)

	// Decoupled weight decay 0.1 at lr 0.1: w·0.99 first.
	// 0.99 - 0.05 = 0.94; 0.94·0.99 + 0.025 = 0.9556.
	w1, w2, _ = utSteps(&SGD{WeightDecay: 0.1}, utW0, utG1, utG2, 0.1)
	utNear(t, "sgd decay step 1", w1, []float64{0.94, -1.98 - 0.2}, 1e-7)
	utNear(t, "sgd decay step 2", w2, []float64{0.9556, -2.18*0.99 - 0.1}, 1e-7)

	if got := (&SGD{}).LR(); got != 0.01 {
		t.Errorf("SGD default learning rate %v, want 0.01", got)
	}
	if s := (&SGD{}).Slots(); len(s) != 0 {
		t.Errorf("SGD without momentum has slots %v", s)
	}
}

// utAdam is Keras's Adam on one scalar, in float64.
func utAdam(w float64, gs []float64, lr, b1, b2, eps, wd float64) []float64 {
	var m, v float64
	var out []float64
	for i, g := range gs {
		t := float64(i + 1)
		w -= lr * wd * w
		m += (g - m) * (1 - b1)
		v += (g*g - v) * (1 - b2)
		alpha := lr * math.Sqrt(1-math.Pow(b2, t)) / (1 - math.Pow(b1, t))
		w -= alpha * m / (math.Sqrt(v) + eps)
		out = append(out, w)
	}
	return out
}

func TestAdam(t *testing.T) {
	check := func(what string, o *Adam, lr, b1, b2, eps, wd float64) {
		t.Helper()
		w1, w2, s := utSteps(o, utW0, utG1, utG2, lr)
		for i := range utW0 {
			want := utAdam(float64(utW0[i]), []float64{float64(utG1[i]), float64(utG2[i])}, lr, b1, b2, eps, wd)
			utNear(t, what+" step 1", w1[i:i+1], want[:1], 1e-6)
			utNear(t, what+" step 2", w2[i:i+1], want[1:], 1e-6)
		}
		// m = 0.1·g1·0.9 + 0.1·g2 (β1 = 0.9) etc.
		wantM := []float64{(1 - b1) * (b1*float64(utG1[0]) + float64(utG2[0])), (1 - b1) * (b1*float64(utG1[1]) + float64(utG2[1]))}
		utNear(t, what+" m", s[0], wantM, 1e-6)
	}
	// Hand check of the first step: m = 0.05, v = 0.00025, alpha =
	// 0.1·sqrt(0.001)/0.1 = 0.0316228; step = alpha·0.05/(0.0158114+1e-7)
	// = 0.0999994, so w1 = 0.9000006.
	w1, _, _ := utSteps(&Adam{}, utW0, utG1, utG2, 0.1)
	utNear(t, "adam hand", w1[:1], []float64{0.9000006}, 1e-7)

	check("adam defaults", &Adam{}, 0.1, 0.9, 0.999, 1e-7, 0)
	check("adam custom", &Adam{Beta1: 0.5, Beta2: 0.9, Epsilon: 1e-3}, 0.05, 0.5, 0.9, 1e-3, 0)
	check("adam decay", &Adam{WeightDecay: 0.2}, 0.1, 0.9, 0.999, 1e-7, 0.2)

	if got := (&Adam{}).LR(); got != 1e-3 {
		t.Errorf("Adam default learning rate %v, want 1e-3", got)
	}
	// The default epsilon is Keras's 1e-7, visible with a tiny gradient:
	// the step is lr·sqrt(0.001)/0.1 · 1e-8/(sqrt(1e-17)+eps).
	w := []float32{0}
	(&Adam{}).Update(w, []float32{1e-7}, [][]float32{{0}, {0}}, 1, 1)
	want := -math.Sqrt(0.001) / 0.1 * 1e-8 / (math.Sqrt(1e-17) + 1e-7)
	utNear(t, "adam epsilon 1e-7", w, []float64{want}, 1e-5)
	if other := -math.Sqrt(0.001) / 0.1 * 1e-8 / (math.Sqrt(1e-17) + 1e-8); math.Abs(want-other) < 0.1 {
		t.Fatal("the epsilon probe does not discriminate")
	}
}

func TestRMSprop(t *testing.T) {
	rms := func(w float64, gs []float64, lr, rho, eps, wd float64) []float64 {
		var v float64
		var out []float64
		for _, g := range gs {
			w -= lr * wd * w
			v = rho*v + (1-rho)*g*g
			w -= lr * g / math.Sqrt(v+eps)
			out = append(out, w)
		}
		return out
	}
	for _, c := range []struct {
		o                graph.Optimizer
		lr, rho, eps, wd float64
	}{
		{&RMSprop{}, 0.01, 0.9, 1e-7, 0},
		{&RMSprop{Rho: 0.5, Epsilon: 0.1, WeightDecay: 0.3}, 0.02, 0.5, 0.1, 0.3},
	} {
		w1, w2, _ := utSteps(c.o, utW0, utG1, utG2, c.lr)
		for i := range utW0 {
			want := rms(float64(utW0[i]), []float64{float64(utG1[i]), float64(utG2[i])}, c.lr, c.rho, c.eps, c.wd)
			utNear(t, "rmsprop step 1", w1[i:i+1], want[:1], 1e-6)
			utNear(t, "rmsprop step 2", w2[i:i+1], want[1:], 1e-6)
		}
	}
	// Hand check: v = 0.1·0.25 = 0.025, w1 = 1 - 0.01·0.5/sqrt(0.025+1e-7) = 0.968377.
	w1, _, _ := utSteps(&RMSprop{}, utW0, utG1, utG2, 0.01)
	utNear(t, "rmsprop hand", w1[:1], []float64{1 - 0.005/math.Sqrt(0.0250001)}, 1e-7)
	if got := (&RMSprop{}).LR(); got != 1e-3 {
		t.Errorf("RMSprop default learning rate %v, want 1e-3", got)
	}
}

func TestAdagrad(t *testing.T) {
	// Defaults: accumulator 0.1, epsilon 1e-7. a1 = 0.35,
	// w1 = 1 - lr·0.5/sqrt(0.35); a2 = 0.4125, w2 = w1 + lr·0.25/sqrt(0.4125).
	lr := 0.1
	w1, w2, s := utSteps(&Adagrad{}, utW0, utG1, utG2, lr)
	a1, a2 := 0.1+0.25, 0.1+0.25+0.0625
	b1, b2 := 0.1+4, 0.1+4+1
	utNear(t, "adagrad step 1", w1, []float64{1 - lr*0.5/math.Sqrt(a1+1e-7), -2 - lr*2/math.Sqrt(b1+1e-7)}, 1e-6)
	utNear(t, "adagrad step 2", w2, []float64{
		1 - lr*0.5/math.Sqrt(a1+1e-7) + lr*0.25/math.Sqrt(a2+1e-7),
		-2 - lr*2/math.Sqrt(b1+1e-7) - lr*1/math.Sqrt(b2+1e-7)}, 1e-6)
	utNear(t, "adagrad accumulator", s[0], []float64{a2, b2}, 1e-6)

	// Custom accumulator and decay.
	w1, _, _ = utSteps(&Adagrad{InitialAccumulatorValue: 1, WeightDecay: 0.5}, utW0, utG1, utG2, lr)
	utNear(t, "adagrad custom", w1[:1], []float64{0.95 - lr*0.5/math.Sqrt(1.25+1e-7)}, 1e-6)

	if got := (&Adagrad{}).LR(); got != 1e-3 {
		t.Errorf("Adagrad default learning rate %v, want 1e-3", got)
	}
	if got := (&Adagrad{}).InitSlot("accumulator"); got != float32(0.1) {
		t.Errorf("Adagrad initial accumulator %v, want 0.1", got)
	}
}

// TestTrainerSlotsInit checks that the Trainer starts each slot at the
// optimizer's InitSlot value, keyed by parameter name.
func TestTrainerSlotsInit(t *testing.T) {
	m := utMLP(t, 1, false)
	tr, err := utCompile2(m, &Adagrad{}, SparseCategoricalCrossentropy{})
	if err != nil {
		t.Fatal(err)
	}
	p := m.Params()[0]
	s := tr.OptimizerSlots(p)
	if len(s) != 1 || len(s[0]) != p.Size() || s[0][0] != float32(0.1) || s[0][p.Size()-1] != float32(0.1) {
		t.Errorf("Adagrad slot of %s: %d slots, %v...", p.Name, len(s), s[0][:2])
	}
	if &tr.OptimizerSlots(p)[0][0] != &s[0][0] {
		t.Error("slotsOf does not keep the slots")
	}
}

func TestNewOptimizer(t *testing.T) {
	for _, c := range []struct {
		name, class string
		lr, wantLR  float64
	}{
		{"adam", "Adam", 0, 1e-3},
		{"ADAM", "Adam", 0.01, 0.01},
		{"sgd", "SGD", 0, 0.01},
		{"Sgd", "SGD", 0.5, 0.5},
		{"RmsProp", "RMSprop", 0, 1e-3},
		{"adagrad", "Adagrad", 0.2, 0.2},
	} {
		o, err := NewOptimizer(c.name, c.lr)
		if err != nil {
			t.Errorf("NewOptimizer(%q): %v", c.name, err)
			continue
		}
		if o.Class() != c.class || o.LR() != c.wantLR {
			t.Errorf("NewOptimizer(%q, %v) = %s with lr %v, want %s with %v", c.name, c.lr, o.Class(), o.LR(), c.class, c.wantLR)
		}
	}
	_, err := NewOptimizer("adamw", 0)
	if err == nil || !strings.Contains(err.Error(), `"adamw"`) || !strings.Contains(err.Error(), "Adagrad, Adam, RMSprop, SGD") {
		t.Errorf("unknown optimizer: %v", err)
	}
}

func TestOptimizerSpecRoundTrip(t *testing.T) {
	for _, o := range []graph.Optimizer{
		&SGD{LearningRate: 0.1, Momentum: 0.9, Nesterov: true, WeightDecay: 1e-4},
		&Adam{LearningRate: 3e-4, Beta1: 0.8, Beta2: 0.99, Epsilon: 1e-6, WeightDecay: 0.01},
		&RMSprop{LearningRate: 0.01, Rho: 0.8, Epsilon: 1e-5},
		&Adagrad{InitialAccumulatorValue: 0.5},
	} {
		s, err := graph.SpecOfOptimizer(o)
		if err != nil {
			t.Fatal(err)
		}
		js, _ := json.Marshal(s)
		var back graph.OptimizerSpec
		if err := json.Unmarshal(js, &back); err != nil {
			t.Fatal(err)
		}
		o2, err := back.Build()
		if err != nil {
			t.Fatal(err)
		}
		a, _ := json.Marshal(o)
		b, _ := json.Marshal(o2)
		if o2.Class() != o.Class() || string(a) != string(b) {
			t.Errorf("%s: %s became %s %s", o.Class(), a, o2.Class(), b)
		}
	}
	_, err := graph.OptimizerSpec{Class: "Lion", Config: json.RawMessage(`{}`)}.Build()
	if err == nil || !strings.Contains(err.Error(), `"Lion"`) {
		t.Errorf("unknown optimizer class: %v", err)
	}
}
