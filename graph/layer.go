package graph

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"unicode"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Layer is one stage of a model. A layer type is a struct whose exported,
// JSON-tagged fields are its configuration (Keras's constructor arguments,
// zero values meaning Keras's defaults); it embeds Base for its name, weights
// and trainable flag.
//
// Build validates the configuration and the input shape, creates the
// weights, and returns the output shape; it is called once, by the model.
// Call adds the layer's computation to a graph; it must not change the
// layer. Config-as-struct means a layer round-trips through JSON with
// encoding/json: Register the type under its Keras class name.
type Layer interface {
	// Class is the Keras class name, such as "Conv2D".
	Class() string
	// Build checks the input shape (per sample, channels-last), creates the
	// weights drawing initial values from rng, and returns the output shape.
	Build(in Shape, rng *rand.Rand) (Shape, error)
	// Call applies the layer to x, a node of shape (batch, in...), in c's graph.
	Call(c *Ctx, x *G.Node) (*G.Node, error)

	base() *Base
}

// Stateful is implemented by layers that carry random state (Dropout), so a
// resumed training run continues the same random sequence.
type Stateful interface {
	MarshalState() ([]byte, error)
	UnmarshalState([]byte) error
}

// Base holds what every layer has: a name, weights and a trainable flag.
// Embed it in layer structs.
type Base struct {
	// Name is unique within a model; empty means a Keras-style generated name
	// (conv2d, conv2d_1, ...).
	Name string `json:"name,omitempty"`
	// Frozen layers' weights get no gradient and are never updated (Keras's
	// trainable=False).
	Frozen bool `json:"frozen,omitempty"`

	params  []*Param
	inShape Shape
	built   bool
}

func (b *Base) base() *Base { return b }

// LayerName returns the layer's name.
func (b *Base) LayerName() string { return b.Name }

// Params returns the layer's weights in creation order.
func (b *Base) Params() []*Param { return b.params }

// SetTrainable freezes (false) or unfreezes (true) the layer's weights.
// Statistics such as moving means are never trainable.
func (b *Base) SetTrainable(t bool) {
	b.Frozen = !t
	for _, p := range b.params {
		p.Trainable = t && !p.statistic
	}
}

// Trainable reports whether the layer is not frozen.
func (b *Base) Trainable() bool { return !b.Frozen }

// InputShape returns the shape the layer was built for (nil before Build).
func (b *Base) InputShape() Shape { return b.inShape }

// AddWeight creates a weight named "<layer>/<name>" of the given shape,
// filled by the named initializer (def if init is empty). Layers call it from
// Build. fanIn and fanOut are passed to the initializer.
func (b *Base) AddWeight(name string, shape []int, init, def string, fanIn, fanOut int, rng *rand.Rand) (*Param, error) {
	f, err := initializer(init, def)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	t := tensor.New(tensor.WithShape(shape...), tensor.Of(tensor.Float32))
	f(t.Data().([]float32), fanIn, fanOut, rng)
	p := &Param{Name: b.Name + "/" + name, Value: t, Trainable: !b.Frozen}
	b.params = append(b.params, p)
	return p, nil
}

// AddStatistic creates a never-trainable weight (such as a moving mean)
// filled with value.
func (b *Base) AddStatistic(name string, shape []int, value float32) *Param {
	t := tensor.New(tensor.WithShape(shape...), tensor.Of(tensor.Float32))
	d := t.Data().([]float32)
	for i := range d {
		d[i] = value
	}
	p := &Param{Name: b.Name + "/" + name, Value: t, statistic: true}
	b.params = append(b.params, p)
	return p
}

// NameOf returns a layer's name.
func NameOf(l Layer) string { return l.base().Name }

// ParamsOf returns a layer's weights.
func ParamsOf(l Layer) []*Param { return l.base().params }

var registry = map[string]func() Layer{}

// Register makes a layer type known by its Keras class name, so that saved
// models can be rebuilt. newLayer returns a zero layer whose configuration
// JSON is then decoded into it. Register panics on a duplicate name.
func Register(class string, newLayer func() Layer) {
	if _, dup := registry[class]; dup {
		panic("graph: layer class " + class + " registered twice")
	}
	registry[class] = newLayer
}

// Classes lists the registered layer classes, sorted.
func Classes() []string {
	out := make([]string, 0, len(registry))
	for c := range registry {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// LayerSpec is a layer's serialized form: its class and configuration.
type LayerSpec struct {
	Class  string          `json:"class_name"`
	Config json.RawMessage `json:"config"`
}

// Spec serializes a layer's configuration.
func Spec(l Layer) (LayerSpec, error) {
	cfg, err := json.Marshal(l)
	if err != nil {
		return LayerSpec{}, fmt.Errorf("graph: layer %s (%s): %w", l.base().Name, l.Class(), err)
	}
	return LayerSpec{Class: l.Class(), Config: cfg}, nil
}

// FromSpec creates an unbuilt layer from its serialized form.
func FromSpec(s LayerSpec) (Layer, error) {
	newLayer, ok := registry[s.Class]
	if !ok {
		return nil, fmt.Errorf("graph: unknown layer class %q (known: %s)", s.Class, strings.Join(Classes(), ", "))
	}
	l := newLayer()
	dec := json.NewDecoder(strings.NewReader(string(s.Config)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(l); err != nil {
		return nil, fmt.Errorf("graph: layer class %s: config %s: %w", s.Class, s.Config, err)
	}
	return l, nil
}

// snakeName turns a class name into Keras's default layer name prefix:
// Conv2D -> conv2d, MaxPooling2D -> max_pooling2d,
// BatchNormalization -> batch_normalization.
func snakeName(class string) string {
	var b strings.Builder
	r := []rune(class)
	for i, c := range r {
		if unicode.IsUpper(c) {
			if i > 0 && (unicode.IsLower(r[i-1]) || (i+1 < len(r) && unicode.IsLower(r[i+1]) && unicode.IsUpper(r[i-1]))) {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(c))
		} else {
			b.WriteRune(c)
		}
	}
	return b.String()
}
