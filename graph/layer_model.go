package graph

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
)

// ModelLayer is a model used as a layer of another, as a Keras Model is a
// Layer: applied to tensors, it runs its model's layers on them, with the
// same weights (training the outer model trains them, freezing it freezes
// them all). Its class is its model's, "Functional" or "Sequential"; it
// saves as its model's architecture, and its weights keep their names
// ("block1_conv1/kernel"), which must not clash with the outer model's.
// A model used as a layer has one output; it may have several inputs.
type ModelLayer struct {
	Base

	model *Model
	spec  *ModelSpec // read from a file, built by Build
}

func init() {
	Register("Functional", func() Layer { return &ModelLayer{} })
	Register("Sequential", func() Layer { return &ModelLayer{} })
}

// AsLayer returns m as a layer named after m, to apply to tensors of
// another model: graph.Apply(graph.AsLayer(base), x). The layer shares
// m's weights.
func AsLayer(m *Model) *ModelLayer {
	return &ModelLayer{Base: Base{Name: m.Name}, model: m}
}

// Model returns the model inside the layer (nil before Build for a layer
// read from a file).
func (l *ModelLayer) Model() *Model { return l.model }

// Class is "Functional" or "Sequential", as the inner model is.
func (l *ModelLayer) Class() string {
	if l.model != nil && !l.model.functional || l.model == nil && l.spec != nil && len(l.spec.InputLayers) == 0 {
		return "Sequential"
	}
	return "Functional"
}

// Validate checks that the layer has a model or an architecture.
func (l *ModelLayer) Validate() error {
	if l.model == nil && l.spec == nil {
		return fmt.Errorf("a model used as a layer needs its model (graph.AsLayer) or architecture")
	}
	if l.model != nil && len(l.model.outputs) != 1 {
		return fmt.Errorf("model %q has %d outputs; a model used as a layer must have one", l.model.Name, len(l.model.outputs))
	}
	return nil
}

// BuildMulti builds the inner model from its architecture if needed
// (weights declared, allocated with the outer model's) and checks the
// input shapes against its inputs.
func (l *ModelLayer) BuildMulti(in []Shape, _ *rand.Rand) (Shape, error) {
	if l.model == nil {
		m, err := l.spec.build(DefaultLimits, true)
		if err != nil {
			return nil, err
		}
		l.model = m
	}
	m := l.model
	if len(m.outputs) != 1 {
		return nil, fmt.Errorf("model %q has %d outputs; a model used as a layer must have one", m.Name, len(m.outputs))
	}
	if len(in) != len(m.inputs) {
		return nil, fmt.Errorf("model %q takes %d inputs, applied to %d", m.Name, len(m.inputs), len(in))
	}
	for i, ni := range m.inputs {
		if want := m.nodes[ni].shape; !in[i].Equal(want) {
			return nil, fmt.Errorf("model %q's input %d is %v, applied to %v", m.Name, i, want, in[i])
		}
	}
	l.params = m.Params()
	return m.nodes[m.outputs[0]].shape.Clone(), nil
}

// Build is BuildMulti with one input.
func (l *ModelLayer) Build(in Shape, rng *rand.Rand) (Shape, error) {
	return l.BuildMulti([]Shape{in}, rng)
}

// CallMulti runs the inner model's layers on xs in c's graph.
func (l *ModelLayer) CallMulti(c *Ctx, xs []*G.Node) (*G.Node, error) {
	m := l.model
	if len(xs) != len(m.inputs) {
		return nil, fmt.Errorf("model %q takes %d inputs, got %d", m.Name, len(m.inputs), len(xs))
	}
	vals := make([]*G.Node, len(m.nodes))
	for i, ni := range m.inputs {
		vals[ni] = xs[i]
	}
	if err := m.callNodes(c, vals, nil); err != nil {
		return nil, err
	}
	return vals[m.outputs[0]], nil
}

// Call is CallMulti with one input.
func (l *ModelLayer) Call(c *Ctx, x *G.Node) (*G.Node, error) {
	return l.CallMulti(c, []*G.Node{x})
}

// SetTrainable freezes or unfreezes every layer of the inner model.
func (l *ModelLayer) SetTrainable(t bool) {
	l.Base.SetTrainable(t)
	if l.model == nil {
		return
	}
	for _, in := range l.model.layers {
		in.(interface{ SetTrainable(bool) }).SetTrainable(t)
	}
}

// modelLayerConfig is the layer's configuration: its name and trainable
// flag, then its model's architecture (Keras's nested model config).
type modelLayerConfig struct {
	Name   string `json:"name"`
	Frozen bool   `json:"frozen"`
	ModelSpec
}

// MarshalJSON writes the name, the trainable flag and the architecture.
func (l *ModelLayer) MarshalJSON() ([]byte, error) {
	var s ModelSpec
	switch {
	case l.model != nil:
		var err error
		if s, err = l.model.Spec(); err != nil {
			return nil, err
		}
	case l.spec != nil:
		s = *l.spec
	}
	s.Name = l.Name
	return json.Marshal(modelLayerConfig{Name: l.Name, Frozen: l.Frozen, ModelSpec: s})
}

// UnmarshalJSON reads what MarshalJSON writes; Build builds the model.
func (l *ModelLayer) UnmarshalJSON(b []byte) error {
	var c modelLayerConfig
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return err
	}
	l.Name, l.Frozen = c.Name, c.Frozen
	c.ModelSpec.Name = c.Name
	l.spec, l.model = &c.ModelSpec, nil
	return nil
}

// MarshalState saves the random state of the inner model's layers.
func (l *ModelLayer) MarshalState() ([]byte, error) {
	st, err := l.model.RandomState()
	if err != nil {
		return nil, err
	}
	return json.Marshal(st)
}

// UnmarshalState restores what MarshalState saved.
func (l *ModelLayer) UnmarshalState(b []byte) error {
	var st map[string][]byte
	if err := json.Unmarshal(b, &st); err != nil {
		return err
	}
	return l.model.SetRandomState(st)
}
