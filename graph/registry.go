package graph

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
)

// Capa's serialization registries, as Keras's: every class a model file or
// a configuration can name (layers, optimizers, losses, activations,
// initializers, learning-rate schedules, callbacks) registers by name, and
// its config (a JSON object) round-trips. Package graph registers its
// layers, activations and initializers; package train Keras's optimizers,
// losses, schedules and callbacks; package augment its layers. A user's own
// types register the same way, from an init function. All registries are
// kept here, under one lock.
var regMu sync.RWMutex

// registry is one kind of registered class, by name.
type registry[T any] struct {
	kind string // "layer class", "optimizer", ... for messages
	m    map[string]T
}

func newRegistry[T any](kind string) *registry[T] { return &registry[T]{kind: kind, m: map[string]T{}} }

var (
	layerClasses = newRegistry[func() Layer]("layer class")
	optimizers   = newRegistry[func() Optimizer]("optimizer")
	losses       = newRegistry[LossFactory]("loss")
	activations  = newRegistry[ActivationFunc]("activation")
	initializers = newRegistry[Initializer]("initializer")
	schedules    = newRegistry[func() Schedule]("schedule")
	callbacks    = newRegistry[func() Callback]("callback")
)

// add registers v under name; a name registered twice is a programming
// error and panics.
func (r *registry[T]) add(name string, v T) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := r.m[name]; dup {
		panic("graph: " + r.kind + " " + name + " registered twice")
	}
	r.m[name] = v
}

// get returns what name is registered as, or an error listing the names
// known.
func (r *registry[T]) get(name string) (T, error) {
	regMu.RLock()
	v, ok := r.m[name]
	regMu.RUnlock()
	if !ok {
		return v, fmt.Errorf("unknown %s %q (known: %s)", r.kind, name, strings.Join(r.names(), ", "))
	}
	return v, nil
}

// has reports whether name is registered.
func (r *registry[T]) has(name string) bool {
	regMu.RLock()
	defer regMu.RUnlock()
	_, ok := r.m[name]
	return ok
}

// names returns the registered names, sorted.
func (r *registry[T]) names() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	return slices.Sorted(maps.Keys(r.m))
}

// RegisterOptimizer makes an optimizer class known to Load and to
// OptimizerSpec.Build. new returns a fresh optimizer with Keras's defaults
// set explicitly, a pointer that JSON decodes its config into (so that a
// key absent from the config is the default and an explicit 0 is 0). It
// panics if the class is taken, as registering twice is a programming
// error.
func RegisterOptimizer(class string, new func() Optimizer) { optimizers.add(class, new) }

// OptimizerClasses returns the registered optimizer classes, sorted.
func OptimizerClasses() []string { return optimizers.names() }

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
// registered); unknown configuration fields and illegal values (checked by
// the optimizer's Validate method, if it has one) are an error.
func (s OptimizerSpec) Build() (Optimizer, error) {
	f, err := optimizers.get(s.Class)
	if err != nil {
		return nil, fmt.Errorf("graph: %w; Capa's own register with package train", err)
	}
	o := f()
	if len(s.Config) > 0 {
		if err := StrictJSON(s.Config, o); err != nil {
			return nil, fmt.Errorf("graph: optimizer %s config %s: %w", s.Class, s.Config, err)
		}
	}
	if err := validateOptimizer(o); err != nil {
		return nil, fmt.Errorf("graph: optimizer %s: %w", s.Class, err)
	}
	return o, nil
}

// LossFactory makes a loss from its Keras config (a JSON object, such as
// {"from_logits": true}; empty for the defaults).
type LossFactory func(config []byte) (Loss, error)

// RegisterLoss makes a loss known by its Keras name to Load and to
// LossFromConfig. It panics if the name is taken.
func RegisterLoss(name string, f LossFactory) { losses.add(name, f) }

// LossFromConfig returns a registered loss by its Keras name and config
// (nil for the defaults).
func LossFromConfig(name string, config []byte) (Loss, error) {
	f, err := losses.get(name)
	if err != nil {
		return nil, fmt.Errorf("graph: %w; Capa's own register with package train", err)
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

// validateOptimizer checks an optimizer: its own Validate method if it has
// one, and a positive learning rate.
func validateOptimizer(o Optimizer) error {
	if v, ok := o.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return err
		}
	}
	if lr := o.LR(); !(lr > 0) || math.IsInf(lr, 0) {
		return fmt.Errorf("learning_rate must be positive, got %v", lr)
	}
	return nil
}

// ClassSpec is the serialized form of a registered class with a config,
// as Keras's: {"class_name": "ExponentialDecay", "config": {...}}.
type ClassSpec struct {
	Class  string          `json:"class_name"`
	Config json.RawMessage `json:"config,omitempty"`
}

// fromSpec makes the registered class of a spec and decodes its config
// into it (strictly), then validates it if it has a Validate method.
func fromSpec[T any](r *registry[func() T], class string, config []byte) (T, error) {
	var zero T
	f, err := r.get(class)
	if err != nil {
		return zero, fmt.Errorf("graph: %w", err)
	}
	v := f()
	if len(bytes.TrimSpace(config)) > 0 {
		if err := StrictJSON(config, v); err != nil {
			return zero, fmt.Errorf("graph: %s %s config %s: %w", r.kind, class, config, err)
		}
	}
	if val, ok := any(v).(interface{ Validate() error }); ok {
		if err := val.Validate(); err != nil {
			return zero, fmt.Errorf("graph: %s %s: %w", r.kind, class, err)
		}
	}
	return v, nil
}

// specOf serializes a registered value whose class is class.
func specOf(kind, class string, v any) (ClassSpec, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return ClassSpec{}, fmt.Errorf("graph: %s %s config: %w", kind, class, err)
	}
	return ClassSpec{Class: class, Config: b}, nil
}

// RegisterSchedule makes a learning-rate schedule class known to
// ScheduleFromConfig (and so to experiment configurations), as Keras's
// serialization registry does. new returns a pointer with Keras's
// defaults, which JSON decodes the config into; the schedule's type name
// must be its class (SpecOfSchedule uses it). It panics if the class is
// taken.
func RegisterSchedule(class string, new func() Schedule) { schedules.add(class, new) }

// ScheduleClasses returns the registered schedule classes, sorted.
func ScheduleClasses() []string { return schedules.names() }

// ScheduleFromConfig returns a registered schedule from its class name and
// JSON config (unknown fields are an error), validated.
func ScheduleFromConfig(class string, config []byte) (Schedule, error) {
	return fromSpec(schedules, class, config)
}

// SpecOfSchedule returns a registered schedule's serialized form.
func SpecOfSchedule(s Schedule) (ClassSpec, error) { return specOf("schedule", typeName(s), s) }

// RegisterCallback makes a serializable callback class (Keras's
// EarlyStopping, ModelCheckpoint, ...) known to CallbackFromConfig. new
// returns a pointer with Keras's defaults, which JSON decodes the config
// into; the callback's type name must be its class. It panics if the class
// is taken.
func RegisterCallback(class string, new func() Callback) { callbacks.add(class, new) }

// CallbackClasses returns the registered callback classes, sorted.
func CallbackClasses() []string { return callbacks.names() }

// CallbackFromConfig returns a registered callback from its class name and
// JSON config (unknown fields are an error), validated.
func CallbackFromConfig(class string, config []byte) (Callback, error) {
	return fromSpec(callbacks, class, config)
}

// SpecOfCallback returns a registered callback's serialized form.
func SpecOfCallback(c Callback) (ClassSpec, error) { return specOf("callback", typeName(c), c) }

// typeName is the name of v's type, without package or pointer.
func typeName(v any) string {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}
