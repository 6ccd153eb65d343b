package graph

import (
	"math/rand/v2"

	"github.com/capa-ml/capa/internal/engine"
	G "gorgonia.org/gorgonia"
)

// DepthwiseConv2D convolves each input channel with its own
// DepthMultiplier filters (Keras's DepthwiseConv2D): output channel
// c*DepthMultiplier + m is input channel c through filter m. Its weight is
// "depthwise_kernel", (KH, KW, C, DepthMultiplier), as Keras's.
type DepthwiseConv2D struct {
	Base
	// KernelSize is the window (height, width) (required).
	KernelSize [2]int `json:"kernel_size"`
	// Strides defaults to (1, 1).
	Strides [2]int `json:"strides"`
	// Padding is "valid" (default) or "same".
	Padding string `json:"padding"`
	// DepthMultiplier is the number of filters per input channel (default 1).
	DepthMultiplier int `json:"depth_multiplier"`
	// Activation is applied to the output (default "linear").
	Activation string `json:"activation"`
	// NoBias drops the bias (Keras's use_bias=False).
	NoBias bool `json:"no_bias"`
	// DepthwiseInitializer defaults to "glorot_uniform", BiasInitializer
	// to "zeros".
	DepthwiseInitializer string `json:"depthwise_initializer"`
	BiasInitializer      string `json:"bias_initializer"`

	kernel, bias *Param
	pad          [4]int
}

func init() { Register("DepthwiseConv2D", func() Layer { return &DepthwiseConv2D{} }) }

// Class returns "DepthwiseConv2D".
func (l *DepthwiseConv2D) Class() string { return "DepthwiseConv2D" }

// SetDefaults fills the unset fields with Keras's defaults.
func (l *DepthwiseConv2D) SetDefaults() {
	setDefault(&l.Strides, [2]int{1, 1})
	setDefault(&l.Padding, "valid")
	setDefault(&l.DepthMultiplier, 1)
	setDefault(&l.Activation, "linear")
	setDefault(&l.DepthwiseInitializer, "glorot_uniform")
	setDefault(&l.BiasInitializer, "zeros")
}

// Validate checks the configuration.
func (l *DepthwiseConv2D) Validate() error {
	return firstError(
		positive2("kernel_size", l.KernelSize),
		positive2("strides", l.Strides),
		positive("depth_multiplier", l.DepthMultiplier),
		checkPadding(l.Padding),
		checkActivation(l.Activation),
		checkInitializer("depthwise_initializer", l.DepthwiseInitializer),
		checkInitializer("bias_initializer", l.BiasInitializer),
	)
}

// Build checks the input (H, W, C) and declares the kernel and bias.
func (l *DepthwiseConv2D) Build(in Shape, rng *rand.Rand) (Shape, error) {
	if err := needMaps("DepthwiseConv2D", in); err != nil {
		return nil, err
	}
	out, pad, err := window(in, l.KernelSize, l.Strides, l.Padding)
	if err != nil {
		return nil, err
	}
	l.pad = pad
	kh, kw, c, dm := l.KernelSize[0], l.KernelSize[1], in[2], l.DepthMultiplier
	// Keras's fans for a (KH, KW, C, dm) kernel: C·KH·KW in, dm·KH·KW out.
	if l.kernel, err = l.AddWeight("depthwise_kernel", []int{kh, kw, c, dm}, l.DepthwiseInitializer, "glorot_uniform", kh*kw*c, kh*kw*dm, rng); err != nil {
		return nil, err
	}
	if !l.NoBias {
		if l.bias, err = l.AddWeight("bias", []int{c * dm}, l.BiasInitializer, "zeros", kh*kw*c, kh*kw*dm, rng); err != nil {
			return nil, err
		}
	}
	return Shape{out[0], out[1], c * dm}, nil
}

// Call convolves x, adds the bias and applies the activation.
func (l *DepthwiseConv2D) Call(c *Ctx, x *G.Node) (*G.Node, error) {
	y, err := engine.DepthwiseConv2D(x, c.Param(l.kernel), l.Strides, l.pad)
	if err != nil {
		return nil, err
	}
	return biasActivate(c, y, l.bias, l.Activation)
}
