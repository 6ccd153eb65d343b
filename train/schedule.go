package train

import (
	"encoding/json"
	"fmt"
	"io"
	"math"

	"github.com/capa-ml/capa/graph"
)

// The schedules of this package are graph.Schedule learning-rate
// schedules, Keras's LearningRateSchedule; see graph.Schedule for when Fit
// calls them. Each has a Validate method that Fit calls once.

// ScheduleFunc adapts a function to a Schedule, like Keras's
// LearningRateScheduler callback (which is given epoch and rate).
type ScheduleFunc func(step, epoch int, base float64) float64

// LR returns f(step, epoch, base).
func (f ScheduleFunc) LR(step, epoch int, base float64) float64 { return f(step, epoch, base) }

// StepDecay multiplies the learning rate by Factor every Every epochs:
// lr = base·Factor^⌊epoch/Every⌋, epochs counted from 0, so that with Every 10
// epochs 1-10 run at base and epochs 11-20 at base·Factor. Keras has no class
// for it; it is the usual LearningRateScheduler function.
type StepDecay struct {
	Factor float64 `json:"factor"`
	Every  int     `json:"every"`
}

// LR returns base·Factor^⌊epoch/Every⌋.
func (s StepDecay) LR(_, epoch int, base float64) float64 {
	return base * math.Pow(s.Factor, float64(epoch/s.Every))
}

// Validate checks that Factor is positive and finite and Every at least 1.
func (s StepDecay) Validate() error {
	if !(s.Factor > 0) || math.IsInf(s.Factor, 0) {
		return fmt.Errorf("train: StepDecay: factor must be positive, got %v", s.Factor)
	}
	if s.Every < 1 {
		return fmt.Errorf("train: StepDecay: every must be at least 1 epoch, got %d", s.Every)
	}
	return nil
}

// ExponentialDecay is Keras's ExponentialDecay, per optimizer step:
// lr = base·DecayRate^(step/DecaySteps), the exponent rounded down with
// Staircase. Keras's initial_learning_rate is base.
type ExponentialDecay struct {
	DecaySteps int     `json:"decay_steps"`
	DecayRate  float64 `json:"decay_rate"`
	Staircase  bool    `json:"staircase"`
}

// LR returns base·DecayRate^(step/DecaySteps).
func (s ExponentialDecay) LR(step, _ int, base float64) float64 {
	p := float64(step) / float64(s.DecaySteps)
	if s.Staircase {
		p = math.Floor(p)
	}
	return base * math.Pow(s.DecayRate, p)
}

// Validate checks that DecaySteps is at least 1 and DecayRate positive.
func (s ExponentialDecay) Validate() error {
	if s.DecaySteps < 1 {
		return fmt.Errorf("train: ExponentialDecay: decay steps must be at least 1, got %d", s.DecaySteps)
	}
	if !(s.DecayRate > 0) || math.IsInf(s.DecayRate, 0) {
		return fmt.Errorf("train: ExponentialDecay: decay rate must be positive, got %v", s.DecayRate)
	}
	return nil
}

// CosineDecay is Keras's CosineDecay, per optimizer step, with its optional
// linear warmup. Without warmup, over DecaySteps steps the rate goes from
// base to Alpha·base along half a cosine, then stays there:
// lr = base·((1-Alpha)·½(1+cos(π·min(step, DecaySteps)/DecaySteps)) + Alpha).
// With WarmupSteps > 0 it first rises linearly from WarmupFrom (default 0)
// to base over WarmupSteps steps, then decays from base as above, step
// counted from the warmup's end.
//
// In Keras's terms base is initial_learning_rate without warmup and
// warmup_target with it; WarmupFrom is then Keras's initial_learning_rate.
type CosineDecay struct {
	DecaySteps  int     `json:"decay_steps"`
	Alpha       float64 `json:"alpha"`
	WarmupSteps int     `json:"warmup_steps"`
	WarmupFrom  float64 `json:"warmup_from"`
}

// LR returns the cosine-decayed rate, or the warmup's.
func (s CosineDecay) LR(step, _ int, base float64) float64 {
	t := float64(step)
	if s.WarmupSteps > 0 {
		if step < s.WarmupSteps {
			return (base-s.WarmupFrom)*(t/float64(s.WarmupSteps)) + s.WarmupFrom
		}
		t -= float64(s.WarmupSteps)
	}
	d := float64(s.DecaySteps)
	t = min(t, d)
	c := 0.5 * (1 + math.Cos(math.Pi*(t/d)))
	return base * ((1-s.Alpha)*c + s.Alpha)
}

// Validate checks that DecaySteps is at least 1, and Alpha, WarmupSteps and
// WarmupFrom are not negative.
func (s CosineDecay) Validate() error {
	if s.DecaySteps < 1 {
		return fmt.Errorf("train: CosineDecay: decay steps must be at least 1, got %d", s.DecaySteps)
	}
	if !(s.Alpha >= 0) || math.IsInf(s.Alpha, 0) {
		return fmt.Errorf("train: CosineDecay: alpha must be at least 0, got %v", s.Alpha)
	}
	if s.WarmupSteps < 0 || !(s.WarmupFrom >= 0) || math.IsInf(s.WarmupFrom, 0) {
		return fmt.Errorf("train: CosineDecay: warmup steps (%d) and warmup start rate (%v) must be at least 0", s.WarmupSteps, s.WarmupFrom)
	}
	return nil
}

// ReduceLROnPlateau is Keras's ReduceLROnPlateau callback: when the
// monitored metric has not improved for Patience epochs, it multiplies
// State.LearningRate by Factor, down to MinLR, then waits Cooldown epochs
// before counting again. Its decisions are exactly Keras's (which, counting
// the epoch that ends a cooldown, makes Cooldown 1 act as 0, and Patience 0
// as 1).
//
// With a Schedule, the lowered State.LearningRate is the schedule's base:
// the whole curve is scaled down. The reduced rate is saved with the trainer
// (State.LearningRate); the callback's own counters are not (nor are Keras's
// or EarlyStopping's), so a run resumed from a file starts counting afresh.
// List it before ModelCheckpoint so that a checkpoint holds the reduced rate.
//
// NewReduceLROnPlateau returns Keras's defaults explicitly, after which
// every field means what it holds (Patience 0 reduces at the first epoch
// without improvement, MinDelta 0 counts any improvement); a configuration
// is decoded over them. In a struct literal a zero Factor, Patience or
// MinDelta means Keras's default.
type ReduceLROnPlateau struct {
	// Monitor is the metric, "val_loss" by default. Metrics whose name
	// contains "acc" are maximized, others minimized.
	Monitor string `json:"monitor"`
	// Factor multiplies the rate at each reduction, 0.1 by default; it must
	// be in (0, 1).
	Factor float64 `json:"factor"`
	// Patience is the number of epochs without improvement after which the
	// rate is reduced, 10 by default.
	Patience int `json:"patience"`
	// MinDelta is the smallest change that counts as an improvement, 1e-4
	// by default.
	MinDelta float64 `json:"min_delta"`
	// Cooldown is the number of epochs to wait after a reduction.
	Cooldown int `json:"cooldown"`
	// MinLR is the lowest rate a reduction gives.
	MinLR float64 `json:"min_lr"`
	// Log, if set, receives a line at each reduction (Keras's verbose=1).
	Log io.Writer `json:"-"`

	explicit bool // from NewReduceLROnPlateau: zero fields are zero

	best     float64
	started  bool
	wait     int
	cooldown int
	// Reductions counts the reductions made so far.
	Reductions int `json:"-"`
}

// NewReduceLROnPlateau returns Keras's defaults, explicitly: monitor
// val_loss, factor 0.1, patience 10, min_delta 1e-4, no cooldown, min_lr 0.
func NewReduceLROnPlateau() *ReduceLROnPlateau {
	return &ReduceLROnPlateau{Monitor: "val_loss", Factor: 0.1, Patience: 10, MinDelta: 1e-4, explicit: true}
}

// eff returns the values the callback runs with.
func (r *ReduceLROnPlateau) eff() ReduceLROnPlateau {
	e := *r
	e.Monitor = monitorOf(e.Monitor)
	if !e.explicit {
		e.Factor = or(e.Factor, 0.1)
		e.MinDelta = or(e.MinDelta, 1e-4)
		if e.Patience == 0 {
			e.Patience = 10
		}
	}
	return e
}

// MarshalJSON writes the values the callback runs with, every one
// explicit.
func (r *ReduceLROnPlateau) MarshalJSON() ([]byte, error) {
	type plain ReduceLROnPlateau
	e := r.eff()
	return json.Marshal((*plain)(&e))
}

// Validate checks the factor, the patience, the cooldown, the minimum
// delta and the minimum rate.
func (r *ReduceLROnPlateau) Validate() error {
	e := r.eff()
	if !(e.Factor > 0 && e.Factor < 1) {
		return fmt.Errorf("factor must be in (0, 1), got %v", e.Factor)
	}
	if e.Patience < 0 || e.Cooldown < 0 {
		return fmt.Errorf("patience (%d) and cooldown (%d) must be at least 0", e.Patience, e.Cooldown)
	}
	return firstErr(nonNegative("min_delta", e.MinDelta), nonNegative("min_lr", e.MinLR))
}

// OnEpochEnd counts the epochs without improvement and lowers
// m.State.LearningRate.
func (r *ReduceLROnPlateau) OnEpochEnd(m *graph.Model, logs graph.Logs) error {
	if err := r.Validate(); err != nil {
		return fmt.Errorf("train: ReduceLROnPlateau: %w", err)
	}
	e := r.eff()
	mon, factor, patience := e.Monitor, e.Factor, e.Patience
	v, ok := logs[mon]
	if !ok {
		return fmt.Errorf("train: ReduceLROnPlateau monitors %q, which this run does not log (give validation data for val_ metrics)", mon)
	}
	if !r.started {
		r.started, r.best = true, math.Inf(1)
		if better(mon, 1, 0, 0) { // maximized
			r.best = math.Inf(-1)
		}
	}
	if r.cooldown > 0 {
		r.cooldown--
		r.wait = 0
	}
	switch {
	case better(mon, v, r.best, e.MinDelta):
		r.best, r.wait = v, 0
	case r.cooldown == 0:
		r.wait++
		old := m.State.LearningRate
		if r.wait >= patience && old > e.MinLR {
			m.State.LearningRate = max(old*factor, e.MinLR)
			r.cooldown, r.wait = e.Cooldown, 0
			r.Reductions++
			if r.Log != nil {
				fmt.Fprintf(r.Log, "Epoch %d: ReduceLROnPlateau reducing learning rate to %v.\n", m.State.Epoch, m.State.LearningRate)
			}
		}
	}
	return nil
}

func init() {
	graph.RegisterSchedule("StepDecay", func() graph.Schedule { return &StepDecay{} })
	graph.RegisterSchedule("ExponentialDecay", func() graph.Schedule { return &ExponentialDecay{} })
	graph.RegisterSchedule("CosineDecay", func() graph.Schedule { return &CosineDecay{} })
	graph.RegisterCallback("ReduceLROnPlateau", func() graph.Callback { return NewReduceLROnPlateau() })
}
