// Package applications defines pretrained model families as Capa
// Functional models, beside package vgg: ResNet and MobileNetV2, each as
// Keras's keras.applications writes it and as torchvision writes it. The
// two ecosystems' networks differ (where ResNet's blocks stride, the
// padding before a strided convolution, BatchNormalization's epsilon), so
// they are different constructors, named after their source:
// KerasResNet50, TorchResNet18, TorchResNet34, TorchResNet50,
// KerasMobileNetV2, TorchMobileNetV2.
//
// Keras's models carry Keras's layer names ("conv2_block1_1_conv"),
// torchvision's carry torchvision's module paths with "_" for "."
// ("layer1_0_conv1" for layer1.0.conv1), so that published weight files map
// onto them by name. Every model is channels-last, (H, W, 3) in.
package applications

import (
	"fmt"

	"github.com/capa-ml/capa/graph"
)

// Config selects a model's options, as Keras's applications take them. The
// zero value is the whole network (top included) for 224x224 RGB images.
type Config struct {
	// NoTop drops the classifier (Keras's include_top=False): the model
	// then ends with the last feature map, or its pooling.
	NoTop bool
	// Pooling, without the top: "avg" or "max" pools the last feature map
	// to a vector (Keras's pooling); "" keeps the map.
	Pooling string
	// Height and Width of the input (default 224).
	Height, Width int
	// Classes is the number of outputs of the classifier (default 1000).
	Classes int
	// Seed draws the initial weights, before any pretrained ones are
	// loaded.
	Seed uint64
	// WidthDiv divides every layer's channels by WidthDiv (default 1), for
	// reduced test models only: the published files are full width.
	WidthDiv int
	// Alpha is MobileNetV2's width multiplier (Keras's alpha,
	// torchvision's width_mult; default 1): channels scaled and rounded to
	// multiples of 8 as both round them. The published files are alpha 1.
	Alpha float64
}

func (c *Config) defaults() error {
	if c.Height == 0 {
		c.Height = 224
	}
	if c.Width == 0 {
		c.Width = 224
	}
	if c.Classes == 0 {
		c.Classes = 1000
	}
	if c.WidthDiv == 0 {
		c.WidthDiv = 1
	}
	switch {
	case c.Pooling != "" && c.Pooling != "avg" && c.Pooling != "max":
		return fmt.Errorf("applications: pooling must be \"avg\", \"max\" or \"\", got %q", c.Pooling)
	case c.Pooling != "" && !c.NoTop:
		return fmt.Errorf("applications: pooling %q applies without the top only (NoTop)", c.Pooling)
	case c.Height < 32 || c.Width < 32:
		return fmt.Errorf("applications: the input must be at least 32x32, got %dx%d", c.Height, c.Width)
	case c.WidthDiv < 1 || c.Classes < 1 || c.Alpha < 0:
		return fmt.Errorf("applications: WidthDiv (%d), Classes (%d) and Alpha (%v) must be positive", c.WidthDiv, c.Classes, c.Alpha)
	}
	return nil
}

// ch is a channel count divided by the test width divisor (at least 1).
func (c *Config) ch(n int) int { return max(1, n/c.WidthDiv) }

// mobileCh is a MobileNetV2 channel count: scaled by Alpha and made
// divisible by 8 (both sources' _make_divisible) when Alpha is set,
// otherwise ch's.
func (c *Config) mobileCh(n int) int {
	if c.Alpha == 0 {
		return c.ch(n)
	}
	return makeDivisible(float64(n)*c.Alpha, 8)
}

// kerasBlockCh is the output width of a block of Keras's MobileNetV2:
// Keras truncates filters*alpha to an integer before _make_divisible
// (torchvision and Keras's first convolution do not), which can move the
// 90% test at the boundary.
func (c *Config) kerasBlockCh(n int) int {
	if c.Alpha == 0 {
		return c.ch(n)
	}
	return makeDivisible(float64(int(float64(n)*c.Alpha)), 8)
}

// makeDivisible is _make_divisible of Keras's and torchvision's
// MobileNets: v rounded to the nearest multiple of d, at least d, and not
// below 90% of v.
func makeDivisible(v float64, d int) int {
	n := max(d, int(v+float64(d)/2)/d*d)
	if float64(n) < 0.9*v {
		n += d
	}
	return n
}

// head ends a model: the classifier, or the pooling of the last map.
// avgName, maxName and topName are the source's names of the global
// poolings and of the classifier; a dropout (dropName), if rate is
// positive, comes before it.
func (c *Config) head(x *graph.Tensor, avgName, maxName, topName, dropName string, rate float64) *graph.Tensor {
	switch {
	case !c.NoTop:
		x = graph.Apply(&graph.GlobalAveragePooling2D{Base: graph.Base{Name: avgName}}, x)
		if rate > 0 {
			x = graph.Apply(&graph.Dropout{Base: graph.Base{Name: dropName}, Rate: rate}, x)
		}
		return graph.Apply(&graph.Dense{Base: graph.Base{Name: topName}, Units: c.Classes, Activation: "softmax"}, x)
	case c.Pooling == "avg":
		return graph.Apply(&graph.GlobalAveragePooling2D{Base: graph.Base{Name: avgName}}, x)
	case c.Pooling == "max":
		return graph.Apply(&graph.GlobalMaxPooling2D{Base: graph.Base{Name: maxName}}, x)
	}
	return x
}

// model makes the Functional model of in and out named name.
func (c *Config) model(name string, in, out *graph.Tensor) (*graph.Model, error) {
	m, err := graph.FunctionalSeed(c.Seed, []*graph.Tensor{in}, []*graph.Tensor{out})
	if err != nil {
		return nil, fmt.Errorf("applications: %s: %w", name, err)
	}
	m.Name = name
	return m, nil
}

// Layer constructors shared by the families.

func conv(name string, filters, k, stride int, padding string, bias bool) graph.Layer {
	return &graph.Conv2D{Base: graph.Base{Name: name}, Filters: filters, KernelSize: [2]int{k, k},
		Strides: [2]int{stride, stride}, Padding: padding, NoBias: !bias}
}

func bn(name string, epsilon, momentum float64) graph.Layer {
	return &graph.BatchNormalization{Base: graph.Base{Name: name}, Epsilon: epsilon, Momentum: momentum}
}

func act(name, a string) graph.Layer {
	return &graph.Activation{Base: graph.Base{Name: name}, Activation: a}
}

func pad(name string, p int) graph.Layer {
	return &graph.ZeroPadding2D{Base: graph.Base{Name: name}, Padding: [2][2]int{{p, p}, {p, p}}}
}
