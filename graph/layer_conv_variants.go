package graph

import (
	"fmt"
	"math/rand/v2"

	"github.com/capa-ml/capa/internal/engine"
	"github.com/capa-ml/capa/internal/kernels"
	G "gorgonia.org/gorgonia"
)

// The convolutions beside Conv2D and DepthwiseConv2D: SeparableConv2D and
// Conv2DTranspose.

// SeparableConv2D is a depthwise convolution (each input channel through
// DepthMultiplier filters of its own) followed by a 1x1 convolution to
// Filters channels (Keras's SeparableConv2D). Its weights are
// "depthwise_kernel" (KH, KW, C, DepthMultiplier), "pointwise_kernel" (1,
// 1, C*DepthMultiplier, Filters) and "bias" (Filters), as Keras's.
type SeparableConv2D struct {
	Base
	// Filters is the number of output channels (required).
	Filters int `json:"filters"`
	// KernelSize is the depthwise window (height, width) (required).
	KernelSize [2]int `json:"kernel_size"`
	// Strides defaults to (1, 1).
	Strides [2]int `json:"strides"`
	// Padding is "valid" (default) or "same".
	Padding string `json:"padding"`
	// DepthMultiplier defaults to 1.
	DepthMultiplier int `json:"depth_multiplier"`
	// Activation is applied to the output (default "linear").
	Activation string `json:"activation"`
	// NoBias drops the bias (Keras's use_bias=False).
	NoBias bool `json:"no_bias"`
	// The initializers default to "glorot_uniform" and, for the bias,
	// "zeros".
	DepthwiseInitializer string `json:"depthwise_initializer"`
	PointwiseInitializer string `json:"pointwise_initializer"`
	BiasInitializer      string `json:"bias_initializer"`

	depthwise, pointwise, bias *Param
	pad                        [4]int
}

// Conv2DTranspose is the transposed convolution (Keras's
// Conv2DTranspose, the gradient of a convolution with respect to its
// input): each input pixel adds a Filters-channel window to the output,
// Strides apart. Its kernel is (KH, KW, Filters, C), Keras's layout; the
// output is Strides times larger, plus the window's overhang for "valid"
// padding, as Keras computes it (OutputPadding adds rows and columns at
// the bottom and right).
type Conv2DTranspose struct {
	Base
	// Filters is the number of output channels (required).
	Filters int `json:"filters"`
	// KernelSize is the window (height, width) (required).
	KernelSize [2]int `json:"kernel_size"`
	// Strides defaults to (1, 1).
	Strides [2]int `json:"strides"`
	// Padding is "valid" (default) or "same".
	Padding string `json:"padding"`
	// OutputPadding, if set, fixes the output size: (in-1)*stride + kernel
	// - 2*(kernel/2 for "same", else 0) + OutputPadding; each must be less
	// than its stride (Keras's output_padding; null: the default size).
	OutputPadding *[2]int `json:"output_padding"`
	// Activation is applied to the output (default "linear").
	Activation string `json:"activation"`
	// NoBias drops the bias (Keras's use_bias=False).
	NoBias bool `json:"no_bias"`
	// KernelInitializer defaults to "glorot_uniform", BiasInitializer to
	// "zeros".
	KernelInitializer string `json:"kernel_initializer"`
	BiasInitializer   string `json:"bias_initializer"`

	kernel, bias *Param
	out          [2]int
	pad          [4]int
}

func init() {
	Register("SeparableConv2D", func() Layer { return &SeparableConv2D{} })
	Register("Conv2DTranspose", func() Layer { return &Conv2DTranspose{} })
}

// Class returns "SeparableConv2D".
func (l *SeparableConv2D) Class() string { return "SeparableConv2D" }

// SetDefaults fills the unset fields with Keras's defaults.
func (l *SeparableConv2D) SetDefaults() {
	setDefault(&l.Strides, [2]int{1, 1})
	setDefault(&l.Padding, "valid")
	setDefault(&l.DepthMultiplier, 1)
	setDefault(&l.Activation, "linear")
	setDefault(&l.DepthwiseInitializer, "glorot_uniform")
	setDefault(&l.PointwiseInitializer, "glorot_uniform")
	setDefault(&l.BiasInitializer, "zeros")
}

// Validate checks the configuration.
func (l *SeparableConv2D) Validate() error {
	return firstError(
		positive("filters", l.Filters),
		positive2("kernel_size", l.KernelSize),
		positive2("strides", l.Strides),
		positive("depth_multiplier", l.DepthMultiplier),
		checkPadding(l.Padding),
		checkActivation(l.Activation),
		checkInitializer("depthwise_initializer", l.DepthwiseInitializer),
		checkInitializer("pointwise_initializer", l.PointwiseInitializer),
		checkInitializer("bias_initializer", l.BiasInitializer),
	)
}

// Build checks the input (H, W, C) and declares the weights.
func (l *SeparableConv2D) Build(in Shape, rng *rand.Rand) (Shape, error) {
	if err := needMaps("SeparableConv2D", in); err != nil {
		return nil, err
	}
	out, pad, err := window(in, l.KernelSize, l.Strides, l.Padding)
	if err != nil {
		return nil, err
	}
	l.pad = pad
	kh, kw, c, dm, f := l.KernelSize[0], l.KernelSize[1], in[2], l.DepthMultiplier, l.Filters
	if l.depthwise, err = l.AddWeight("depthwise_kernel", []int{kh, kw, c, dm}, l.DepthwiseInitializer, "glorot_uniform", kh*kw*c, kh*kw*dm, rng); err != nil {
		return nil, err
	}
	if l.pointwise, err = l.AddWeight("pointwise_kernel", []int{1, 1, c * dm, f}, l.PointwiseInitializer, "glorot_uniform", c*dm, f, rng); err != nil {
		return nil, err
	}
	if !l.NoBias {
		if l.bias, err = l.AddWeight("bias", []int{f}, l.BiasInitializer, "zeros", c*dm, f, rng); err != nil {
			return nil, err
		}
	}
	return Shape{out[0], out[1], f}, nil
}

// Call runs the depthwise then the pointwise convolution, adds the bias
// and applies the activation.
func (l *SeparableConv2D) Call(c *Ctx, x *G.Node) (*G.Node, error) {
	y, err := engine.DepthwiseConv2D(x, c.Param(l.depthwise), l.Strides, l.pad)
	if err != nil {
		return nil, err
	}
	if y, err = engine.Convolution2D(y, c.Param(l.pointwise), [2]int{1, 1}, [4]int{}); err != nil {
		return nil, err
	}
	return biasActivate(c, y, l.bias, l.Activation)
}

// Class returns "Conv2DTranspose".
func (l *Conv2DTranspose) Class() string { return "Conv2DTranspose" }

// SetDefaults fills the unset fields with Keras's defaults.
func (l *Conv2DTranspose) SetDefaults() {
	setDefault(&l.Strides, [2]int{1, 1})
	setDefault(&l.Padding, "valid")
	setDefault(&l.Activation, "linear")
	setDefault(&l.KernelInitializer, "glorot_uniform")
	setDefault(&l.BiasInitializer, "zeros")
}

// Validate checks the configuration.
func (l *Conv2DTranspose) Validate() error {
	var op error
	if p := l.OutputPadding; p != nil {
		for i, v := range p {
			if v < 0 || (l.Strides[i] > 0 && v >= l.Strides[i]) {
				op = fmt.Errorf("output_padding %v must be non-negative and less than the strides %v", *p, l.Strides)
			}
		}
	}
	return firstError(
		positive("filters", l.Filters),
		positive2("kernel_size", l.KernelSize),
		positive2("strides", l.Strides),
		op,
		checkPadding(l.Padding),
		checkActivation(l.Activation),
		checkInitializer("kernel_initializer", l.KernelInitializer),
		checkInitializer("bias_initializer", l.BiasInitializer),
	)
}

// transposedLength is Keras's output length of a transposed convolution
// along one axis (conv_utils.deconv_output_length without dilation) and
// the padding (before, after) of the convolution it is the gradient of.
func transposedLength(in, k, s int, same bool, outPad *int) (int, [2]int) {
	var out int
	switch {
	case outPad == nil && same:
		out = in * s
	case outPad == nil:
		out = in*s + max(k-s, 0)
	case same:
		out = (in-1)*s + k - 2*(k/2) + *outPad
	default:
		out = (in-1)*s + k + *outPad
	}
	if !same {
		return out, [2]int{}
	}
	// The convolution from out back to in with "same" padding, as
	// TensorFlow's conv2d_transpose: the odd extra row after.
	total := max((in-1)*s+k-out, 0)
	return out, [2]int{total / 2, total - total/2}
}

// Build checks the input (H, W, C), computes the output size and declares
// the kernel and bias.
func (l *Conv2DTranspose) Build(in Shape, rng *rand.Rand) (Shape, error) {
	if err := needMaps("Conv2DTranspose", in); err != nil {
		return nil, err
	}
	same := l.Padding == "same"
	var pads [2][2]int
	for i := range 2 {
		var op *int
		if l.OutputPadding != nil {
			op = &l.OutputPadding[i]
		}
		l.out[i], pads[i] = transposedLength(in[i], l.KernelSize[i], l.Strides[i], same, op)
	}
	l.pad = [4]int{pads[0][0], pads[0][1], pads[1][0], pads[1][1]}
	p := kernels.Window{H: l.out[0], W: l.out[1], KH: l.KernelSize[0], KW: l.KernelSize[1], SH: l.Strides[0], SW: l.Strides[1],
		PadTop: l.pad[0], PadBottom: l.pad[1], PadLeft: l.pad[2], PadRight: l.pad[3]}
	if l.out[0] < 1 || l.out[1] < 1 || p.OutH() != in[0] || p.OutW() != in[1] {
		return nil, fmt.Errorf("a %dx%d output does not convolve back to the %dx%d input (kernel %v, strides %v, %q padding)",
			l.out[0], l.out[1], in[0], in[1], l.KernelSize, l.Strides, l.Padding)
	}
	kh, kw, c, f := l.KernelSize[0], l.KernelSize[1], in[2], l.Filters
	var err error
	// Keras's fans for a (KH, KW, F, C) kernel: F·KH·KW in, C·KH·KW out.
	if l.kernel, err = l.AddWeight("kernel", []int{kh, kw, f, c}, l.KernelInitializer, "glorot_uniform", kh*kw*f, kh*kw*c, rng); err != nil {
		return nil, err
	}
	if !l.NoBias {
		if l.bias, err = l.AddWeight("bias", []int{f}, l.BiasInitializer, "zeros", kh*kw*f, kh*kw*c, rng); err != nil {
			return nil, err
		}
	}
	return Shape{l.out[0], l.out[1], f}, nil
}

// Call runs the transposed convolution, adds the bias and applies the
// activation.
func (l *Conv2DTranspose) Call(c *Ctx, x *G.Node) (*G.Node, error) {
	y, err := engine.Conv2DTranspose(x, c.Param(l.kernel), l.out, l.Strides, l.pad)
	if err != nil {
		return nil, err
	}
	return biasActivate(c, y, l.bias, l.Activation)
}
