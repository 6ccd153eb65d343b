package graph

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"unicode"

	G "gorgonia.org/gorgonia"
)

// Layer is one stage of a model. A layer type is a struct whose exported,
// JSON-tagged fields are its configuration (Keras's constructor arguments);
// it embeds Base for its name, weights and trainable flag.
//
// The lifecycle: SetDefaults fills the fields left at their Go zero value
// with Keras's defaults (in a Go struct literal, zero means "unset");
// Validate checks the configuration alone, naming the field; Build checks
// the input shape, declares the weights and returns the output shape (the
// model checks them against its Limits before allocating the weights); Call
// adds the layer's computation to a graph and must not change the layer.
// Config-as-struct means a layer round-trips through JSON with
// encoding/json: Register the type under its Keras class name. In a file,
// a key that is absent means the default and an explicit value is kept, so
// "strides": [0, 0] is refused by Validate, not read as the default.
type Layer interface {
	// Class is the Keras class name, such as "Conv2D".
	Class() string
	// SetDefaults replaces unset (zero) fields by Keras's defaults; Base
	// provides one that does nothing.
	SetDefaults()
	// Validate checks the configuration, after SetDefaults; Base provides
	// one that accepts everything.
	Validate() error
	// Build checks the input shape (per sample, channels-last), creates the
	// weights drawing initial values from rng, and returns the output shape.
	Build(in Shape, rng *rand.Rand) (Shape, error)
	// Call applies the layer to x, a node of shape (batch, in...), in c's graph.
	Call(c *Ctx, x *G.Node) (*G.Node, error)

	base() *Base
}

// MultiInput is implemented by layers that take several inputs, such as
// the merge layers (Add, Concatenate): the model calls BuildMulti and
// CallMulti instead of Build and Call, with the inputs in the order they
// were given to Apply.
type MultiInput interface {
	Layer
	// BuildMulti checks the input shapes (per sample) and returns the
	// output shape, as Build does for one input.
	BuildMulti(in []Shape, rng *rand.Rand) (Shape, error)
	// CallMulti applies the layer to xs in c's graph.
	CallMulti(c *Ctx, xs []*G.Node) (*G.Node, error)
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
	// trainable=False; files say "trainable").
	Frozen bool `json:"frozen"`

	params  []*Param
	inShape Shape
	built   bool

	// Set by Apply (functional.go), which builds a layer before its model
	// exists (Functional builds it again, named and seeded): the input
	// shapes and output shape of its first application.
	applied  bool
	inShapes []Shape
	outShape Shape
}

func (b *Base) base() *Base { return b }

// SetDefaults does nothing: a layer with defaults overrides it.
func (b *Base) SetDefaults() {}

// Validate accepts every configuration: a layer with one overrides it.
func (b *Base) Validate() error { return nil }

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

// AddWeight declares a weight named "<layer>/<name>" of the given shape,
// filled by the named initializer (def if init is empty). Layers call it from
// Build. fanIn and fanOut are passed to the initializer. The weight's memory
// is allocated, and the initializer run, only after Build returns and the
// model has checked the layer's shapes against its Limits; a layer must not
// read a weight's Value in Build.
func (b *Base) AddWeight(name string, shape []int, init, def string, fanIn, fanOut int, rng *rand.Rand) (*Param, error) {
	f, err := initializer(init, def)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p := &Param{Name: b.Name + "/" + name, Trainable: !b.Frozen, shape: append([]int(nil), shape...)}
	p.fill = func(dst []float32) { f(dst, fanIn, fanOut, rng) }
	b.params = append(b.params, p)
	return p, nil
}

// AddStatistic declares a never-trainable weight (such as a moving mean)
// filled with value, allocated as AddWeight's are.
func (b *Base) AddStatistic(name string, shape []int, value float32) *Param {
	p := &Param{Name: b.Name + "/" + name, statistic: true, shape: append([]int(nil), shape...)}
	p.fill = func(d []float32) {
		for i := range d {
			d[i] = value
		}
	}
	b.params = append(b.params, p)
	return p
}

// NameOf returns a layer's name.
func NameOf(l Layer) string { return l.base().Name }

// ParamsOf returns a layer's weights.
func ParamsOf(l Layer) []*Param { return l.base().params }

// Register makes a layer type known by its Keras class name, so that saved
// models can be rebuilt. newLayer returns a zero layer whose configuration
// JSON is then decoded into it. Register panics on a duplicate name.
func Register(class string, newLayer func() Layer) { layerClasses.add(class, newLayer) }

// Classes lists the registered layer classes, sorted.
func Classes() []string { return layerClasses.names() }

// LayerSpec is a layer's serialized form: its class and configuration.
type LayerSpec struct {
	Class  string          `json:"class_name"`
	Config json.RawMessage `json:"config"`
	// In a Functional model's spec: the layer's name (as in its config)
	// and, for each application of the layer, the tensors it is applied
	// to (Keras's "inbound_nodes"; none for an InputLayer).
	Name         string      `json:"name,omitempty"`
	InboundNodes [][]NodeRef `json:"inbound_nodes,omitempty"`
}

// NodeRef names a tensor of a Functional model as Keras's config does:
// the output of application Node of layer Layer (Tensor is always 0: a
// layer has one output). In JSON it is Keras's ["name", node, tensor, {}].
type NodeRef struct {
	Layer  string
	Node   int
	Tensor int
}

// MarshalJSON writes ["name", node, tensor, {}].
func (r NodeRef) MarshalJSON() ([]byte, error) {
	return json.Marshal([]any{r.Layer, r.Node, r.Tensor, struct{}{}})
}

// UnmarshalJSON reads ["name", node, tensor] with an optional fourth
// element (Keras's call arguments, which must be empty), or a plain "name",
// short for ["name", 0, 0].
func (r *NodeRef) UnmarshalJSON(b []byte) error {
	var name string
	if json.Unmarshal(b, &name) == nil {
		if name == "" {
			return fmt.Errorf("graph: a node reference names a layer, got \"\"")
		}
		*r = NodeRef{Layer: name}
		return nil
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil || len(raw) < 3 || len(raw) > 4 {
		return fmt.Errorf("graph: a node reference is [\"layer\", node, tensor], got %s", b)
	}
	if err := json.Unmarshal(raw[0], &r.Layer); err != nil {
		return fmt.Errorf("graph: node reference %s: layer name: %w", b, err)
	}
	if err := json.Unmarshal(raw[1], &r.Node); err != nil || r.Node < 0 {
		return fmt.Errorf("graph: node reference %s: bad node index", b)
	}
	if err := json.Unmarshal(raw[2], &r.Tensor); err != nil || r.Tensor != 0 {
		return fmt.Errorf("graph: node reference %s: tensor index must be 0 (a layer has one output)", b)
	}
	if len(raw) == 4 {
		var kw map[string]json.RawMessage
		if err := json.Unmarshal(raw[3], &kw); err != nil || len(kw) > 0 {
			return fmt.Errorf("graph: node reference %s: call arguments are not supported", b)
		}
	}
	return nil
}

// Spec serializes a layer's configuration in Keras's keys, every default
// explicit: it fills the layer's unset fields first (SetDefaults).
func Spec(l Layer) (LayerSpec, error) {
	l.SetDefaults()
	cfg, err := json.Marshal(l)
	if err == nil {
		cfg, err = toKerasConfig(cfg)
	}
	if err != nil {
		return LayerSpec{}, fmt.Errorf("graph: layer %s (%s): %w", l.base().Name, l.Class(), err)
	}
	return LayerSpec{Class: l.Class(), Config: cfg}, nil
}

// FromSpec creates an unbuilt layer from its serialized form.
func FromSpec(s LayerSpec) (Layer, error) {
	newLayer, err := layerClasses.get(s.Class)
	if err != nil {
		return nil, fmt.Errorf("graph: %w", err)
	}
	cfg, err := fromKerasConfig(s.Config)
	if err != nil {
		return nil, fmt.Errorf("graph: layer class %s: config %s: %w", s.Class, s.Config, err)
	}
	l := newLayer()
	// Decode, fill the defaults of what is unset, decode again: a key that
	// is absent gets the default (which may depend on another key, as
	// pooling's strides on pool_size), an explicit value is kept even when
	// it is zero, and Validate refuses it if it is illegal.
	for pass := 0; pass < 2; pass++ {
		dec := json.NewDecoder(strings.NewReader(string(cfg)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(l); err != nil {
			return nil, fmt.Errorf("graph: layer class %s: config %s: %w", s.Class, s.Config, err)
		}
		if pass == 0 {
			l.SetDefaults()
		}
	}
	if err := l.Validate(); err != nil {
		if name := l.base().Name; name != "" {
			return nil, fmt.Errorf("graph: layer %q (%s): %w", name, s.Class, err)
		}
		return nil, fmt.Errorf("graph: layer class %s: %w", s.Class, err)
	}
	return l, nil
}

// New returns a new layer of a registered class with its configuration
// unset (Go zero values), as a Keras importer fills it.
func New(class string) (Layer, error) {
	newLayer, err := layerClasses.get(class)
	if err != nil {
		return nil, fmt.Errorf("graph: %w", err)
	}
	return newLayer(), nil
}

// DefaultName is the name prefix Keras gives a layer of the class, as
// Sequential and Functional name unnamed layers: "conv2d" for Conv2D,
// "max_pooling2d" for MaxPooling2D.
func DefaultName(class string) string { return snakeName(class) }

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

// ConfigKeys returns the keys of a registered layer class's configuration
// in a file (Keras's keys, as Spec writes them, those left out when empty
// included), so that a reader of another framework's files can tell the
// options Capa has from the ones it lacks.
func ConfigKeys(class string) (map[string]bool, error) {
	newLayer, err := layerClasses.get(class)
	if err != nil {
		return nil, fmt.Errorf("graph: %w", err)
	}
	keys := map[string]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if f.Anonymous && f.Type.Kind() == reflect.Struct {
				walk(f.Type)
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "" || name == "-" {
				continue
			}
			for _, k := range negatedKeys {
				if name == k.capa {
					name = k.keras
				}
			}
			keys[name] = true
		}
	}
	walk(reflect.TypeOf(newLayer()))
	return keys, nil
}
