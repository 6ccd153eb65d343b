package graph

import (
	"math/rand/v2"

	"github.com/capa-ml/capa/internal/engine"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// poolDefaults applies a pooling layer's defaults: pool 2x2, strides =
// pool, "valid" padding.
func poolDefaults(pool, strides *[2]int, padding *string) {
	setDefault(pool, [2]int{2, 2})
	setDefault(strides, *pool)
	setDefault(padding, "valid")
}

// poolValidate checks a pooling configuration.
func poolValidate(pool, strides [2]int, padding string) error {
	return firstError(positive2("pool_size", pool), positive2("strides", strides), checkPadding(padding))
}

// poolBuild checks a pooling configuration against the input (H, W, C) and
// returns the output shape and the padding.
func poolBuild(in Shape, pool, strides *[2]int, padding string) (Shape, [4]int, error) {
	if err := needMaps("pooling", in); err != nil {
		return nil, [4]int{}, err
	}
	out, pad, err := window(in, *pool, *strides, padding)
	if err != nil {
		return nil, [4]int{}, err
	}
	return Shape{out[0], out[1], in[2]}, pad, nil
}

// MaxPooling2D keeps the largest value of each window, Keras's MaxPooling2D.
type MaxPooling2D struct {
	Base
	// PoolSize defaults to (2, 2).
	PoolSize [2]int `json:"pool_size"`
	// Strides defaults to PoolSize.
	Strides [2]int `json:"strides"`
	// Padding is "valid" (default) or "same"; padded cells never win.
	Padding string `json:"padding"`

	pad [4]int
}

// AveragePooling2D averages each window, Keras's AveragePooling2D.
type AveragePooling2D struct {
	Base
	// PoolSize defaults to (2, 2).
	PoolSize [2]int `json:"pool_size"`
	// Strides defaults to PoolSize.
	Strides [2]int `json:"strides"`
	// Padding is "valid" (default) or "same"; padded cells are not
	// averaged (the divisor is the number of real cells).
	Padding string `json:"padding"`

	pad [4]int
}

func init() {
	Register("MaxPooling2D", func() Layer { return &MaxPooling2D{} })
	Register("AveragePooling2D", func() Layer { return &AveragePooling2D{} })
}

// Class returns "MaxPooling2D".
func (l *MaxPooling2D) Class() string { return "MaxPooling2D" }

// SetDefaults fills the unset fields with Keras's defaults.
func (l *MaxPooling2D) SetDefaults() { poolDefaults(&l.PoolSize, &l.Strides, &l.Padding) }

// Validate checks the configuration.
func (l *MaxPooling2D) Validate() error { return poolValidate(l.PoolSize, l.Strides, l.Padding) }

// Build validates the configuration against the input (H, W, C).
func (l *MaxPooling2D) Build(in Shape, _ *rand.Rand) (out Shape, err error) {
	out, l.pad, err = poolBuild(in, &l.PoolSize, &l.Strides, l.Padding)
	return out, err
}

// Call pools x (N, H, W, C).
func (l *MaxPooling2D) Call(_ *Ctx, x *G.Node) (*G.Node, error) {
	return engine.MaxPool2D(x, l.PoolSize, l.Strides, l.pad)
}

// Class returns "AveragePooling2D".
func (l *AveragePooling2D) Class() string { return "AveragePooling2D" }

// SetDefaults fills the unset fields with Keras's defaults.
func (l *AveragePooling2D) SetDefaults() { poolDefaults(&l.PoolSize, &l.Strides, &l.Padding) }

// Validate checks the configuration.
func (l *AveragePooling2D) Validate() error { return poolValidate(l.PoolSize, l.Strides, l.Padding) }

// Build validates the configuration against the input (H, W, C).
func (l *AveragePooling2D) Build(in Shape, _ *rand.Rand) (out Shape, err error) {
	out, l.pad, err = poolBuild(in, &l.PoolSize, &l.Strides, l.Padding)
	return out, err
}

// Call pools x (N, H, W, C).
func (l *AveragePooling2D) Call(_ *Ctx, x *G.Node) (*G.Node, error) {
	return engine.AvgPool2D(x, l.PoolSize, l.Strides, l.pad)
}

// GlobalAveragePooling2D averages each channel over the whole map:
// (H, W, C) -> (C).
type GlobalAveragePooling2D struct{ Base }

func init() {
	Register("GlobalAveragePooling2D", func() Layer { return &GlobalAveragePooling2D{} })
}

// Class returns "GlobalAveragePooling2D".
func (l *GlobalAveragePooling2D) Class() string { return "GlobalAveragePooling2D" }

// Build checks the input is (H, W, C).
func (l *GlobalAveragePooling2D) Build(in Shape, _ *rand.Rand) (Shape, error) {
	if err := needMaps("GlobalAveragePooling2D", in); err != nil {
		return nil, err
	}
	return Shape{in[2]}, nil
}

// Call averages x (N, H, W, C) to (N, C).
func (l *GlobalAveragePooling2D) Call(_ *Ctx, x *G.Node) (*G.Node, error) {
	return engine.GlobalAvgPool2D(x)
}

// GlobalMaxPooling2D takes each channel's maximum over the whole map:
// (H, W, C) -> (C).
type GlobalMaxPooling2D struct{ Base }

func init() {
	Register("GlobalMaxPooling2D", func() Layer { return &GlobalMaxPooling2D{} })
}

// Class returns "GlobalMaxPooling2D".
func (l *GlobalMaxPooling2D) Class() string { return "GlobalMaxPooling2D" }

// Build checks the input is (H, W, C).
func (l *GlobalMaxPooling2D) Build(in Shape, _ *rand.Rand) (Shape, error) {
	if err := needMaps("GlobalMaxPooling2D", in); err != nil {
		return nil, err
	}
	return Shape{in[2]}, nil
}

// Call takes the maximum of x (N, H, W, C) over H and W: (N, C), as one
// max pool over the whole map (Capa's pooling kernel, forward and
// backward).
func (l *GlobalMaxPooling2D) Call(_ *Ctx, x *G.Node) (*G.Node, error) {
	s := x.Shape()
	y, err := engine.MaxPool2D(x, [2]int{s[1], s[2]}, [2]int{s[1], s[2]}, [4]int{})
	if err != nil {
		return nil, err
	}
	return G.Reshape(y, tensor.Shape{s[0], s[3]})
}
