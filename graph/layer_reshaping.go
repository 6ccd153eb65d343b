package graph

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/capa-ml/capa/internal/engine"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Keras's reshaping and preprocessing layers: ZeroPadding2D, Cropping2D,
// UpSampling2D, Reshape, Rescaling.

// ZeroPadding2D adds rows and columns of zeros around (H, W, C) maps:
// Padding is ((top, bottom), (left, right)), Keras's normalized form; zero
// means Keras's default ((1, 1), (1, 1)).
type ZeroPadding2D struct {
	Base
	Padding [2][2]int `json:"padding"`
}

// Cropping2D removes rows and columns from the edges of (H, W, C) maps:
// Cropping is ((top, bottom), (left, right)).
type Cropping2D struct {
	Base
	Cropping [2][2]int `json:"cropping"`
}

// UpSampling2D repeats rows Size[0] times and columns Size[1] times
// (default (2, 2)); Interpolation is "nearest" (the default) or "bilinear"
// (half-pixel centers, as Keras's tf.image.resize and PyTorch's
// align_corners=False).
type UpSampling2D struct {
	Base
	Size          [2]int `json:"size"`
	Interpolation string `json:"interpolation"`
}

// Reshape gives each sample TargetShape (Keras's Reshape); one dimension
// may be -1, inferred from the others.
type Reshape struct {
	Base
	TargetShape []int `json:"target_shape"`

	out Shape
}

// Rescaling computes x·Scale + Offset (Keras's Rescaling, such as
// Scale 1/255 for pixels).
type Rescaling struct {
	Base
	Scale  float64 `json:"scale"`
	Offset float64 `json:"offset"`
}

func init() {
	Register("ZeroPadding2D", func() Layer { return &ZeroPadding2D{} })
	Register("Cropping2D", func() Layer { return &Cropping2D{} })
	Register("UpSampling2D", func() Layer { return &UpSampling2D{} })
	Register("Reshape", func() Layer { return &Reshape{} })
	Register("Rescaling", func() Layer { return &Rescaling{} })
}

func edges(p [2][2]int) [4]int { return [4]int{p[0][0], p[0][1], p[1][0], p[1][1]} }

func nonNegative4(field string, p [2][2]int) error {
	for _, v := range edges(p) {
		if v < 0 {
			return fmt.Errorf("%s must be non-negative, got %v", field, p)
		}
	}
	return nil
}

// Class returns "ZeroPadding2D".
func (l *ZeroPadding2D) Class() string { return "ZeroPadding2D" }

// SetDefaults sets Keras's ((1, 1), (1, 1)).
func (l *ZeroPadding2D) SetDefaults() { setDefault(&l.Padding, [2][2]int{{1, 1}, {1, 1}}) }

// Validate refuses negative padding.
func (l *ZeroPadding2D) Validate() error { return nonNegative4("padding", l.Padding) }

// Build returns the padded shape.
func (l *ZeroPadding2D) Build(in Shape, _ *rand.Rand) (Shape, error) {
	if err := needMaps("ZeroPadding2D", in); err != nil {
		return nil, err
	}
	p := edges(l.Padding)
	return Shape{in[0] + p[0] + p[1], in[1] + p[2] + p[3], in[2]}, nil
}

// Call pads x.
func (l *ZeroPadding2D) Call(_ *Ctx, x *G.Node) (*G.Node, error) {
	return engine.Pad2D(x, edges(l.Padding))
}

// Class returns "Cropping2D".
func (l *Cropping2D) Class() string { return "Cropping2D" }

// Validate refuses negative cropping.
func (l *Cropping2D) Validate() error { return nonNegative4("cropping", l.Cropping) }

// Build returns the cropped shape, refusing to crop everything.
func (l *Cropping2D) Build(in Shape, _ *rand.Rand) (Shape, error) {
	if err := needMaps("Cropping2D", in); err != nil {
		return nil, err
	}
	p := edges(l.Cropping)
	out := Shape{in[0] - p[0] - p[1], in[1] - p[2] - p[3], in[2]}
	if out[0] < 1 || out[1] < 1 {
		return nil, fmt.Errorf("cropping %v leaves nothing of %v", l.Cropping, in)
	}
	return out, nil
}

// Call crops x.
func (l *Cropping2D) Call(_ *Ctx, x *G.Node) (*G.Node, error) {
	return engine.Crop2D(x, edges(l.Cropping))
}

// Class returns "UpSampling2D".
func (l *UpSampling2D) Class() string { return "UpSampling2D" }

// SetDefaults sets size (2, 2) and nearest interpolation.
func (l *UpSampling2D) SetDefaults() {
	setDefault(&l.Size, [2]int{2, 2})
	setDefault(&l.Interpolation, "nearest")
}

// Validate checks the size and the interpolation.
func (l *UpSampling2D) Validate() error {
	if l.Interpolation != "nearest" && l.Interpolation != "bilinear" {
		return fmt.Errorf("interpolation %q is not implemented (only \"nearest\" and \"bilinear\")", l.Interpolation)
	}
	return positive2("size", l.Size)
}

// Build returns the upsampled shape.
func (l *UpSampling2D) Build(in Shape, _ *rand.Rand) (Shape, error) {
	if err := needMaps("UpSampling2D", in); err != nil {
		return nil, err
	}
	return Shape{in[0] * l.Size[0], in[1] * l.Size[1], in[2]}, nil
}

// Call upsamples x.
func (l *UpSampling2D) Call(_ *Ctx, x *G.Node) (*G.Node, error) {
	if l.Interpolation == "bilinear" {
		s := x.Shape()
		return engine.ResizeBilinear(x, s[1]*l.Size[0], s[2]*l.Size[1])
	}
	return engine.UpSample2D(x, l.Size)
}

// Permute reorders the axes of each sample (Keras's Permute): Dims lists,
// for each output axis, the input axis it takes, counted from 1 (the batch
// axis is not counted): Permute{Dims: []int{2, 1}} transposes a matrix.
type Permute struct {
	Base
	Dims []int `json:"dims"`
}

func init() { Register("Permute", func() Layer { return &Permute{} }) }

// Class returns "Permute".
func (l *Permute) Class() string { return "Permute" }

// Build checks that Dims permutes the input's axes.
func (l *Permute) Build(in Shape, _ *rand.Rand) (Shape, error) {
	if len(l.Dims) != len(in) {
		return nil, fmt.Errorf("dims %v must list each of the input's %d axes %v once", l.Dims, len(in), in)
	}
	out := make(Shape, len(in))
	seen := make([]bool, len(in))
	for i, d := range l.Dims {
		if d < 1 || d > len(in) || seen[d-1] {
			return nil, fmt.Errorf("dims %v must list each of the input's %d axes %v once, counted from 1", l.Dims, len(in), in)
		}
		seen[d-1] = true
		out[i] = in[d-1]
	}
	return out, nil
}

// Call permutes x's sample axes.
func (l *Permute) Call(_ *Ctx, x *G.Node) (*G.Node, error) { return engine.Permute(x, l.Dims) }

// Class returns "Reshape".
func (l *Reshape) Class() string { return "Reshape" }

// Validate checks the target shape: positive sizes, at most one -1.
func (l *Reshape) Validate() error {
	if len(l.TargetShape) == 0 {
		return errors.New("target_shape is required")
	}
	free := 0
	for _, d := range l.TargetShape {
		switch {
		case d == -1:
			free++
		case d < 1:
			return fmt.Errorf("target_shape %v has a dimension that is neither positive nor -1", l.TargetShape)
		}
	}
	if free > 1 {
		return fmt.Errorf("target_shape %v has more than one -1", l.TargetShape)
	}
	return nil
}

// Build infers the -1 and checks the sizes agree.
func (l *Reshape) Build(in Shape, _ *rand.Rand) (Shape, error) {
	out := Shape(append([]int(nil), l.TargetShape...))
	known, free := 1, -1
	for i, d := range out {
		if d == -1 {
			free = i
		} else {
			known *= d
		}
	}
	if free >= 0 {
		if in.Size()%known != 0 {
			return nil, fmt.Errorf("cannot reshape %v (%d values) to %v", in, in.Size(), l.TargetShape)
		}
		out[free] = in.Size() / known
	}
	if out.Size() != in.Size() {
		return nil, fmt.Errorf("cannot reshape %v (%d values) to %v (%d values)", in, in.Size(), out, out.Size())
	}
	l.out = out
	return out.Clone(), nil
}

// Call reshapes x (a view: no values move).
func (l *Reshape) Call(_ *Ctx, x *G.Node) (*G.Node, error) {
	return G.Reshape(x, tensor.Shape(l.out.WithBatch(x.Shape()[0])))
}

// Class returns "Rescaling".
func (l *Rescaling) Class() string { return "Rescaling" }

// Validate refuses a zero, NaN or infinite scale.
func (l *Rescaling) Validate() error {
	if l.Scale == 0 || math.IsNaN(l.Scale+l.Offset) || math.IsInf(l.Scale+l.Offset, 0) {
		return fmt.Errorf("scale must be a non-zero number and offset a number, got scale %v offset %v", l.Scale, l.Offset)
	}
	return nil
}

// Build returns the input shape.
func (l *Rescaling) Build(in Shape, _ *rand.Rand) (Shape, error) { return in.Clone(), nil }

// Call computes x·Scale + Offset in one op.
func (l *Rescaling) Call(_ *Ctx, x *G.Node) (*G.Node, error) {
	s, o := float32(l.Scale), float32(l.Offset)
	return engine.Unary(x, engine.UnaryFunc{
		Name: fmt.Sprintf("rescale(%v, %v)", l.Scale, l.Offset),
		F:    func(v float32) float32 { return v*s + o },
		D:    func(float32, float32) float32 { return s },
	})
}
