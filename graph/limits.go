package graph

import (
	"fmt"
	"math"
)

// Limits bound what an architecture may ask for. They are checked from
// shapes alone, with overflow-safe arithmetic, after each layer's Build has
// declared its weights and before any weight is allocated, so that a model
// file or a configuration asking for a Conv2D of 2e9 filters is refused with
// an error instead of exhausting memory.
type Limits struct {
	// MaxParams is the largest number of weights (float32 values, trainable
	// or not) a model may have.
	MaxParams int64
	// MaxActivations is the largest number of float32 values one image may
	// need for the input and every layer's output together (the activation
	// memory of a forward pass is 4 bytes times this, per image).
	MaxActivations int64
}

// DefaultLimits are the limits of models built with Sequential, Load and
// ModelSpec.Build unless an option says otherwise: 2^28 weights (1 GiB of
// float32: VGG16 has 138 million) and 2^28 activation values per image
// (VGG16 on 224×224 images needs 15 million). Raise them with WithLimits,
// Model.SetLimits, or the CLI's --max-params.
var DefaultLimits = Limits{MaxParams: 1 << 28, MaxActivations: 1 << 28}

// ErrLimit is wrapped by the errors of architectures over their Limits.
var ErrLimit = fmt.Errorf("graph: architecture over the limits")

// sizeOf is the product of dims, saturated at math.MaxInt64; ok is false if
// a dimension is not positive.
func sizeOf(dims []int) (n int64, ok bool) {
	n = 1
	for _, d := range dims {
		if d < 1 {
			return 0, false
		}
		n = mulSat(n, int64(d))
	}
	return n, true
}

// mulSat multiplies positive a and b, saturating at math.MaxInt64.
func mulSat(a, b int64) int64 {
	if a > math.MaxInt64/b {
		return math.MaxInt64
	}
	return a * b
}

// addSat adds non-negative a and b, saturating at math.MaxInt64.
func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// human prints a count with an SI suffix: 2.1e+09 -> "2.1 G".
func human(n int64) string {
	switch {
	case n == math.MaxInt64:
		return "more than 9.2e18"
	case n >= 1e12:
		return fmt.Sprintf("%.3g T", float64(n)/1e12)
	case n >= 1e9:
		return fmt.Sprintf("%.3g G", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.3g M", float64(n)/1e6)
	}
	return fmt.Sprint(n)
}

// checkLayer checks a just-built layer's weights and output against the
// model's limits and adds them to its running totals.
func (m *Model) checkLayer(l Layer, out Shape) error {
	b := l.base()
	var layerParams int64
	for _, p := range b.params {
		n, ok := sizeOf(p.shape)
		if !ok {
			return fmt.Errorf("graph: layer %q (%s): weight %s has shape %v, with a non-positive dimension", b.Name, l.Class(), p.Name, p.shape)
		}
		layerParams = addSat(layerParams, n)
	}
	outN, ok := sizeOf(out)
	if !ok {
		return fmt.Errorf("graph: layer %q (%s) on input %v gives output shape %v, with a non-positive dimension", b.Name, l.Class(), b.inShape, out)
	}
	params, acts := addSat(m.nParams, layerParams), addSat(m.nActs, outN)
	lim := m.Limits()
	if params > lim.MaxParams {
		return fmt.Errorf("%w: layer %q (%s) on input %v needs %s weights, bringing the model to %s, over the limit of %s (%s of float32); raise Limits.MaxParams (graph.WithLimits, or --max-params on the command line) if you mean it",
			ErrLimit, b.Name, l.Class(), b.inShape, human(layerParams), human(params), human(lim.MaxParams), bytesOf(lim.MaxParams))
	}
	if acts > lim.MaxActivations {
		return fmt.Errorf("%w: layer %q (%s) on input %v gives output %v (%s values per image), bringing one image's activations to %s, over the limit of %s (%s of float32); raise Limits.MaxActivations (graph.WithLimits) if you mean it",
			ErrLimit, b.Name, l.Class(), b.inShape, out, human(outN), human(acts), human(lim.MaxActivations), bytesOf(lim.MaxActivations))
	}
	m.nParams, m.nActs = params, acts
	return nil
}

// checkInput checks the input shape against the activation limit.
func (m *Model) checkInput(in Shape) error {
	n, ok := sizeOf(in)
	if !ok {
		return fmt.Errorf("graph: Input shape %v has a non-positive dimension", in)
	}
	if lim := m.Limits(); n > lim.MaxActivations {
		return fmt.Errorf("%w: Input shape %v has %s values per image, over the limit of %s (%s of float32); raise Limits.MaxActivations (graph.WithLimits) if you mean it",
			ErrLimit, in, human(n), human(lim.MaxActivations), bytesOf(lim.MaxActivations))
	}
	m.nActs = n
	return nil
}

func bytesOf(floats int64) string {
	b := float64(floats) * 4
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.3g GiB", b/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.3g MiB", b/(1<<20))
	}
	return fmt.Sprintf("%.0f bytes", b)
}

// Limits returns the limits the model's layers are checked against.
func (m *Model) Limits() Limits {
	if m.limits == nil {
		return DefaultLimits
	}
	return *m.limits
}

// SetLimits changes the limits for the layers added from now on (a zero
// field keeps its current value).
func (m *Model) SetLimits(l Limits) {
	cur := m.Limits()
	if l.MaxParams > 0 {
		cur.MaxParams = l.MaxParams
	}
	if l.MaxActivations > 0 {
		cur.MaxActivations = l.MaxActivations
	}
	m.limits = &cur
}

// Plan is what an architecture needs, computed from its shapes alone,
// without allocating any weight: ModelSpec.Plan.
type Plan struct {
	// Params is the number of weights (saturated at math.MaxInt64).
	Params int64
	// Activations is the number of float32 values one image needs for the
	// input and every layer's output.
	Activations int64
	// Weights lists every weight's name and shape, in layer order.
	Weights []WeightShape
	// Output is the per-sample output shape.
	Output Shape
}

// WeightShape is a weight's name ("conv2d/kernel") and shape.
type WeightShape struct {
	Name  string
	Shape []int
}

// Plan validates the architecture (every layer's configuration, every
// shape) and returns what it needs, without allocating weights; an
// architecture over lim is refused with an error wrapping ErrLimit that
// names the layer.
func (s ModelSpec) Plan(lim Limits) (*Plan, error) {
	m, err := s.build(lim, true)
	if err != nil {
		return nil, err
	}
	p := &Plan{Params: m.nParams, Activations: m.nActs, Output: m.OutputShape()}
	for _, w := range m.Params() {
		p.Weights = append(p.Weights, WeightShape{Name: w.Name, Shape: w.Shape()})
	}
	return p, nil
}
