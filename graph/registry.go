package graph

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
)

// The registries below, with the layer registries of spec.go, are Capa's
// serialization registries, as Keras's: every class a model file can name
// registers by name, and its config (a JSON object) round-trips. Package
// train registers Keras's optimizers and losses, package augment its
// layers; a user's own types register the same way, from an init function.
var registries = struct {
	sync.RWMutex
	optimizers map[string]func() Optimizer
	losses     map[string]LossFactory
}{optimizers: map[string]func() Optimizer{}, losses: map[string]LossFactory{}}

// RegisterOptimizer makes an optimizer class known to Load and to
// OptimizerFromConfig. new returns a fresh optimizer with Keras's defaults,
// a pointer that JSON decodes its config into. It panics if the class is
// taken, as registering twice is a programming error.
func RegisterOptimizer(class string, new func() Optimizer) {
	registries.Lock()
	defer registries.Unlock()
	if _, dup := registries.optimizers[class]; dup {
		panic("graph: optimizer " + class + " registered twice")
	}
	registries.optimizers[class] = new
}

// OptimizerClasses returns the registered optimizer classes, sorted.
func OptimizerClasses() []string {
	registries.RLock()
	defer registries.RUnlock()
	return slices.Sorted(maps.Keys(registries.optimizers))
}

// OptimizerSpec is an optimizer's serialized form, as Keras's:
// {"class_name": "Adam", "config": {...}}.
type OptimizerSpec struct {
	Class  string          `json:"class_name"`
	Config json.RawMessage `json:"config"`
}

// SpecOfOptimizer returns o's serialized form.
func SpecOfOptimizer(o Optimizer) (OptimizerSpec, error) {
	b, err := json.Marshal(o)
	if err != nil {
		return OptimizerSpec{}, fmt.Errorf("graph: optimizer %s config: %w", o.Class(), err)
	}
	return OptimizerSpec{Class: o.Class(), Config: b}, nil
}

// Build creates the optimizer the spec describes (its class must be
// registered); unknown configuration fields are an error.
func (s OptimizerSpec) Build() (Optimizer, error) {
	registries.RLock()
	f, ok := registries.optimizers[s.Class]
	registries.RUnlock()
	if !ok {
		return nil, fmt.Errorf("graph: unknown optimizer class %q (known: %s; Capa's own register with package train)", s.Class, strings.Join(OptimizerClasses(), ", "))
	}
	o := f()
	if len(s.Config) > 0 {
		if err := StrictJSON(s.Config, o); err != nil {
			return nil, fmt.Errorf("graph: optimizer %s config %s: %w", s.Class, s.Config, err)
		}
	}
	if lr := o.LR(); !(lr > 0) {
		return nil, fmt.Errorf("graph: optimizer %s: learning rate must be positive, got %v", s.Class, lr)
	}
	return o, nil
}

// LossFactory makes a loss from its Keras config (a JSON object, such as
// {"from_logits": true}; empty for the defaults).
type LossFactory func(config []byte) (Loss, error)

// RegisterLoss makes a loss known by its Keras name to Load and to
// LossFromConfig. It panics if the name is taken.
func RegisterLoss(name string, f LossFactory) {
	registries.Lock()
	defer registries.Unlock()
	if _, dup := registries.losses[name]; dup {
		panic("graph: loss " + name + " registered twice")
	}
	registries.losses[name] = f
}

// LossFromConfig returns a registered loss by its Keras name and config
// (nil for the defaults).
func LossFromConfig(name string, config []byte) (Loss, error) {
	registries.RLock()
	f, ok := registries.losses[name]
	known := slices.Sorted(maps.Keys(registries.losses))
	registries.RUnlock()
	if !ok {
		return nil, fmt.Errorf("graph: unknown loss %q (known: %s; Capa's own register with package train)", name, strings.Join(known, ", "))
	}
	l, err := f(config)
	if err != nil {
		return nil, fmt.Errorf("graph: loss %s config: %w", name, err)
	}
	return l, nil
}

// LossConfig returns a loss's Keras config as JSON (nil when it has no
// settings): its exported fields, as json.Marshal writes them.
func LossConfig(l Loss) ([]byte, error) {
	b, err := json.Marshal(l)
	if err != nil {
		return nil, fmt.Errorf("graph: loss %s config: %w", l.Name(), err)
	}
	if string(b) == "{}" || string(b) == "null" {
		return nil, nil
	}
	return b, nil
}

// StrictJSON decodes a config into v, refusing unknown fields and trailing
// data, so that a misspelled key is an error rather than a default.
func StrictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the config")
	}
	return nil
}
