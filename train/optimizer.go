package train

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/capa-ml/capa/graph"
)

// The optimizers of this package are graph.Optimizer update rules and
// configuration structs: their exported fields are Keras's arguments, and
// they round-trip through JSON with every value explicit.
//
// Zero is a value. NewSGD, NewAdam, NewRMSprop and NewAdagrad return
// Keras's defaults set explicitly; every field then means what it holds,
// so that NewAdam() with Beta1 set to 0 runs with β1 = 0. A configuration
// (a model file, an experiment) is decoded over those defaults: an absent
// key is Keras's default, an explicit 0 is 0. In a struct literal
// (&train.Adam{LearningRate: 1e-3}), as with Go's zero values elsewhere, a
// field left at 0 means Keras's default. Validate refuses illegal values,
// naming the field.

// SGD is stochastic gradient descent with optional momentum and Nesterov
// momentum, Keras's SGD (learning rate 0.01 by default):
// v = momentum·v - lr·g; w += v (Nesterov: w += momentum·v - lr·g).
type SGD struct {
	LearningRate float64 `json:"learning_rate"`
	Momentum     float64 `json:"momentum"`
	Nesterov     bool    `json:"nesterov"`
	// WeightDecay is decoupled: w -= lr·WeightDecay·w before the update.
	WeightDecay float64 `json:"weight_decay"`

	explicit bool // from NewSGD: zero fields are zero
}

// Adam is Keras's Adam: learning rate 1e-3, beta1 0.9, beta2 0.999,
// epsilon 1e-7, with Keras's update
// w -= lr·sqrt(1-β2ᵗ)/(1-β1ᵗ) · m / (sqrt(v) + ε).
type Adam struct {
	LearningRate float64 `json:"learning_rate"`
	Beta1        float64 `json:"beta_1"`
	Beta2        float64 `json:"beta_2"`
	Epsilon      float64 `json:"epsilon"`
	// WeightDecay is decoupled (AdamW-style): w -= lr·WeightDecay·w.
	WeightDecay float64 `json:"weight_decay"`

	explicit bool // from NewAdam: zero fields are zero
}

// RMSprop is Keras's RMSprop: learning rate 1e-3, rho 0.9, epsilon 1e-7,
// v = ρv + (1-ρ)g²; w -= lr·g / sqrt(v + ε).
type RMSprop struct {
	LearningRate float64 `json:"learning_rate"`
	Rho          float64 `json:"rho"`
	Epsilon      float64 `json:"epsilon"`
	WeightDecay  float64 `json:"weight_decay"`

	explicit bool // from NewRMSprop: zero fields are zero
}

// Adagrad is Keras's Adagrad: learning rate 1e-3, initial accumulator 0.1,
// epsilon 1e-7, a += g²; w -= lr·g / sqrt(a + ε).
type Adagrad struct {
	LearningRate            float64 `json:"learning_rate"`
	InitialAccumulatorValue float64 `json:"initial_accumulator_value"`
	Epsilon                 float64 `json:"epsilon"`
	WeightDecay             float64 `json:"weight_decay"`

	explicit bool // from NewAdagrad: zero fields are zero
}

// NewSGD returns Keras's SGD defaults, explicitly: learning rate 0.01, no
// momentum.
func NewSGD() *SGD { return &SGD{LearningRate: 0.01, explicit: true} }

// NewAdam returns Keras's Adam defaults, explicitly.
func NewAdam() *Adam {
	return &Adam{LearningRate: 1e-3, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-7, explicit: true}
}

// NewRMSprop returns Keras's RMSprop defaults, explicitly.
func NewRMSprop() *RMSprop {
	return &RMSprop{LearningRate: 1e-3, Rho: 0.9, Epsilon: 1e-7, explicit: true}
}

// NewAdagrad returns Keras's Adagrad defaults, explicitly.
func NewAdagrad() *Adagrad {
	return &Adagrad{LearningRate: 1e-3, InitialAccumulatorValue: 0.1, Epsilon: 1e-7, explicit: true}
}

// eff returns the values the optimizer runs with: its fields, with
// Keras's defaults for the zero ones of a struct literal.
func (o SGD) eff() SGD {
	if !o.explicit {
		o.LearningRate = or(o.LearningRate, 0.01)
	}
	return o
}

func (o Adam) eff() Adam {
	if !o.explicit {
		o.LearningRate, o.Beta1, o.Beta2, o.Epsilon = or(o.LearningRate, 1e-3), or(o.Beta1, 0.9), or(o.Beta2, 0.999), or(o.Epsilon, 1e-7)
	}
	return o
}

func (o RMSprop) eff() RMSprop {
	if !o.explicit {
		o.LearningRate, o.Rho, o.Epsilon = or(o.LearningRate, 1e-3), or(o.Rho, 0.9), or(o.Epsilon, 1e-7)
	}
	return o
}

func (o Adagrad) eff() Adagrad {
	if !o.explicit {
		o.LearningRate, o.InitialAccumulatorValue, o.Epsilon = or(o.LearningRate, 1e-3), or(o.InitialAccumulatorValue, 0.1), or(o.Epsilon, 1e-7)
	}
	return o
}

// MarshalJSON writes the values the optimizer runs with, every one
// explicit.
func (o SGD) MarshalJSON() ([]byte, error) { type plain SGD; return json.Marshal(plain(o.eff())) }

// MarshalJSON writes the values the optimizer runs with, every one
// explicit.
func (o Adam) MarshalJSON() ([]byte, error) { type plain Adam; return json.Marshal(plain(o.eff())) }

// MarshalJSON writes the values the optimizer runs with, every one
// explicit.
func (o RMSprop) MarshalJSON() ([]byte, error) {
	type plain RMSprop
	return json.Marshal(plain(o.eff()))
}

// MarshalJSON writes the values the optimizer runs with, every one
// explicit.
func (o Adagrad) MarshalJSON() ([]byte, error) {
	type plain Adagrad
	return json.Marshal(plain(o.eff()))
}

// Validate checks the momentum and the weight decay.
func (o *SGD) Validate() error {
	e := o.eff()
	return firstErr(nonNegative("momentum", e.Momentum), nonNegative("weight_decay", e.WeightDecay))
}

// Validate checks the betas, epsilon and the weight decay.
func (o *Adam) Validate() error {
	e := o.eff()
	return firstErr(unitInterval("beta_1", e.Beta1), unitInterval("beta_2", e.Beta2),
		nonNegative("epsilon", e.Epsilon), nonNegative("weight_decay", e.WeightDecay))
}

// Validate checks rho, epsilon and the weight decay.
func (o *RMSprop) Validate() error {
	e := o.eff()
	return firstErr(unitInterval("rho", e.Rho), nonNegative("epsilon", e.Epsilon), nonNegative("weight_decay", e.WeightDecay))
}

// Validate checks the initial accumulator, epsilon and the weight decay.
func (o *Adagrad) Validate() error {
	e := o.eff()
	return firstErr(nonNegative("initial_accumulator_value", e.InitialAccumulatorValue),
		nonNegative("epsilon", e.Epsilon), nonNegative("weight_decay", e.WeightDecay))
}

func nonNegative(field string, v float64) error {
	if !(v >= 0) || math.IsInf(v, 0) {
		return fmt.Errorf("%s must be a number at least 0, got %v", field, v)
	}
	return nil
}

func unitInterval(field string, v float64) error {
	if !(v >= 0 && v < 1) {
		return fmt.Errorf("%s must be in [0, 1), got %v", field, v)
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func or(v, def float64) float64 {
	if v == 0 {
		return def
	}
	return v
}

func decay(w []float32, lr, wd float64) {
	if wd == 0 {
		return
	}
	f := float32(1 - lr*wd)
	for i := range w {
		w[i] *= f
	}
}

// Class returns "SGD".
func (o *SGD) Class() string { return "SGD" }

// Slots is "momentum" when momentum is used.
func (o *SGD) Slots() []string {
	if o.eff().Momentum == 0 {
		return nil
	}
	return []string{"momentum"}
}

// InitSlot returns 0.
func (o *SGD) InitSlot(string) float32 { return 0 }

// LR returns the learning rate (default 0.01).
func (o *SGD) LR() float64 { return o.eff().LearningRate }

// Update applies one SGD step.
func (o *SGD) Update(w, g []float32, s [][]float32, _ int, lr float64) {
	e := o.eff()
	decay(w, lr, e.WeightDecay)
	l := float32(lr)
	if e.Momentum == 0 {
		for i := range w {
			w[i] -= l * g[i]
		}
		return
	}
	mom, v := float32(e.Momentum), s[0]
	for i := range w {
		v[i] = mom*v[i] - l*g[i]
		if e.Nesterov {
			w[i] += mom*v[i] - l*g[i]
		} else {
			w[i] += v[i]
		}
	}
}

// Class returns "Adam".
func (o *Adam) Class() string { return "Adam" }

// Slots are the first and second moments.
func (o *Adam) Slots() []string { return []string{"m", "v"} }

// InitSlot returns 0.
func (o *Adam) InitSlot(string) float32 { return 0 }

// LR returns the learning rate (default 1e-3).
func (o *Adam) LR() float64 { return o.eff().LearningRate }

// Update applies one Adam step.
func (o *Adam) Update(w, g []float32, s [][]float32, t int, lr float64) {
	e := o.eff()
	decay(w, lr, e.WeightDecay)
	b1, b2, eps := e.Beta1, e.Beta2, e.Epsilon
	alpha := float32(lr * math.Sqrt(1-math.Pow(b2, float64(t))) / (1 - math.Pow(b1, float64(t))))
	m, v := s[0], s[1]
	c1, c2, ep := float32(1-b1), float32(1-b2), float32(eps)
	for i := range w {
		gi := g[i]
		m[i] += (gi - m[i]) * c1
		v[i] += (gi*gi - v[i]) * c2
		w[i] -= alpha * m[i] / (float32(math.Sqrt(float64(v[i]))) + ep)
	}
}

// Class returns "RMSprop".
func (o *RMSprop) Class() string { return "RMSprop" }

// Slots is the running mean of squared gradients.
func (o *RMSprop) Slots() []string { return []string{"velocity"} }

// InitSlot returns 0.
func (o *RMSprop) InitSlot(string) float32 { return 0 }

// LR returns the learning rate (default 1e-3).
func (o *RMSprop) LR() float64 { return o.eff().LearningRate }

// Update applies one RMSprop step.
func (o *RMSprop) Update(w, g []float32, s [][]float32, _ int, lr float64) {
	e := o.eff()
	decay(w, lr, e.WeightDecay)
	rho, eps := float32(e.Rho), e.Epsilon
	v := s[0]
	for i := range w {
		v[i] = rho*v[i] + (1-rho)*g[i]*g[i]
		w[i] -= float32(lr * float64(g[i]) / math.Sqrt(float64(v[i])+eps))
	}
}

// Class returns "Adagrad".
func (o *Adagrad) Class() string { return "Adagrad" }

// Slots is the accumulator of squared gradients.
func (o *Adagrad) Slots() []string { return []string{"accumulator"} }

// InitSlot returns the initial accumulator value (default 0.1).
func (o *Adagrad) InitSlot(string) float32 { return float32(o.eff().InitialAccumulatorValue) }

// LR returns the learning rate (default 1e-3).
func (o *Adagrad) LR() float64 { return o.eff().LearningRate }

// Update applies one Adagrad step.
func (o *Adagrad) Update(w, g []float32, s [][]float32, _ int, lr float64) {
	e := o.eff()
	decay(w, lr, e.WeightDecay)
	eps := e.Epsilon
	a := s[0]
	for i := range w {
		a[i] += g[i] * g[i]
		w[i] -= float32(lr * float64(g[i]) / math.Sqrt(float64(a[i])+eps))
	}
}

func init() {
	graph.RegisterOptimizer("SGD", func() graph.Optimizer { return NewSGD() })
	graph.RegisterOptimizer("Adam", func() graph.Optimizer { return NewAdam() })
	graph.RegisterOptimizer("RMSprop", func() graph.Optimizer { return NewRMSprop() })
	graph.RegisterOptimizer("Adagrad", func() graph.Optimizer { return NewAdagrad() })
}

// NewOptimizer returns an optimizer by class name, case-insensitively
// ("adam", "SGD", "rmsprop", "adagrad"), with the given learning rate
// (0 for Keras's default).
func NewOptimizer(name string, lr float64) (graph.Optimizer, error) {
	for _, class := range graph.OptimizerClasses() {
		if strings.EqualFold(class, name) {
			spec := graph.OptimizerSpec{Class: class}
			if lr != 0 {
				spec.Config, _ = json.Marshal(map[string]float64{"learning_rate": lr})
			}
			return spec.Build()
		}
	}
	return nil, fmt.Errorf("train: unknown optimizer %q (known: %s)", name, strings.Join(graph.OptimizerClasses(), ", "))
}
