// Package transfer reuses a pretrained network: it freezes a convolutional
// base, attaches a trainable classifier head, extracts features with the
// frozen base once so that the head trains fast, combines base and head into
// one model, and unfreezes the top of the base for fine-tuning.
//
// The usual recipe, as in Keras:
//
//	base, _ := vgg.VGG16(vgg.Config{Height: 32, Width: 32})
//	vgg.LoadWeights(base, "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5")
//	feats, _ := transfer.Features(base, images, 64, os.Stderr) // once
//	head, _ := transfer.HeadModel(base.OutputShape(), transfer.Head{Classes: 10}, 1)
//	// ... compile and fit head on feats ...
//	model, _ := transfer.Combine(base, head) // base frozen: Summary counts it non-trainable
//	transfer.UnfreezeFrom(model, "block5_conv1") // then fit with a small learning rate
package transfer

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/internal/progress"
)

// Head describes a classifier head. The zero value is Keras's common
// recipe for ten classes: Flatten, Dense(256, relu), Dropout(0.5),
// Dense(10, softmax).
type Head struct {
	// Pooling turns the base's feature maps into a vector: "flatten"
	// (default) or "avg" (GlobalAveragePooling2D).
	Pooling string
	// Units of the hidden Dense layers (ReLU); nil means one of 256, and an
	// empty non-nil slice none.
	Units []int
	// Dropout rate after each hidden layer (default 0.5; negative for none).
	Dropout float64
	// Classes is the number of softmax outputs (default 10). With Binary the
	// head ends in one sigmoid unit instead.
	Classes int
	Binary  bool
}

// Layers returns the head's layers, unnamed (the model names them).
func (h Head) Layers() ([]graph.Layer, error) {
	var ls []graph.Layer
	switch h.Pooling {
	case "", "flatten":
		ls = append(ls, &graph.Flatten{})
	case "avg":
		ls = append(ls, &graph.GlobalAveragePooling2D{})
	default:
		return nil, fmt.Errorf("transfer: head pooling must be \"flatten\" or \"avg\", got %q", h.Pooling)
	}
	units := h.Units
	if units == nil {
		units = []int{256}
	}
	rate := h.Dropout
	if rate == 0 {
		rate = 0.5
	}
	for _, u := range units {
		ls = append(ls, &graph.Dense{Units: u, Activation: "relu"})
		if rate > 0 {
			ls = append(ls, &graph.Dropout{Rate: rate})
		}
	}
	switch {
	case h.Binary:
		ls = append(ls, &graph.Dense{Units: 1, Activation: "sigmoid"})
	default:
		k := h.Classes
		if k == 0 {
			k = 10
		}
		if k < 2 {
			return nil, fmt.Errorf("transfer: a softmax head needs at least 2 classes, got %d (use Binary for one sigmoid output)", k)
		}
		ls = append(ls, &graph.Dense{Units: k, Activation: "softmax"})
	}
	return ls, nil
}

// HeadModel builds the head alone, on inputs of the base's output shape
// (the features), with weights drawn from seed.
func HeadModel(features graph.Shape, h Head, seed uint64) (*graph.Model, error) {
	ls, err := h.Layers()
	if err != nil {
		return nil, err
	}
	m, err := graph.SequentialSeed(seed, append([]graph.Layer{graph.Input(features...)}, ls...)...)
	if err != nil {
		return nil, fmt.Errorf("transfer: head on features %v: %w", features, err)
	}
	m.Name = "head"
	return m, nil
}

// Freeze makes every layer of m non-trainable.
func Freeze(m *graph.Model) {
	for _, l := range m.Layers() {
		setTrainable(l, false)
	}
}

// UnfreezeFrom makes the named layer and every layer after it trainable
// (for fine-tuning, e.g. "block5_conv1" for VGG's last block); the layers
// before it keep their state. Compile again afterwards, with a small
// learning rate.
func UnfreezeFrom(m *graph.Model, name string) error {
	ls := m.Layers()
	for i, l := range ls {
		if graph.NameOf(l) == name {
			for _, l := range ls[i:] {
				setTrainable(l, true)
			}
			return nil
		}
	}
	return fmt.Errorf("transfer: model %q has no layer %q", m.Name, name)
}

func setTrainable(l graph.Layer, t bool) {
	if s, ok := l.(interface{ SetTrainable(bool) }); ok {
		s.SetTrainable(t)
	}
}

// Combine returns one model made of the base's layers, frozen, followed by
// the head's (whose Input must match the base's output): the model that is
// saved, loaded and fine-tuned. The weights of both are copied into it; the
// names of the layers must not clash. It is the flat form of the model
// with both used as layers,
//
//	x := graph.NewInput(base.InputShape()...)
//	y := graph.Apply(graph.AsLayer(head), graph.Apply(graph.AsLayer(base), x))
//
// with the base frozen: its layers are the model's own, so that
// UnfreezeFrom can fine-tune from any layer of the base.
func Combine(base, head *graph.Model) (*graph.Model, error) {
	if !base.OutputShape().Equal(head.InputShape()) {
		return nil, fmt.Errorf("transfer: the head takes %v, the base gives %v", head.InputShape(), base.OutputShape())
	}
	bs, err := base.Spec()
	if err != nil {
		return nil, err
	}
	hs, err := head.Spec()
	if err != nil {
		return nil, err
	}
	spec := bs
	spec.Name = base.Name + "_transfer"
	spec.Layers = nil
	spec.BuildShapes = nil
	for _, l := range bs.Layers {
		if l.Class == "InputLayer" {
			spec.Layers = append(spec.Layers, l) // a Functional base's input
			continue
		}
		frozen, err := frozenSpec(l)
		if err != nil {
			return nil, err
		}
		frozen.Name, frozen.InboundNodes = l.Name, l.InboundNodes
		spec.Layers = append(spec.Layers, frozen)
	}
	if len(bs.InputLayers) == 0 {
		spec.Layers = append(spec.Layers, hs.Layers...)
	} else {
		// A Functional base (ResNet, MobileNetV2): the head's layers
		// follow its output one after the other.
		if len(bs.OutputLayers) != 1 || len(hs.InputLayers) > 0 {
			return nil, fmt.Errorf("transfer: combine: the base must have one output and the head be Sequential")
		}
		prev := bs.OutputLayers[0]
		for _, h := range hs.Layers {
			var named struct {
				Name string `json:"name"`
			}
			if err := json.Unmarshal(h.Config, &named); err != nil || named.Name == "" {
				return nil, fmt.Errorf("transfer: combine: head layer %s has no name (%v)", h.Class, err)
			}
			h.Name, h.InboundNodes = named.Name, [][]graph.NodeRef{{prev}}
			spec.Layers = append(spec.Layers, h)
			prev = graph.NodeRef{Layer: named.Name}
		}
		spec.OutputLayers = []graph.NodeRef{prev}
	}
	m, err := spec.Build()
	if err != nil {
		return nil, fmt.Errorf("transfer: combine: %w", err)
	}
	random := map[string][]byte{}
	for _, src := range []*graph.Model{base, head} {
		for _, p := range src.Params() {
			q, err := m.Param(p.Name)
			if err != nil {
				return nil, fmt.Errorf("transfer: combine: %w", err)
			}
			copy(q.Data(), p.Data())
		}
		st, err := src.RandomState()
		if err != nil {
			return nil, err
		}
		for k, v := range st {
			random[k] = v
		}
	}
	if err := m.SetRandomState(random); err != nil {
		return nil, fmt.Errorf("transfer: combine: %w", err)
	}
	return m, nil
}

// frozenSpec returns a layer spec with Frozen set.
func frozenSpec(s graph.LayerSpec) (graph.LayerSpec, error) {
	l, err := graph.FromSpec(s)
	if err != nil {
		return s, err
	}
	setTrainable(l, false)
	return graph.Spec(l)
}

// Features runs the frozen base once over n samples stored one after the
// other in x (NHWC, already preprocessed) and returns its outputs, batch
// samples at a time, with a progress bar on progress (nil for none). Train
// a head on the result instead of running the base at every epoch.
func Features(base *graph.Model, x []float32, batch int, w io.Writer) ([]float32, error) {
	in := base.InputShape().Size()
	if batch < 1 || len(x)%in != 0 {
		return nil, fmt.Errorf("transfer: features of %d values in samples of %v, batch %d", len(x), base.InputShape(), batch)
	}
	n := len(x) / in
	out := make([]float32, 0, n*base.OutputShape().Size())
	var bar *progress.Bar
	if w != nil {
		bar = progress.New(w, n)
	}
	for i := 0; i < n; i += batch {
		b := min(batch, n-i)
		y, err := base.Predict(x[i*in:(i+b)*in], b)
		if err != nil {
			return nil, err
		}
		out = append(out, y...)
		if bar != nil {
			bar.Update(i + b)
		}
	}
	if bar != nil {
		bar.Finish()
	}
	return out, nil
}
