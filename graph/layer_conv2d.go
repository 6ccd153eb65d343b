package graph

import (
	"fmt"
	"math/rand/v2"

	"github.com/capa-ml/capa/internal/engine"
	"github.com/capa-ml/capa/internal/kernels"
	G "gorgonia.org/gorgonia"
)

// Conv2D is a 2-D convolution over (H, W, C) feature maps, Keras's Conv2D.
// Its kernel has shape (KH, KW, C, Filters), its bias (Filters).
type Conv2D struct {
	Base
	// Filters is the number of output channels (required).
	Filters int `json:"filters"`
	// KernelSize is the window (height, width) (required).
	KernelSize [2]int `json:"kernel_size"`
	// Strides defaults to (1, 1).
	Strides [2]int `json:"strides"`
	// Padding is "valid" (default) or "same". "same" pads so the output is
	// ceil(input/stride), the odd extra row or column at the bottom and right.
	Padding string `json:"padding"`
	// DilationRate spaces the kernel's taps (default (1, 1)): a 3x3
	// kernel with rate 2 covers 5x5. Strides must then be 1, as in Keras.
	DilationRate [2]int `json:"dilation_rate"`
	// Groups splits the input channels and the filters into that many
	// groups convolved separately (default 1): the kernel is then (KH,
	// KW, C/Groups, Filters), as Keras's.
	Groups int `json:"groups"`
	// Activation is applied to the output: "relu", "sigmoid", "tanh",
	// "softmax" or "linear" (default).
	Activation string `json:"activation"`
	// NoBias drops the bias (Keras's use_bias=False; files say "use_bias").
	NoBias bool `json:"no_bias"`
	// KernelInitializer defaults to "glorot_uniform", BiasInitializer to
	// "zeros"; files hold Keras's form, {"class_name": "GlorotUniform", ...}.
	KernelInitializer string `json:"kernel_initializer"`
	BiasInitializer   string `json:"bias_initializer"`
	// KernelRegularizer adds a penalty on the kernel to the loss.
	KernelRegularizer *Regularizer `json:"kernel_regularizer"`

	kernel, bias *Param
	pad          [4]int
}

func init() { Register("Conv2D", func() Layer { return &Conv2D{} }) }

// Class returns "Conv2D".
func (l *Conv2D) Class() string { return "Conv2D" }

// SetDefaults fills the unset fields with Keras's defaults.
func (l *Conv2D) SetDefaults() {
	setDefault(&l.Strides, [2]int{1, 1})
	setDefault(&l.Padding, "valid")
	setDefault(&l.DilationRate, [2]int{1, 1})
	setDefault(&l.Groups, 1)
	setDefault(&l.Activation, "linear")
	setDefault(&l.KernelInitializer, "glorot_uniform")
	setDefault(&l.BiasInitializer, "zeros")
}

// Validate checks the configuration.
func (l *Conv2D) Validate() error {
	return firstError(
		positive("filters", l.Filters),
		positive2("kernel_size", l.KernelSize),
		positive2("strides", l.Strides),
		positive2("dilation_rate", l.DilationRate),
		positive("groups", l.Groups),
		l.checkDilation(),
		checkPadding(l.Padding),
		checkActivation(l.Activation),
		checkInitializer("kernel_initializer", l.KernelInitializer),
		checkInitializer("bias_initializer", l.BiasInitializer),
		l.KernelRegularizer.validate("kernel_regularizer"),
	)
}

// Build checks the input (H, W, C) and declares the kernel and bias.
func (l *Conv2D) Build(in Shape, rng *rand.Rand) (Shape, error) {
	if err := needMaps("Conv2D", in); err != nil {
		return nil, err
	}
	out, pad, err := window(in, l.effectiveKernel(), l.Strides, l.Padding)
	if err != nil {
		return nil, err
	}
	l.pad = pad
	kh, kw, c := l.KernelSize[0], l.KernelSize[1], in[2]
	if g := l.Groups; c%g != 0 || l.Filters%g != 0 {
		return nil, fmt.Errorf("groups %d must divide the input's %d channels and the %d filters", g, c, l.Filters)
	}
	c /= l.Groups
	if l.kernel, err = l.AddWeight("kernel", []int{kh, kw, c, l.Filters}, l.KernelInitializer, "glorot_uniform", kh*kw*c, kh*kw*l.Filters, rng); err != nil {
		return nil, err
	}
	l.kernel.Regularizer = l.KernelRegularizer
	if !l.NoBias {
		if l.bias, err = l.AddWeight("bias", []int{l.Filters}, l.BiasInitializer, "zeros", kh*kw*c, kh*kw*l.Filters, rng); err != nil {
			return nil, err
		}
	}
	return Shape{out[0], out[1], l.Filters}, nil
}

// Call convolves x (N, H, W, C) with the kernel, adds the bias and applies
// the activation.
func (l *Conv2D) Call(c *Ctx, x *G.Node) (*G.Node, error) {
	k := c.Param(l.kernel)
	var err error
	if l.DilationRate != [2]int{1, 1} {
		// A dilated kernel is the kernel with zeros between its taps.
		if k, err = engine.DilateKernel(k, l.DilationRate); err != nil {
			return nil, err
		}
	}
	var y *G.Node
	switch ch := x.Shape()[3]; {
	case l.Groups == 1 && l.bias != nil && l.Activation == "relu":
		// The bias and the ReLU run inside the convolution, on each
		// block of its output while the block is in cache.
		return engine.Conv2DBiasRelu(x, k, c.Param(l.bias), l.Strides, l.pad)
	case l.Groups == 1:
		y, err = engine.Convolution2D(x, k, l.Strides, l.pad)
	case l.Groups == ch:
		// One group per channel is a depthwise convolution, and the
		// grouped kernel (KH, KW, 1, C·m) has the depthwise kernel's
		// layout (KH, KW, C, m).
		ks := k.Shape()
		if k, err = G.Reshape(k, []int{ks[0], ks[1], ch, l.Filters / ch}); err == nil {
			y, err = engine.DepthwiseConv2D(x, k, l.Strides, l.pad)
		}
	default:
		y, err = groupedConv(x, k, l.Groups, l.Strides, l.pad)
	}
	if err != nil {
		return nil, err
	}
	return biasActivate(c, y, l.bias, l.Activation)
}

// groupedConv convolves each of g groups of x's channels with its share of
// the filters, kernel (KH, KW, C/g, F), and concatenates the outputs.
func groupedConv(x, k *G.Node, g int, strides [2]int, pad [4]int) (*G.Node, error) {
	c, f := x.Shape()[3]/g, k.Shape()[3]/g
	ys := make([]*G.Node, g)
	for j := range ys {
		xj, err := engine.SliceLast(x, j*c, (j+1)*c)
		if err != nil {
			return nil, err
		}
		kj, err := engine.SliceLast(k, j*f, (j+1)*f)
		if err != nil {
			return nil, err
		}
		if ys[j], err = engine.Convolution2D(xj, kj, strides, pad); err != nil {
			return nil, err
		}
	}
	return engine.Concat(3, ys...)
}

// effectiveKernel is the window a dilated kernel covers.
func (l *Conv2D) effectiveKernel() [2]int {
	d := l.DilationRate
	if d[0] < 1 || d[1] < 1 {
		d = [2]int{1, 1}
	}
	return [2]int{(l.KernelSize[0]-1)*d[0] + 1, (l.KernelSize[1]-1)*d[1] + 1}
}

// checkDilation refuses a dilation with strides, as Keras does.
func (l *Conv2D) checkDilation() error {
	if l.DilationRate != [2]int{1, 1} && l.Strides != [2]int{1, 1} {
		return fmt.Errorf("dilation_rate %v needs strides (1, 1), got %v", l.DilationRate, l.Strides)
	}
	return nil
}

// window computes the output size (OH, OW) and the padding (top, bottom,
// left, right) of a sliding window on in (H, W, C), checking that it fits.
func window(in Shape, k, s [2]int, padding string) ([2]int, [4]int, error) {
	if err := checkPadding(padding); err != nil {
		return [2]int{}, [4]int{}, err
	}
	same := padding == "same"
	t, b := kernels.Padding(same, in[0], k[0], s[0])
	lft, r := kernels.Padding(same, in[1], k[1], s[1])
	if in[0]+t+b < k[0] || in[1]+lft+r < k[1] {
		return [2]int{}, [4]int{}, fmt.Errorf("a %dx%d window does not fit a %dx%d map with %q padding", k[0], k[1], in[0], in[1], padding)
	}
	oh := (in[0]+t+b-k[0])/s[0] + 1
	ow := (in[1]+lft+r-k[1])/s[1] + 1
	return [2]int{oh, ow}, [4]int{t, b, lft, r}, nil
}
