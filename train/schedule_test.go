package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/capa-ml/capa/graph"
)

func utClose(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-14*math.Max(math.Abs(a), math.Abs(b))
}

// TestScheduleValues checks each schedule against Keras's formulas,
// evaluated by hand (Python's float arithmetic) at chosen steps.
func TestScheduleValues(t *testing.T) {
	cases := []struct {
		name        string
		s           graph.Schedule
		step, epoch int
		base, want  float64
	}{
		{"step decay, first epoch", StepDecay{Factor: 0.5, Every: 3}, 100, 0, 0.1, 0.1},
		{"step decay, end of first period", StepDecay{Factor: 0.5, Every: 3}, 100, 2, 0.1, 0.1},
		{"step decay, second period", StepDecay{Factor: 0.5, Every: 3}, 0, 3, 0.1, 0.05},
		{"step decay, third period", StepDecay{Factor: 0.5, Every: 3}, 0, 8, 0.1, 0.025},

		// Keras: initial_learning_rate * decay_rate ** (step / decay_steps)
		{"exponential, step 0", ExponentialDecay{DecaySteps: 10, DecayRate: 0.96}, 0, 7, 0.1, 0.1},
		{"exponential, step 5", ExponentialDecay{DecaySteps: 10, DecayRate: 0.96}, 5, 0, 0.1, 0.09797958971132713},
		{"exponential, step 10", ExponentialDecay{DecaySteps: 10, DecayRate: 0.96}, 10, 0, 0.1, 0.096},
		{"exponential, step 25", ExponentialDecay{DecaySteps: 10, DecayRate: 0.96}, 25, 0, 0.1, 0.09029798987795908},
		{"staircase, step 9", ExponentialDecay{DecaySteps: 10, DecayRate: 0.96, Staircase: true}, 9, 0, 0.1, 0.1},
		{"staircase, step 25", ExponentialDecay{DecaySteps: 10, DecayRate: 0.96, Staircase: true}, 25, 0, 0.1, 0.09216},

		// Keras: initial * ((1 - alpha) * 0.5 * (1 + cos(pi * min(step, decay_steps) / decay_steps)) + alpha)
		{"cosine, step 0", CosineDecay{DecaySteps: 100}, 0, 0, 1, 1},
		{"cosine, step 25", CosineDecay{DecaySteps: 100}, 25, 0, 1, 0.8535533905932737},
		{"cosine, step 50", CosineDecay{DecaySteps: 100}, 50, 0, 1, 0.5},
		{"cosine, step 100", CosineDecay{DecaySteps: 100}, 100, 0, 1, 0},
		{"cosine, past the end", CosineDecay{DecaySteps: 100}, 150, 0, 1, 0},
		{"cosine alpha, step 25", CosineDecay{DecaySteps: 100, Alpha: 0.1}, 25, 0, 1, 0.8681980515339464},
		{"cosine alpha, step 50", CosineDecay{DecaySteps: 100, Alpha: 0.1}, 50, 0, 1, 0.55},
		{"cosine alpha, past the end", CosineDecay{DecaySteps: 100, Alpha: 0.1}, 1000, 0, 1, 0.1},

		// Keras with warmup_target=base, initial_learning_rate=WarmupFrom:
		// linear from initial to target over warmup_steps, then decay from
		// target over decay_steps.
		{"warmup, step 0", CosineDecay{DecaySteps: 100, WarmupSteps: 10}, 0, 0, 0.01, 0},
		{"warmup, step 5", CosineDecay{DecaySteps: 100, WarmupSteps: 10}, 5, 0, 0.01, 0.005},
		{"warmup from, step 5", CosineDecay{DecaySteps: 100, WarmupSteps: 10, WarmupFrom: 0.001}, 5, 0, 0.01, 0.0055000000000000005},
		{"warmup, peak", CosineDecay{DecaySteps: 100, WarmupSteps: 10}, 10, 0, 0.01, 0.01},
		{"warmup, half decayed", CosineDecay{DecaySteps: 100, WarmupSteps: 10}, 60, 0, 0.01, 0.005},
		{"warmup, decayed", CosineDecay{DecaySteps: 100, WarmupSteps: 10}, 110, 0, 0.01, 0},
		{"warmup, past the end", CosineDecay{DecaySteps: 100, WarmupSteps: 10}, 500, 0, 0.01, 0},

		{"func", ScheduleFunc(func(step, epoch int, base float64) float64 { return base / float64(1+step+epoch) }), 2, 1, 1, 0.25},
	}
	for _, c := range cases {
		if err := checkSchedule(c.s); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if got := c.s.LR(c.step, c.epoch, c.base); !utClose(got, c.want) {
			t.Errorf("%s: LR(%d, %d, %v) = %v, want %v", c.name, c.step, c.epoch, c.base, got, c.want)
		}
	}
}

func TestScheduleValidate(t *testing.T) {
	for _, c := range []struct {
		s    graph.Schedule
		want string
	}{
		{StepDecay{Factor: 0.5}, "every must be at least 1 epoch, got 0"},
		{StepDecay{Every: 2}, "factor must be positive, got 0"},
		{StepDecay{Factor: math.NaN(), Every: 2}, "factor must be positive, got NaN"},
		{ExponentialDecay{DecayRate: 0.9}, "decay steps must be at least 1, got 0"},
		{ExponentialDecay{DecaySteps: 10, DecayRate: -1}, "decay rate must be positive, got -1"},
		{CosineDecay{}, "decay steps must be at least 1, got 0"},
		{CosineDecay{DecaySteps: 10, Alpha: -0.5}, "alpha must be at least 0, got -0.5"},
		{CosineDecay{DecaySteps: 10, WarmupSteps: -1}, "warmup steps (-1)"},
	} {
		err := checkSchedule(c.s)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%#v: error %v, want one with %q", c.s, err, c.want)
		}
	}
	// Fit refuses a bad schedule before training, and a rate that is not a
	// finite number, naming the step.
	tr := utCompile(t, utMLP(t, 1, false), &SGD{})
	d := utData(8, 4, 1)
	_, err := tr.FitContext(context.Background(), d, graph.FitOptions{Schedule: CosineDecay{}, Progress: io.Discard})
	utWantErr(t, "bad schedule", err, "CosineDecay", "decay steps")
	if tr.State.Step != 0 {
		t.Errorf("a bad schedule still trained %d steps", tr.State.Step)
	}
	nan := ScheduleFunc(func(step, _ int, base float64) float64 {
		if step == 1 {
			return math.NaN()
		}
		return base
	})
	_, err = tr.FitContext(context.Background(), d, graph.FitOptions{BatchSize: 4, Schedule: nan, Progress: io.Discard})
	utWantErr(t, "NaN rate", err, "learning rate NaN at step 1")
}

// utLROptimizer is SGD recording the learning rate of each step.
type utLROptimizer struct {
	SGD
	rates map[int]float64
}

func (o *utLROptimizer) Update(w, g []float32, s [][]float32, step int, lr float64) {
	if prev, ok := o.rates[step]; ok && prev != lr {
		panic(fmt.Sprintf("step %d: two rates %v and %v", step, prev, lr))
	}
	o.rates[step] = lr
	o.SGD.Update(w, g, s, step, lr)
}

// TestFitSchedule trains with schedules and checks the rate of every step
// and the "lr" history.
func TestFitSchedule(t *testing.T) {
	d := utData(20, 4, 3) // batches of 6: 4 steps per epoch
	const base = 0.1
	for _, c := range []struct {
		name string
		s    graph.Schedule
		want func(step, epoch int) float64 // rate of step (from 0) in epoch (from 0)
	}{
		{"none", nil, func(int, int) float64 { return base }},
		{"step decay", StepDecay{Factor: 0.5, Every: 2}, func(_, e int) float64 { return base * []float64{1, 1, 0.5, 0.5, 0.25}[e] }},
		{"exponential", ExponentialDecay{DecaySteps: 4, DecayRate: 0.5}, func(s, _ int) float64 { return base * math.Pow(0.5, float64(s)/4) }},
		{"cosine", CosineDecay{DecaySteps: 12, WarmupSteps: 4}, func(s, _ int) float64 {
			if s < 4 {
				return base * float64(s) / 4
			}
			return base * 0.5 * (1 + math.Cos(math.Pi*float64(min(s-4, 12))/12))
		}},
	} {
		opt := &utLROptimizer{SGD: SGD{LearningRate: base}, rates: map[int]float64{}}
		tr := utCompile(t, utMLP(t, 1, false), opt)
		h := utFit(t, tr, d, graph.FitOptions{Epochs: 5, BatchSize: 6, Schedule: c.s})
		if len(opt.rates) != 20 {
			t.Fatalf("%s: %d steps recorded, want 20", c.name, len(opt.rates))
		}
		for step := 0; step < 20; step++ {
			if got, want := opt.rates[step+1], c.want(step, step/4); !utClose(got, want) {
				t.Errorf("%s: step %d (epoch %d) ran at %v, want %v", c.name, step, step/4, got, want)
			}
		}
		if len(h["lr"]) != 5 {
			t.Fatalf("%s: history lr %v, want 5 values", c.name, h["lr"])
		}
		for e, got := range h["lr"] {
			if want := opt.rates[4*e+4]; got != want {
				t.Errorf("%s: history lr of epoch %d is %v, want the rate of its last step %v", c.name, e+1, got, want)
			}
		}
		if tr.State.LearningRate != base {
			t.Errorf("%s: a schedule changed State.LearningRate to %v", c.name, tr.State.LearningRate)
		}
	}
}

// TestFitScheduleResume: a run driven by a per-step schedule, interrupted in
// the middle of an epoch and resumed from its checkpoint, ends with the
// weights, slots and history of an uninterrupted one, bit for bit.
func TestFitScheduleResume(t *testing.T) {
	d := utData(20, 16, 10)
	sched := CosineDecay{DecaySteps: 9, WarmupSteps: 3, WarmupFrom: 0.001, Alpha: 0.05}
	opts := func(cb ...graph.Callback) graph.FitOptions {
		o := utResumeOptions(cb...)
		o.Schedule = sched
		return o
	}
	want := utCompile(t, utCNN(t, 21), &Adam{LearningRate: 0.02})
	utFit(t, want, d, opts())
	if plain := utStraight(t); utBitEqual(plain.Params()[0].Data(), want.Params()[0].Data()) {
		t.Fatal("the schedule did not change training: the test proves nothing")
	}
	if lrs := want.State.History["lr"]; len(lrs) != 3 || lrs[0] == lrs[1] || lrs[1] == lrs[2] {
		t.Fatalf("history lr %v: want three different rates", lrs)
	}

	path := filepath.Join(t.TempDir(), "ckpt.capa")
	ck := &ModelCheckpoint{Path: path}
	tr := utCompile(t, utCNN(t, 21), &Adam{LearningRate: 0.02})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &utCancelWriter{trigger: "Epoch 2/", req: make(chan struct{}), done: make(chan struct{})}
	go func() {
		<-w.req
		cancel()
		close(w.done)
	}()
	o := opts(ck)
	o.Progress = w
	if _, err := tr.FitContext(ctx, d, o); !errors.Is(err, graph.ErrInterrupted) {
		t.Fatalf("Fit cancelled from a goroutine: %v, want graph.ErrInterrupted", err)
	}
	if tr.State.Epoch != 1 || tr.State.Batch != 1 || tr.State.Step != 5 {
		t.Fatalf("state after the interruption: epoch %d batch %d step %d, want 1, 1, 5", tr.State.Epoch, tr.State.Batch, tr.State.Step)
	}
	tr2, err := graph.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	o = opts(ck)
	o.Epochs = 2
	h := utFit(t, tr2, d, o)
	utSameWeights(t, "resumed from a file", tr2, utWeights(want))
	utSameHistory(t, want.State.History, h)
	for name, s := range utSlots(want) {
		for i := range s {
			if !utBitEqual(s[i], utSlots(tr2)[name][i]) {
				t.Errorf("optimizer slot %d of %s differs", i, name)
			}
		}
	}
}

// utPlateau is a fake training loop for ReduceLROnPlateau: it ends epochs
// with the given values of the monitored metric and returns the learning
// rate after each.
func utPlateau(t *testing.T, r *ReduceLROnPlateau, metric string, lr float64, values []float64) []float64 {
	t.Helper()
	tr := &graph.Model{State: graph.State{LearningRate: lr}}
	var got []float64
	for _, v := range values {
		tr.State.Epoch++
		if err := r.OnEpochEnd(tr, graph.Logs{metric: v, "loss": 123}); err != nil {
			t.Fatal(err)
		}
		got = append(got, tr.State.LearningRate)
	}
	return got
}

func TestReduceLROnPlateau(t *testing.T) {
	// Keras's algorithm, step by step (patience 2, cooldown 2, factor 0.5,
	// min_lr 0.2, min_delta 1e-4):
	values := []float64{
		1.0,     // 1: best 1.0
		1.0,     // 2: wait 1
		0.99995, // 3: not better by min_delta: wait 2, lr 0.5, cooldown 2
		1.5,     // 4: cooldown 1, no counting
		1.5,     // 5: cooldown 0 (counted this epoch): wait 1
		1.5,     // 6: wait 2: lr 0.25, cooldown 2
		0.5,     // 7: cooldown 1; best 0.5
		0.6,     // 8: cooldown 0: wait 1
		0.6,     // 9: wait 2: lr max(0.125, min_lr 0.2) = 0.2
		0.6,     // 10: cooldown 1
		0.6,     // 11: cooldown 0: wait 1
		0.6,     // 12: wait 2, but lr is min_lr: no change
		0.6,     // 13: wait 3: no change
		0.4,     // 14: best 0.4
	}
	want := []float64{1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2}
	var log strings.Builder
	r := &ReduceLROnPlateau{Factor: 0.5, Patience: 2, Cooldown: 2, MinLR: 0.2, Log: &log}
	if got := utPlateau(t, r, "val_loss", 1, values); !slices.Equal(got, want) {
		t.Errorf("learning rates %v\nwant %v", got, want)
	}
	if r.Reductions != 3 {
		t.Errorf("%d reductions, want 3", r.Reductions)
	}
	if log.String() != "Epoch 3: ReduceLROnPlateau reducing learning rate to 0.5.\n"+
		"Epoch 6: ReduceLROnPlateau reducing learning rate to 0.25.\n"+
		"Epoch 9: ReduceLROnPlateau reducing learning rate to 0.2.\n" {
		t.Errorf("log:\n%s", log.String())
	}

	// Keras's defaults: factor 0.1 after 10 epochs without an improvement
	// of 1e-4, no cooldown (counting resumes at once).
	flat := []float64{1}
	for i := 0; i < 21; i++ {
		flat = append(flat, 0.99995) // an improvement below min_delta
	}
	got := utPlateau(t, &ReduceLROnPlateau{}, "val_loss", 1, flat)
	for i, lr := range got {
		want := 1.0
		if i >= 10 {
			want = 0.1
		}
		if i >= 20 {
			want *= 0.1 // in float64: 0.010000000000000002
		}
		if lr != want {
			t.Errorf("defaults: epoch %d: lr %v, want %v (all %v)", i+1, lr, want, got)
			break
		}
	}

	// Accuracies are maximized; Patience 1 reduces at the first epoch
	// without improvement.
	got = utPlateau(t, &ReduceLROnPlateau{Monitor: "val_accuracy", Patience: 1, Factor: 0.5}, "val_accuracy", 1,
		[]float64{0.5, 0.6, 0.6, 0.7, 0.65})
	if want := []float64{1, 1, 0.5, 0.5, 0.25}; !slices.Equal(got, want) {
		t.Errorf("val_accuracy: learning rates %v, want %v", got, want)
	}

	// Errors name the argument.
	tr := &graph.Model{State: graph.State{LearningRate: 1}}
	for _, c := range []struct {
		r    *ReduceLROnPlateau
		want string
	}{
		{&ReduceLROnPlateau{Factor: 1}, "factor must be in (0, 1), got 1"},
		{&ReduceLROnPlateau{Factor: -0.5}, "factor must be in (0, 1), got -0.5"},
		{&ReduceLROnPlateau{Cooldown: -1}, "cooldown (-1)"},
		{&ReduceLROnPlateau{Monitor: "val_accuracy"}, `monitors "val_accuracy"`},
	} {
		utWantErr(t, c.want, c.r.OnEpochEnd(tr, graph.Logs{"val_loss": 1}), c.want)
	}
}

// TestReduceLROnPlateauFit: in a real run, the reduced rate is the one the
// next epoch trains with and logs.
func TestReduceLROnPlateauFit(t *testing.T) {
	d := utData(32, 4, 6)
	// Validation labels that disagree with the training labels: val_loss
	// gets worse as the model learns.
	val := graph.Data{X: d.X, Y: make([]float32, 32), N: 32}
	for i, y := range d.Y {
		val.Y[i] = float32((int(y) + 1) % 3)
	}
	opt := &utLROptimizer{SGD: SGD{LearningRate: 0.5}, rates: map[int]float64{}}
	tr := utCompile(t, utMLP(t, 1, false), opt)
	r := &ReduceLROnPlateau{Factor: 0.5, Patience: 1}
	var after []float64
	rec := callbackFunc(func(t *graph.Model, _ graph.Logs) error {
		after = append(after, t.State.LearningRate)
		return nil
	})
	h := utFit(t, tr, d, graph.FitOptions{Epochs: 6, BatchSize: 16, ValidationData: &val, Callbacks: []graph.Callback{r, rec}})
	if r.Reductions == 0 {
		t.Fatalf("no reduction: val_loss %v", h["val_loss"])
	}
	lrs := h["lr"]
	if lrs[0] != 0.5 {
		t.Errorf("first epoch at %v, want 0.5", lrs[0])
	}
	for e := 1; e < 6; e++ {
		if lrs[e] != after[e-1] || opt.rates[2*e+1] != after[e-1] || opt.rates[2*e+2] != after[e-1] {
			t.Errorf("epoch %d trained at %v, %v (logged %v), want the rate set after epoch %d, %v",
				e+1, opt.rates[2*e+1], opt.rates[2*e+2], lrs[e], e, after[e-1])
		}
	}
}

type callbackFunc func(t *graph.Model, logs graph.Logs) error

func (f callbackFunc) OnEpochEnd(t *graph.Model, logs graph.Logs) error { return f(t, logs) }

func ExampleExponentialDecay() {
	// Keras's ExponentialDecay(initial_learning_rate=0.1, decay_steps=100,
	// decay_rate=0.5, staircase=True) is the optimizer's learning rate 0.1
	// with this schedule in FitOptions.
	s := ExponentialDecay{DecaySteps: 100, DecayRate: 0.5, Staircase: true}
	for _, step := range []int{0, 99, 100, 250} {
		fmt.Printf("step %d: %.4f\n", step, s.LR(step, 0, 0.1))
	}
	// Output:
	// step 0: 0.1000
	// step 99: 0.1000
	// step 100: 0.0500
	// step 250: 0.0250
}

// checkSchedule is what Fit calls once before training.
func checkSchedule(s graph.Schedule) error {
	if v, ok := s.(interface{ Validate() error }); ok {
		return v.Validate()
	}
	return nil
}
