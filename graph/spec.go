package graph

import (
	"fmt"
)

// ModelSpec is a model's architecture in serializable form: what Save
// writes as JSON and Load reads back.
type ModelSpec struct {
	Name   string      `json:"name"`
	Seed   uint64      `json:"seed"`
	Input  []int       `json:"input_shape"`
	Layers []LayerSpec `json:"layers"`
	// BuildShapes records each layer's input shape, so a loader can check
	// that the rebuilt model has the weights it expects (Sequential).
	BuildShapes [][]int `json:"build_shapes"`
	// A Functional model lists every layer in Layers, its inputs first,
	// each with its inbound nodes, and names its inputs and outputs here
	// (Keras's functional config); Input is then its first input's shape.
	InputLayers  []NodeRef `json:"input_layers,omitempty"`
	OutputLayers []NodeRef `json:"output_layers,omitempty"`
}

// Spec returns the model's architecture.
func (m *Model) Spec() (ModelSpec, error) {
	if m.functional {
		return m.functionalSpec()
	}
	s := ModelSpec{Name: m.Name, Seed: m.seed, Input: m.input.Clone()}
	for _, l := range m.layers {
		ls, err := Spec(l)
		if err != nil {
			return ModelSpec{}, err
		}
		s.Layers = append(s.Layers, ls)
		s.BuildShapes = append(s.BuildShapes, l.base().inShape.Clone())
	}
	return s, nil
}

// Build rebuilds a model from its architecture, with freshly initialized
// weights (drawn from the spec's seed, so identical to the original's
// initial weights), checked against DefaultLimits before any weight is
// allocated.
func (s ModelSpec) Build() (*Model, error) { return s.BuildLimits(DefaultLimits) }

// BuildLimits is Build with other limits. The whole architecture is checked
// before the first weight is allocated.
func (s ModelSpec) BuildLimits(lim Limits) (*Model, error) {
	m, err := s.build(lim, true)
	if err != nil {
		return nil, err
	}
	// Each layer draws from its own generator (seed, layer index), so
	// allocating after the last Build gives the same weights as before.
	m.allocate(true)
	return m, nil
}

// build makes the model; with deferAlloc its weights are declared and
// checked but not allocated (see Model.allocate).
func (s ModelSpec) build(lim Limits, deferAlloc bool) (*Model, error) {
	if len(s.InputLayers) > 0 {
		return s.buildFunctional(lim, deferAlloc)
	}
	m := &Model{Name: "sequential", seed: s.Seed, count: map[string]int{}, deferAlloc: deferAlloc}
	m.SetLimits(lim)
	if err := m.Add(Input(s.Input...)); err != nil {
		return nil, err
	}
	m.Name = s.Name
	for i, ls := range s.Layers {
		l, err := FromSpec(ls)
		if err != nil {
			return nil, fmt.Errorf("graph: layer %d: %w", i, err)
		}
		if err := m.Add(l); err != nil {
			return nil, err
		}
		if i < len(s.BuildShapes) && !Shape(s.BuildShapes[i]).Equal(l.base().inShape) {
			return nil, fmt.Errorf("graph: layer %q was saved built on %v but rebuilds on %v", l.base().Name, Shape(s.BuildShapes[i]), l.base().inShape)
		}
	}
	return m, nil
}

// allocate allocates the weights a deferred build declared; with init
// false they are left at zero (a loader fills them).
func (m *Model) allocate(init bool) {
	for _, l := range m.layers {
		for _, p := range l.base().params {
			if !init {
				p.fill = nil
			}
			p.allocate()
		}
	}
	m.deferAlloc = false
}

// RandomState returns the state of every layer's random generator, by
// layer name (only layers that have one, such as Dropout).
func (m *Model) RandomState() (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, l := range m.layers {
		if s, ok := l.(Stateful); ok {
			b, err := s.MarshalState()
			if err != nil {
				return nil, fmt.Errorf("graph: layer %q: %w", l.base().Name, err)
			}
			out[l.base().Name] = b
		}
	}
	return out, nil
}

// SetRandomState restores the random generators saved by RandomState.
func (m *Model) SetRandomState(st map[string][]byte) error {
	for _, l := range m.layers {
		s, ok := l.(Stateful)
		if !ok {
			continue
		}
		b, ok := st[l.base().Name]
		if !ok {
			return fmt.Errorf("graph: no random state for layer %q", l.base().Name)
		}
		if err := s.UnmarshalState(b); err != nil {
			return fmt.Errorf("graph: layer %q: random state: %w", l.base().Name, err)
		}
	}
	return nil
}
