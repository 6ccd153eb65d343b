package train

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/capa-ml/capa/graph"
)

// The optimizers of this package are graph.Optimizer update rules and
// configuration structs: their exported fields are Keras's arguments, zero
// meaning Keras's default, and they round-trip through JSON.

// SGD is stochastic gradient descent with optional momentum and Nesterov
// momentum, Keras's SGD (learning rate 0.01 by default):
// v = momentum·v - lr·g; w += v (Nesterov: w += momentum·v - lr·g).
type SGD struct {
	LearningRate float64 `json:"learning_rate,omitempty"`
	Momentum     float64 `json:"momentum,omitempty"`
	Nesterov     bool    `json:"nesterov,omitempty"`
	// WeightDecay is decoupled: w -= lr·WeightDecay·w before the update.
	WeightDecay float64 `json:"weight_decay,omitempty"`
}

// Adam is Keras's Adam: learning rate 1e-3, beta1 0.9, beta2 0.999,
// epsilon 1e-7, with Keras's update
// w -= lr·sqrt(1-β2ᵗ)/(1-β1ᵗ) · m / (sqrt(v) + ε).
type Adam struct {
	LearningRate float64 `json:"learning_rate,omitempty"`
	Beta1        float64 `json:"beta_1,omitempty"`
	Beta2        float64 `json:"beta_2,omitempty"`
	Epsilon      float64 `json:"epsilon,omitempty"`
	// WeightDecay is decoupled (AdamW-style): w -= lr·WeightDecay·w.
	WeightDecay float64 `json:"weight_decay,omitempty"`
}

// RMSprop is Keras's RMSprop: learning rate 1e-3, rho 0.9, epsilon 1e-7,
// v = ρv + (1-ρ)g²; w -= lr·g / sqrt(v + ε).
type RMSprop struct {
	LearningRate float64 `json:"learning_rate,omitempty"`
	Rho          float64 `json:"rho,omitempty"`
	Epsilon      float64 `json:"epsilon,omitempty"`
	WeightDecay  float64 `json:"weight_decay,omitempty"`
}

// Adagrad is Keras's Adagrad: learning rate 1e-3, initial accumulator 0.1,
// epsilon 1e-7, a += g²; w -= lr·g / sqrt(a + ε).
type Adagrad struct {
	LearningRate            float64 `json:"learning_rate,omitempty"`
	InitialAccumulatorValue float64 `json:"initial_accumulator_value,omitempty"`
	Epsilon                 float64 `json:"epsilon,omitempty"`
	WeightDecay             float64 `json:"weight_decay,omitempty"`
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
	if o.Momentum == 0 {
		return nil
	}
	return []string{"momentum"}
}

// InitSlot returns 0.
func (o *SGD) InitSlot(string) float32 { return 0 }

// LR returns the learning rate (default 0.01).
func (o *SGD) LR() float64 { return or(o.LearningRate, 0.01) }

// Update applies one SGD step.
func (o *SGD) Update(w, g []float32, s [][]float32, _ int, lr float64) {
	decay(w, lr, o.WeightDecay)
	l := float32(lr)
	if o.Momentum == 0 {
		for i := range w {
			w[i] -= l * g[i]
		}
		return
	}
	mom, v := float32(o.Momentum), s[0]
	for i := range w {
		v[i] = mom*v[i] - l*g[i]
		if o.Nesterov {
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
func (o *Adam) LR() float64 { return or(o.LearningRate, 1e-3) }

// Update applies one Adam step.
func (o *Adam) Update(w, g []float32, s [][]float32, t int, lr float64) {
	decay(w, lr, o.WeightDecay)
	b1, b2, eps := or(o.Beta1, 0.9), or(o.Beta2, 0.999), or(o.Epsilon, 1e-7)
	alpha := float32(lr * math.Sqrt(1-math.Pow(b2, float64(t))) / (1 - math.Pow(b1, float64(t))))
	m, v := s[0], s[1]
	c1, c2, e := float32(1-b1), float32(1-b2), float32(eps)
	for i := range w {
		gi := g[i]
		m[i] += (gi - m[i]) * c1
		v[i] += (gi*gi - v[i]) * c2
		w[i] -= alpha * m[i] / (float32(math.Sqrt(float64(v[i]))) + e)
	}
}

// Class returns "RMSprop".
func (o *RMSprop) Class() string { return "RMSprop" }

// Slots is the running mean of squared gradients.
func (o *RMSprop) Slots() []string { return []string{"velocity"} }

// InitSlot returns 0.
func (o *RMSprop) InitSlot(string) float32 { return 0 }

// LR returns the learning rate (default 1e-3).
func (o *RMSprop) LR() float64 { return or(o.LearningRate, 1e-3) }

// Update applies one RMSprop step.
func (o *RMSprop) Update(w, g []float32, s [][]float32, _ int, lr float64) {
	decay(w, lr, o.WeightDecay)
	rho, eps := float32(or(o.Rho, 0.9)), or(o.Epsilon, 1e-7)
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
func (o *Adagrad) InitSlot(string) float32 { return float32(or(o.InitialAccumulatorValue, 0.1)) }

// LR returns the learning rate (default 1e-3).
func (o *Adagrad) LR() float64 { return or(o.LearningRate, 1e-3) }

// Update applies one Adagrad step.
func (o *Adagrad) Update(w, g []float32, s [][]float32, _ int, lr float64) {
	decay(w, lr, o.WeightDecay)
	eps := or(o.Epsilon, 1e-7)
	a := s[0]
	for i := range w {
		a[i] += g[i] * g[i]
		w[i] -= float32(lr * float64(g[i]) / math.Sqrt(float64(a[i])+eps))
	}
}

func init() {
	graph.RegisterOptimizer("SGD", func() graph.Optimizer { return &SGD{} })
	graph.RegisterOptimizer("Adam", func() graph.Optimizer { return &Adam{} })
	graph.RegisterOptimizer("RMSprop", func() graph.Optimizer { return &RMSprop{} })
	graph.RegisterOptimizer("Adagrad", func() graph.Optimizer { return &Adagrad{} })
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
