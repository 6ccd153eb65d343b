package augment

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/fnv"
	"math/rand/v2"
	"sync/atomic"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/capa-ml/capa/graph"
)

// Keras's preprocessing layers. Each is a graph.Layer registered under its
// Keras class name, so that models containing it save and load (a program
// loading such a model must import this package). In a training graph the
// layer transforms every image of the batch with its own random draws; in
// an inference graph (Predict, Evaluate) it is the identity. Its random
// generator is seeded from Seed, or from the model's seed when Seed is 0,
// and its state is saved with the model like Dropout's.
//
// The layers have no gradient: put them before any layer with weights,
// right after the Input (Keras's usual place). A model where one follows a
// layer with weights fails to compile its training step with an error
// naming the layer.
//
// Keras's defaults hold for zero values, except ValueRange, whose zero
// value is [0, 1] (Capa's images) where Keras's is [0, 255].

// RandomFlip flips images horizontally and/or vertically, each with
// probability 1/2.
type RandomFlip struct {
	graph.Base
	// Mode is "horizontal", "vertical" or "horizontal_and_vertical" (the
	// default).
	Mode string `json:"mode"`
	Seed uint64 `json:"seed,omitempty"`

	aug augmenter
}

// RandomRotation rotates images by a random fraction of a full turn drawn
// from Factor (a number f in JSON means [-f, f]); positive is
// counter-clockwise.
type RandomRotation struct {
	graph.Base
	Factor Range `json:"factor"`
	warpConfig

	aug augmenter
}

// RandomTranslation shifts images by random fractions of their height and
// width; positive is down and right.
type RandomTranslation struct {
	graph.Base
	HeightFactor Range `json:"height_factor"`
	WidthFactor  Range `json:"width_factor"`
	warpConfig

	aug augmenter
}

// RandomZoom zooms images about their centre by 1+z, z drawn from
// HeightFactor (and WidthFactor; nil keeps the aspect ratio): positive
// factors zoom out.
type RandomZoom struct {
	graph.Base
	HeightFactor Range  `json:"height_factor"`
	WidthFactor  *Range `json:"width_factor"`
	warpConfig

	aug augmenter
}

// RandomContrast scales each channel's deviations from its mean by a
// factor drawn from [1-Factor[0], 1+Factor[1]] (Keras's (lower, upper); a
// number f in JSON means [f, f]), then clips to ValueRange.
type RandomContrast struct {
	graph.Base
	Factor     ContrastFactor `json:"factor"`
	ValueRange [2]float64     `json:"value_range"`
	Seed       uint64         `json:"seed,omitempty"`

	aug augmenter
}

// RandomBrightness adds a delta drawn from Factor (in [-1, 1], a fraction
// of the width of ValueRange) to every value, then clips to ValueRange.
type RandomBrightness struct {
	graph.Base
	Factor     Range      `json:"factor"`
	ValueRange [2]float64 `json:"value_range"`
	Seed       uint64     `json:"seed,omitempty"`

	aug augmenter
}

// ContrastFactor is Keras's RandomContrast factor (lower, upper); in JSON a
// number f means (f, f).
type ContrastFactor [2]float64

// UnmarshalJSON reads [lower, upper] or a number f, meaning [f, f].
func (f *ContrastFactor) UnmarshalJSON(b []byte) error {
	var v float64
	if err := json.Unmarshal(b, &v); err == nil {
		*f = ContrastFactor{v, v}
		return nil
	}
	var a [2]float64
	if err := json.Unmarshal(b, &a); err != nil {
		return fmt.Errorf("augment: a contrast factor is a number or [lower, upper], got %s", b)
	}
	*f = a
	return nil
}

// warpConfig is the configuration shared by the geometric layers.
type warpConfig struct {
	// FillMode is "reflect" (the default), "constant", "nearest" or "wrap".
	FillMode string `json:"fill_mode"`
	// Interpolation is "bilinear" (the default) or "nearest".
	Interpolation string  `json:"interpolation"`
	FillValue     float64 `json:"fill_value,omitempty"`
	Seed          uint64  `json:"seed,omitempty"`
}

func init() {
	graph.Register("RandomFlip", func() graph.Layer { return &RandomFlip{} })
	graph.Register("RandomRotation", func() graph.Layer { return &RandomRotation{} })
	graph.Register("RandomTranslation", func() graph.Layer { return &RandomTranslation{} })
	graph.Register("RandomZoom", func() graph.Layer { return &RandomZoom{} })
	graph.Register("RandomContrast", func() graph.Layer { return &RandomContrast{} })
	graph.Register("RandomBrightness", func() graph.Layer { return &RandomBrightness{} })
}

// Class returns "RandomFlip".
func (l *RandomFlip) Class() string { return "RandomFlip" }

// Class returns "RandomRotation".
func (l *RandomRotation) Class() string { return "RandomRotation" }

// Class returns "RandomTranslation".
func (l *RandomTranslation) Class() string { return "RandomTranslation" }

// Class returns "RandomZoom".
func (l *RandomZoom) Class() string { return "RandomZoom" }

// Class returns "RandomContrast".
func (l *RandomContrast) Class() string { return "RandomContrast" }

// Class returns "RandomBrightness".
func (l *RandomBrightness) Class() string { return "RandomBrightness" }

// Build checks the mode and the input shape and seeds the generator.
func (l *RandomFlip) Build(in graph.Shape, rng *rand.Rand) (graph.Shape, error) {
	mode, err := ParseFlipMode(l.Mode)
	if err != nil {
		return nil, err
	}
	return l.aug.build(in, rng, l.Seed, nil, Flip{Mode: mode})
}

// Build checks the factor, the fill mode, the interpolation and the input
// shape, and seeds the generator.
func (l *RandomRotation) Build(in graph.Shape, rng *rand.Rand) (graph.Shape, error) {
	return l.aug.build(in, rng, l.Seed, &l.warpConfig, Rotation{Factor: l.Factor})
}

// Build checks the factors, the fill mode, the interpolation and the input
// shape, and seeds the generator.
func (l *RandomTranslation) Build(in graph.Shape, rng *rand.Rand) (graph.Shape, error) {
	return l.aug.build(in, rng, l.Seed, &l.warpConfig, Translation{HeightFactor: l.HeightFactor, WidthFactor: l.WidthFactor})
}

// Build checks the factors, the fill mode, the interpolation and the input
// shape, and seeds the generator.
func (l *RandomZoom) Build(in graph.Shape, rng *rand.Rand) (graph.Shape, error) {
	return l.aug.build(in, rng, l.Seed, &l.warpConfig, Zoom{HeightFactor: l.HeightFactor, WidthFactor: l.WidthFactor})
}

// Build checks the factor, the value range and the input shape, and seeds
// the generator.
func (l *RandomContrast) Build(in graph.Shape, rng *rand.Rand) (graph.Shape, error) {
	if l.Factor[0] < 0 || l.Factor[1] < 0 {
		return nil, fmt.Errorf("augment: RandomContrast: factor (lower, upper) must not be negative, got %v", [2]float64(l.Factor))
	}
	return l.aug.build(in, rng, l.Seed, nil, Contrast{Factor: Range{-l.Factor[0], l.Factor[1]}, ValueRange: l.ValueRange})
}

// Build checks the factor, the value range and the input shape, and seeds
// the generator.
func (l *RandomBrightness) Build(in graph.Shape, rng *rand.Rand) (graph.Shape, error) {
	return l.aug.build(in, rng, l.Seed, nil, Brightness{Factor: l.Factor, ValueRange: l.ValueRange})
}

// SetDefaults fills the unset fields with Keras's defaults.
func (l *RandomFlip) SetDefaults() {
	if l.Mode == "" {
		l.Mode = "horizontal_and_vertical"
	}
}

// Validate checks the mode.
func (l *RandomFlip) Validate() error {
	_, err := ParseFlipMode(l.Mode)
	return err
}

// SetDefaults fills the unset fields with Keras's defaults.
func (l *RandomRotation) SetDefaults() { l.warpConfig.setDefaults() }

// Validate checks the factor, the fill mode and the interpolation.
func (l *RandomRotation) Validate() error {
	return firstErr(Rotation{Factor: l.Factor}.validate(), l.warpConfig.validate())
}

// SetDefaults fills the unset fields with Keras's defaults.
func (l *RandomTranslation) SetDefaults() { l.warpConfig.setDefaults() }

// Validate checks the factors, the fill mode and the interpolation.
func (l *RandomTranslation) Validate() error {
	return firstErr(Translation{HeightFactor: l.HeightFactor, WidthFactor: l.WidthFactor}.validate(), l.warpConfig.validate())
}

// SetDefaults fills the unset fields with Keras's defaults.
func (l *RandomZoom) SetDefaults() { l.warpConfig.setDefaults() }

// Validate checks the factors, the fill mode and the interpolation.
func (l *RandomZoom) Validate() error {
	return firstErr(Zoom{HeightFactor: l.HeightFactor, WidthFactor: l.WidthFactor}.validate(), l.warpConfig.validate())
}

// SetDefaults fills an unset value range with [0, 1], the range of Capa's
// images.
func (l *RandomContrast) SetDefaults() {
	if l.ValueRange == [2]float64{} {
		l.ValueRange = defaultValueRange
	}
}

// Validate checks the factor and the value range.
func (l *RandomContrast) Validate() error {
	if l.Factor[0] < 0 || l.Factor[1] < 0 {
		return fmt.Errorf("augment: RandomContrast: factor (lower, upper) must not be negative, got %v", [2]float64(l.Factor))
	}
	return Contrast{Factor: Range{-l.Factor[0], l.Factor[1]}, ValueRange: l.ValueRange}.validate()
}

// SetDefaults fills an unset value range with [0, 1], the range of Capa's
// images.
func (l *RandomBrightness) SetDefaults() {
	if l.ValueRange == [2]float64{} {
		l.ValueRange = defaultValueRange
	}
}

// Validate checks the factor and the value range.
func (l *RandomBrightness) Validate() error {
	return Brightness{Factor: l.Factor, ValueRange: l.ValueRange}.validate()
}

func (w *warpConfig) setDefaults() {
	if w.FillMode == "" {
		w.FillMode = "reflect"
	}
	if w.Interpolation == "" {
		w.Interpolation = "bilinear"
	}
}

func (w *warpConfig) validate() error {
	if _, err := ParseFillMode(w.FillMode); err != nil {
		return err
	}
	_, err := ParseInterpolation(w.Interpolation)
	return err
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Call transforms x in a training graph and returns it unchanged otherwise.
func (l *RandomFlip) Call(c *graph.Ctx, x *G.Node) (*G.Node, error) { return l.aug.call(c, x, l) }

// Call transforms x in a training graph and returns it unchanged otherwise.
func (l *RandomRotation) Call(c *graph.Ctx, x *G.Node) (*G.Node, error) {
	return l.aug.call(c, x, l)
}

// Call transforms x in a training graph and returns it unchanged otherwise.
func (l *RandomTranslation) Call(c *graph.Ctx, x *G.Node) (*G.Node, error) {
	return l.aug.call(c, x, l)
}

// Call transforms x in a training graph and returns it unchanged otherwise.
func (l *RandomZoom) Call(c *graph.Ctx, x *G.Node) (*G.Node, error) { return l.aug.call(c, x, l) }

// Call transforms x in a training graph and returns it unchanged otherwise.
func (l *RandomContrast) Call(c *graph.Ctx, x *G.Node) (*G.Node, error) {
	return l.aug.call(c, x, l)
}

// Call transforms x in a training graph and returns it unchanged otherwise.
func (l *RandomBrightness) Call(c *graph.Ctx, x *G.Node) (*G.Node, error) {
	return l.aug.call(c, x, l)
}

// MarshalState returns the state of the layer's random generator.
func (l *RandomFlip) MarshalState() ([]byte, error) { return l.aug.marshal() }

// UnmarshalState restores the state of the layer's random generator.
func (l *RandomFlip) UnmarshalState(b []byte) error { return l.aug.unmarshal(b) }

// MarshalState returns the state of the layer's random generator.
func (l *RandomRotation) MarshalState() ([]byte, error) { return l.aug.marshal() }

// UnmarshalState restores the state of the layer's random generator.
func (l *RandomRotation) UnmarshalState(b []byte) error { return l.aug.unmarshal(b) }

// MarshalState returns the state of the layer's random generator.
func (l *RandomTranslation) MarshalState() ([]byte, error) { return l.aug.marshal() }

// UnmarshalState restores the state of the layer's random generator.
func (l *RandomTranslation) UnmarshalState(b []byte) error { return l.aug.unmarshal(b) }

// MarshalState returns the state of the layer's random generator.
func (l *RandomZoom) MarshalState() ([]byte, error) { return l.aug.marshal() }

// UnmarshalState restores the state of the layer's random generator.
func (l *RandomZoom) UnmarshalState(b []byte) error { return l.aug.unmarshal(b) }

// MarshalState returns the state of the layer's random generator.
func (l *RandomContrast) MarshalState() ([]byte, error) { return l.aug.marshal() }

// UnmarshalState restores the state of the layer's random generator.
func (l *RandomContrast) UnmarshalState(b []byte) error { return l.aug.unmarshal(b) }

// MarshalState returns the state of the layer's random generator.
func (l *RandomBrightness) MarshalState() ([]byte, error) { return l.aug.marshal() }

// UnmarshalState restores the state of the layer's random generator.
func (l *RandomBrightness) UnmarshalState(b []byte) error { return l.aug.unmarshal(b) }

// augmenter is what the layers share: a one-transform pipeline and the
// per-sample shape.
type augmenter struct {
	p     *Pipeline
	shape []int
}

func (a *augmenter) build(in graph.Shape, rng *rand.Rand, seed uint64, wc *warpConfig, t Transform) (graph.Shape, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("augment: input must be images (H, W, C), got %v", in)
	}
	if seed == 0 {
		seed = rng.Uint64()
	}
	p, err := New(seed, t)
	if err != nil {
		return nil, err
	}
	if wc != nil {
		if p.Fill, err = ParseFillMode(wc.FillMode); err != nil {
			return nil, err
		}
		if p.Interpolation, err = ParseInterpolation(wc.Interpolation); err != nil {
			return nil, err
		}
		p.FillValue = float32(wc.FillValue)
	}
	a.p, a.shape = p, []int(in.Clone())
	return in.Clone(), nil
}

func (a *augmenter) call(c *graph.Ctx, x *G.Node, l graph.Layer) (*G.Node, error) {
	if !c.Training {
		return x, nil
	}
	if a.p == nil {
		return nil, errors.New("augment: layer not built")
	}
	if dt := x.Dtype(); dt != tensor.Float32 {
		return nil, fmt.Errorf("augment: input %v has dtype %v, want float32", x.Name(), dt)
	}
	op := &augOp{a: a, class: l.Class(), name: graph.NameOf(l), id: opIDs.Add(1)}
	return G.ApplyOp(op, x)
}

func (a *augmenter) marshal() ([]byte, error) {
	if a.p == nil {
		return nil, errors.New("augment: layer not built")
	}
	return a.p.MarshalState()
}

func (a *augmenter) unmarshal(b []byte) error {
	if a.p == nil {
		return errors.New("augment: layer not built")
	}
	return a.p.UnmarshalState(b)
}

// opIDs numbers the ops so that Gorgonia's hash-consing never merges two.
var opIDs atomic.Uint64

// augOp is y = the layer's random transform of x, a (batch, H, W, C)
// float32 tensor. Each run (Do) draws new random parameters. The output
// buffer is allocated by the first run and reused, so a value stays valid
// until the next run. The op has no gradient: SymDiff fails with an error
// naming the layer.
type augOp struct {
	a     *augmenter
	class string
	name  string
	id    uint64
	out   *tensor.Dense
}

func (op *augOp) Arity() int { return 1 }

// Type is a → a.
func (op *augOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a)
}

func (op *augOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("augment: %v: expected a tensor.Shape, got %T", op, in[0])
	}
	if len(s) != len(op.a.shape)+1 {
		return nil, fmt.Errorf("augment: %v: input shape %v is not (batch, %v)", op, s, op.a.shape)
	}
	return s.Clone(), nil
}

func (op *augOp) ReturnsPtr() bool     { return false }
func (op *augOp) CallsExtern() bool    { return false }
func (op *augOp) OverwritesInput() int { return -1 }
func (op *augOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "capa.%s{%s #%d}", op.class, op.name, op.id)
}
func (op *augOp) Hashcode() uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}
func (op *augOp) String() string { return fmt.Sprintf("%s{%s #%d}", op.class, op.name, op.id) }

func (op *augOp) Do(in ...G.Value) (G.Value, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("augment: %v: got %d inputs, want 1", op, len(in))
	}
	x, ok := in[0].(*tensor.Dense)
	if !ok || x.Dtype() != tensor.Float32 || !x.IsNativelyAccessible() || x.RequiresIterator() {
		return nil, fmt.Errorf("augment: %v: input is %T, want a contiguous float32 *tensor.Dense", op, in[0])
	}
	s := x.Shape()
	if op.out == nil || !op.out.Shape().Eq(s) {
		op.out = tensor.New(tensor.WithShape(s.Clone()...), tensor.Of(tensor.Float32))
	}
	dst := op.out.Float32s()
	copy(dst, x.Float32s())
	if err := op.a.p.Apply(dst, s[0], s[1:]); err != nil {
		return nil, fmt.Errorf("%v: %w", op, err)
	}
	return op.out, nil
}

// DiffWRT says the input would be differentiable, so that SymDiff is asked
// (and explains) when a gradient must flow through the layer.
func (op *augOp) DiffWRT(inputs int) []bool { return []bool{true} }

// SymDiff fails: the layers have no gradient. Gorgonia asks only when a
// weight comes before the layer.
func (op *augOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("augment: layer %q (%s) has no gradient: put it before every layer with weights, right after the Input", op.name, op.class)
}
