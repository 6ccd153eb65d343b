package applications

import (
	"fmt"

	"github.com/capa-ml/capa/graph"
)

// KerasResNet50 is keras.applications.ResNet50 layer for layer and name
// for name (He et al. 2015, "v1": a block strides in its first 1x1
// convolution; BatchNormalization epsilon 1.001e-5; ZeroPadding2D before
// the 7x7 stem and the max pool). Its files are Keras's
// resnet50_weights_tf_dim_ordering_tf_kernels(_notop).h5; its inputs are
// "caffe" preprocessed (BGR, ImageNet means subtracted).
func KerasResNet50(c Config) (*graph.Model, error) {
	if err := c.defaults(); err != nil {
		return nil, err
	}
	norm := func(name string) graph.Layer { return bn(name, 1.001e-5, 0.99) }
	block := func(x *graph.Tensor, filters, stride int, shortcut bool, name string) *graph.Tensor {
		s := x
		if shortcut {
			s = graph.Apply(norm(name+"_0_bn"), graph.Apply(conv(name+"_0_conv", 4*filters, 1, stride, "valid", true), x))
		}
		x = graph.Apply(act(name+"_1_relu", "relu"), graph.Apply(norm(name+"_1_bn"), graph.Apply(conv(name+"_1_conv", filters, 1, stride, "valid", true), x)))
		x = graph.Apply(act(name+"_2_relu", "relu"), graph.Apply(norm(name+"_2_bn"), graph.Apply(conv(name+"_2_conv", filters, 3, 1, "same", true), x)))
		x = graph.Apply(norm(name+"_3_bn"), graph.Apply(conv(name+"_3_conv", 4*filters, 1, 1, "valid", true), x))
		x = graph.Apply(&graph.Add{Base: graph.Base{Name: name + "_add"}}, s, x)
		return graph.Apply(act(name+"_out", "relu"), x)
	}
	in := graph.NamedInput("input_1", c.Height, c.Width, 3)
	x := graph.Apply(pad("conv1_pad", 3), in)
	x = graph.Apply(conv("conv1_conv", c.ch(64), 7, 2, "valid", true), x)
	x = graph.Apply(act("conv1_relu", "relu"), graph.Apply(norm("conv1_bn"), x))
	x = graph.Apply(pad("pool1_pad", 1), x)
	x = graph.Apply(&graph.MaxPooling2D{Base: graph.Base{Name: "pool1_pool"}, PoolSize: [2]int{3, 3}, Strides: [2]int{2, 2}}, x)
	for i, st := range []struct{ filters, blocks, stride int }{{64, 3, 1}, {128, 4, 2}, {256, 6, 2}, {512, 3, 2}} {
		name := fmt.Sprintf("conv%d", i+2)
		x = block(x, c.ch(st.filters), st.stride, true, name+"_block1")
		for b := 2; b <= st.blocks; b++ {
			x = block(x, c.ch(st.filters), 1, false, fmt.Sprintf("%s_block%d", name, b))
		}
	}
	return c.model("resnet50", in, c.head(x, "avg_pool", "max_pool", "predictions", "", 0))
}

// TorchResNet18, TorchResNet34 and TorchResNet50 are torchvision's
// resnet18, resnet34 and resnet50 ("v1.5": a bottleneck strides in its 3x3
// convolution; BatchNorm epsilon 1e-5 and torch momentum 0.1, Keras's
// 0.9; symmetric padding of 3 before the stem and 1 before the max pool and
// every strided 3x3 convolution). Layer names are torchvision's module
// paths with "_" for ".": conv1, bn1, layer1_0_conv1, layer2_0_downsample_0,
// fc. Their files are torchvision's resnet18-f37072fd.pth,
// resnet34-b627a593.pth, resnet50-0676ba61.pth and resnet50-11ad3fa6.pth;
// their inputs are normalized by ImageNet's mean and standard deviation.
func TorchResNet18(c Config) (*graph.Model, error) { return torchResNet("resnet18", c) }

// TorchResNet34 is torchvision's resnet34: see TorchResNet18.
func TorchResNet34(c Config) (*graph.Model, error) { return torchResNet("resnet34", c) }

// TorchResNet50 is torchvision's resnet50: see TorchResNet18.
func TorchResNet50(c Config) (*graph.Model, error) { return torchResNet("resnet50", c) }

var torchResNets = map[string]struct {
	bottleneck bool
	blocks     [4]int
}{
	"resnet18": {false, [4]int{2, 2, 2, 2}},
	"resnet34": {false, [4]int{3, 4, 6, 3}},
	"resnet50": {true, [4]int{3, 4, 6, 3}},
}

func torchResNet(arch string, c Config) (*graph.Model, error) {
	if err := c.defaults(); err != nil {
		return nil, err
	}
	spec := torchResNets[arch]
	norm := func(name string) graph.Layer { return bn(name, 1e-5, 0.9) }
	// conv3 is torch's 3x3 convolution with padding 1: "same" at stride 1,
	// explicit padding then "valid" at stride 2 (Keras's "same" would pad
	// the bottom and right only).
	conv3 := func(x *graph.Tensor, name string, filters, stride int) *graph.Tensor {
		if stride == 1 {
			return graph.Apply(conv(name, filters, 3, 1, "same", false), x)
		}
		return graph.Apply(conv(name, filters, 3, stride, "valid", false), graph.Apply(pad(name+"_pad", 1), x))
	}
	block := func(x *graph.Tensor, planes, stride int, name string) *graph.Tensor {
		in := x
		out := planes
		if spec.bottleneck {
			out = 4 * planes
			x = graph.Apply(act(name+"_relu1", "relu"), graph.Apply(norm(name+"_bn1"), graph.Apply(conv(name+"_conv1", planes, 1, 1, "valid", false), x)))
			x = graph.Apply(act(name+"_relu2", "relu"), graph.Apply(norm(name+"_bn2"), conv3(x, name+"_conv2", planes, stride)))
			x = graph.Apply(norm(name+"_bn3"), graph.Apply(conv(name+"_conv3", out, 1, 1, "valid", false), x))
		} else {
			x = graph.Apply(act(name+"_relu1", "relu"), graph.Apply(norm(name+"_bn1"), conv3(x, name+"_conv1", planes, stride)))
			x = graph.Apply(norm(name+"_bn2"), conv3(x, name+"_conv2", planes, 1))
		}
		if stride != 1 || in.Shape()[2] != out {
			in = graph.Apply(norm(name+"_downsample_1"), graph.Apply(conv(name+"_downsample_0", out, 1, stride, "valid", false), in))
		}
		return graph.Apply(act(name+"_relu", "relu"), graph.Apply(&graph.Add{Base: graph.Base{Name: name + "_add"}}, x, in))
	}
	in := graph.NamedInput("input", c.Height, c.Width, 3)
	x := graph.Apply(conv("conv1", c.ch(64), 7, 2, "valid", false), graph.Apply(pad("conv1_pad", 3), in))
	x = graph.Apply(act("relu", "relu"), graph.Apply(norm("bn1"), x))
	// Max pooling after a ReLU: zero padding is -inf padding.
	x = graph.Apply(&graph.MaxPooling2D{Base: graph.Base{Name: "maxpool"}, PoolSize: [2]int{3, 3}, Strides: [2]int{2, 2}}, graph.Apply(pad("maxpool_pad", 1), x))
	for i, n := range spec.blocks {
		planes := c.ch(64 << i)
		for b := range n {
			stride := 1
			if i > 0 && b == 0 {
				stride = 2
			}
			x = block(x, planes, stride, fmt.Sprintf("layer%d_%d", i+1, b))
		}
	}
	return c.model(arch, in, c.head(x, "avgpool", "maxpool_global", "fc", "", 0))
}
