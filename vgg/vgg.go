// Package vgg defines the VGG16 and VGG19 networks (Simonyan and Zisserman,
// 2014) as Capa models with Keras's layer names, loads the published
// ImageNet weights (Keras's HDF5 files and torchvision's .pth files), and
// provides the matching preprocessing and ImageNet class names.
//
// The convolutional base is five blocks of 3x3 "same" convolutions with ReLU
// (64, 128, 256, 512 and 512 filters), each closed by 2x2 max pooling:
// block1_conv1 ... block5_conv3 and block1_pool ... block5_pool. With the
// top (224x224 input only) come flatten, fc1 and fc2 (4096 units, ReLU) and
// predictions (1000 classes, softmax). Without it the base takes any input
// of at least 32x32 pixels, as Keras's include_top=False.
package vgg

import (
	"fmt"

	"github.com/capa-ml/capa/graph"
)

// Config selects a VGG variant. The zero value is VGG16's base for 224x224
// RGB images.
type Config struct {
	// IncludeTop adds flatten, fc1, fc2 and predictions; the input must
	// then be 224x224 (any size for reduced test models, see Filters).
	IncludeTop bool
	// Height and Width of the input images (default 224). Without the top
	// they may be any size from 32 up.
	Height, Width int
	// Classes is the number of outputs of predictions (default 1000).
	Classes int
	// Seed draws the initial weights, before any pretrained ones are loaded.
	Seed uint64
	// Filters overrides the five blocks' widths (64, 128, 256, 512, 512)
	// and FCUnits the 4096 units of fc1 and fc2, for reduced test models;
	// zero values keep VGG's.
	Filters [5]int
	FCUnits int
}

// blocks lists the number of convolutions in each of the five blocks.
var blocks = map[int][5]int{16: {2, 2, 3, 3, 3}, 19: {2, 2, 4, 4, 4}}

var filters = [5]int{64, 128, 256, 512, 512}

// Layers returns the layers of VGG16 (depth 16) or VGG19 (depth 19), an
// Input first, with Keras's names.
func Layers(depth int, c Config) ([]graph.Layer, error) {
	convs, ok := blocks[depth]
	if !ok {
		return nil, fmt.Errorf("vgg: depth must be 16 or 19, got %d", depth)
	}
	if c.Height == 0 {
		c.Height = 224
	}
	if c.Width == 0 {
		c.Width = 224
	}
	if c.Classes == 0 {
		c.Classes = 1000
	}
	if c.IncludeTop && (c.Height != 224 || c.Width != 224) && c.Filters == [5]int{} {
		return nil, fmt.Errorf("vgg: with the top (fc1, fc2, predictions) the input must be 224x224, got %dx%d", c.Height, c.Width)
	}
	if c.Height < 32 || c.Width < 32 {
		return nil, fmt.Errorf("vgg: the input must be at least 32x32, got %dx%d", c.Height, c.Width)
	}
	if c.Classes < 1 {
		return nil, fmt.Errorf("vgg: classes must be positive, got %d", c.Classes)
	}
	widths, units := filters, 4096
	if c.Filters != [5]int{} {
		widths = c.Filters
	}
	if c.FCUnits != 0 {
		units = c.FCUnits
	}
	ls := []graph.Layer{graph.Input(c.Height, c.Width, 3)}
	for b, n := range convs {
		for i := 1; i <= n; i++ {
			ls = append(ls, &graph.Conv2D{
				Base:    graph.Base{Name: fmt.Sprintf("block%d_conv%d", b+1, i)},
				Filters: widths[b], KernelSize: [2]int{3, 3}, Padding: "same", Activation: "relu",
			})
		}
		ls = append(ls, &graph.MaxPooling2D{Base: graph.Base{Name: fmt.Sprintf("block%d_pool", b+1)}, PoolSize: [2]int{2, 2}})
	}
	if c.IncludeTop {
		ls = append(ls,
			&graph.Flatten{Base: graph.Base{Name: "flatten"}},
			&graph.Dense{Base: graph.Base{Name: "fc1"}, Units: units, Activation: "relu"},
			&graph.Dense{Base: graph.Base{Name: "fc2"}, Units: units, Activation: "relu"},
			&graph.Dense{Base: graph.Base{Name: "predictions"}, Units: c.Classes, Activation: "softmax"},
		)
	}
	return ls, nil
}

// New builds VGG16 (depth 16) or VGG19 (depth 19) with weights drawn from
// c.Seed; load pretrained ones with LoadWeights.
func New(depth int, c Config) (*graph.Model, error) {
	ls, err := Layers(depth, c)
	if err != nil {
		return nil, err
	}
	m, err := graph.SequentialSeed(c.Seed, ls...)
	if err != nil {
		return nil, err
	}
	m.Name = fmt.Sprintf("vgg%d", depth)
	return m, nil
}

// VGG16 builds VGG16; see New.
func VGG16(c Config) (*graph.Model, error) { return New(16, c) }

// VGG19 builds VGG19; see New.
func VGG19(c Config) (*graph.Model, error) { return New(19, c) }

// ConvLayers returns the names of the convolution layers of VGG16 or VGG19
// in order (block1_conv1, ...).
func ConvLayers(depth int) []string {
	var out []string
	for b, n := range blocks[depth] {
		for i := 1; i <= n; i++ {
			out = append(out, fmt.Sprintf("block%d_conv%d", b+1, i))
		}
	}
	return out
}
