package applications

import (
	"fmt"

	"github.com/capa-ml/capa/graph"
)

// mobileNetV2Blocks are MobileNetV2's inverted residual blocks (Sandler
// et al. 2018): expansion, stride, output channels.
var mobileNetV2Blocks = [][3]int{
	{1, 1, 16}, {6, 2, 24}, {6, 1, 24}, {6, 2, 32}, {6, 1, 32}, {6, 1, 32}, {6, 2, 64}, {6, 1, 64}, {6, 1, 64},
	{6, 1, 64}, {6, 1, 96}, {6, 1, 96}, {6, 1, 96}, {6, 2, 160}, {6, 1, 160}, {6, 1, 160}, {6, 1, 320},
}

func relu6(name string) graph.Layer { return &graph.ReLU{Base: graph.Base{Name: name}, MaxValue: 6} }

// KerasMobileNetV2 is keras.applications.MobileNetV2 with alpha 1.0, layer
// for layer and name for name: ReLU6, BatchNormalization epsilon 1e-3 and
// momentum 0.999, and before every strided depthwise convolution Keras's
// "correct_pad" ZeroPadding2D. Its files are Keras's
// mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224(_no_top).h5; its
// inputs are scaled to [-1, 1].
func KerasMobileNetV2(c Config) (*graph.Model, error) {
	if err := c.defaults(); err != nil {
		return nil, err
	}
	norm := func(name string) graph.Layer { return bn(name, 1e-3, 0.999) }
	block := func(x *graph.Tensor, expansion, stride, filters, id int) *graph.Tensor {
		in := x
		ch := x.Shape()[2]
		prefix := fmt.Sprintf("block_%d_", id)
		if id > 0 {
			x = graph.Apply(conv(prefix+"expand", expansion*ch, 1, 1, "same", false), x)
			x = graph.Apply(relu6(prefix+"expand_relu"), graph.Apply(norm(prefix+"expand_BN"), x))
		} else {
			prefix = "expanded_conv_"
		}
		padding := "same"
		if stride == 2 {
			x = graph.Apply(&graph.ZeroPadding2D{Base: graph.Base{Name: prefix + "pad"}, Padding: correctPad(x.Shape(), 3)}, x)
			padding = "valid"
		}
		x = graph.Apply(&graph.DepthwiseConv2D{Base: graph.Base{Name: prefix + "depthwise"}, KernelSize: [2]int{3, 3},
			Strides: [2]int{stride, stride}, Padding: padding, NoBias: true}, x)
		x = graph.Apply(relu6(prefix+"depthwise_relu"), graph.Apply(norm(prefix+"depthwise_BN"), x))
		x = graph.Apply(norm(prefix+"project_BN"), graph.Apply(conv(prefix+"project", filters, 1, 1, "same", false), x))
		if ch == filters && stride == 1 {
			return graph.Apply(&graph.Add{Base: graph.Base{Name: prefix + "add"}}, in, x)
		}
		return x
	}
	in := graph.NamedInput("input_1", c.Height, c.Width, 3)
	x := graph.Apply(conv("Conv1", c.mobileCh(32), 3, 2, "same", false), in)
	x = graph.Apply(relu6("Conv1_relu"), graph.Apply(norm("bn_Conv1"), x))
	for i, b := range mobileNetV2Blocks {
		x = block(x, b[0], b[1], c.kerasBlockCh(b[2]), i)
	}
	x = graph.Apply(conv("Conv_1", c.lastCh(), 1, 1, "same", false), x)
	x = graph.Apply(relu6("out_relu"), graph.Apply(norm("Conv_1_bn"), x))
	return c.model("mobilenetv2_1.00_224", in, c.head(x, "global_average_pooling2d", "global_max_pooling2d", "predictions", "", 0))
}

// lastCh is the last convolution's width: 1280, scaled only for an alpha
// above 1 (both sources), or divided for a reduced test model.
func (c *Config) lastCh() int {
	if c.Alpha > 1 {
		return makeDivisible(1280*c.Alpha, 8)
	}
	if c.Alpha > 0 {
		return 1280
	}
	return c.ch(1280)
}

// correctPad is Keras's imagenet_utils.correct_pad: the padding before a
// strided k x k depthwise convolution of a (H, W, C) map, one less at the
// top and left when the size is even.
func correctPad(s graph.Shape, k int) [2][2]int {
	var p [2][2]int
	for i := range 2 {
		adjust := 1 - s[i]%2
		p[i] = [2]int{k/2 - adjust, k / 2}
	}
	return p
}

// TorchMobileNetV2 is torchvision's mobilenet_v2 (width 1.0): the same
// blocks as Keras's with torchvision's choices (BatchNorm epsilon 1e-5,
// momentum 0.9 in Keras's terms; symmetric padding 1 before every strided
// 3x3 convolution; dropout 0.2 before the classifier). Layer names are its
// module paths with "_" for ".": features_0_0 (the stem's convolution),
// features_1_conv_0_0 (a depthwise convolution), features_2_conv_0_1 (an
// expansion's batch normalization), features_18_0, classifier_1. Its file
// is torchvision's mobilenet_v2-b0353104.pth; its inputs are normalized by
// ImageNet's mean and standard deviation.
func TorchMobileNetV2(c Config) (*graph.Model, error) {
	if err := c.defaults(); err != nil {
		return nil, err
	}
	norm := func(name string) graph.Layer { return bn(name, 1e-5, 0.9) }
	// convBN is torchvision's Conv2dNormActivation: conv (name_0), batch
	// normalization (name_1), ReLU6 (name_2) unless linear.
	convBN := func(x *graph.Tensor, name string, filters, k, stride int, depthwise, linear bool) *graph.Tensor {
		padding := "same"
		if stride != 1 {
			x = graph.Apply(pad(name+"_pad", (k-1)/2), x)
			padding = "valid"
		}
		if depthwise {
			x = graph.Apply(&graph.DepthwiseConv2D{Base: graph.Base{Name: name + "_0"}, KernelSize: [2]int{k, k},
				Strides: [2]int{stride, stride}, Padding: padding, NoBias: true}, x)
		} else {
			x = graph.Apply(conv(name+"_0", filters, k, stride, padding, false), x)
		}
		x = graph.Apply(norm(name+"_1"), x)
		if linear {
			return x
		}
		return graph.Apply(relu6(name+"_2"), x)
	}
	in := graph.NamedInput("input", c.Height, c.Width, 3)
	x := convBN(in, "features_0", c.mobileCh(32), 3, 2, false, false)
	for i, b := range mobileNetV2Blocks {
		name := fmt.Sprintf("features_%d_conv", i+1)
		input := x
		ch := x.Shape()[2]
		j := 0
		if b[0] != 1 {
			x = convBN(x, fmt.Sprintf("%s_%d", name, j), b[0]*ch, 1, 1, false, false)
			j++
		}
		x = convBN(x, fmt.Sprintf("%s_%d", name, j), 0, 3, b[1], true, false)
		x = graph.Apply(conv(fmt.Sprintf("%s_%d", name, j+1), c.mobileCh(b[2]), 1, 1, "valid", false), x)
		x = graph.Apply(norm(fmt.Sprintf("%s_%d", name, j+2)), x)
		if b[1] == 1 && ch == c.mobileCh(b[2]) {
			x = graph.Apply(&graph.Add{Base: graph.Base{Name: fmt.Sprintf("features_%d_add", i+1)}}, input, x)
		}
	}
	x = convBN(x, "features_18", c.lastCh(), 1, 1, false, false)
	return c.model("mobilenet_v2", in, c.head(x, "avgpool", "maxpool", "classifier_1", "classifier_0", 0.2))
}
