package graph_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/capa-ml/capa/graph"
)

// kerasResNet50 is keras.applications.ResNet50 (include_top, 224x224x3)
// written with Capa's Functional API, layer for layer and name for name.
func kerasResNet50() (*graph.Model, error) {
	bn := func(name string) graph.Layer {
		return &graph.BatchNormalization{Base: graph.Base{Name: name}, Epsilon: 1.001e-5}
	}
	conv := func(name string, filters, k, stride int, padding string) graph.Layer {
		return &graph.Conv2D{Base: graph.Base{Name: name}, Filters: filters, KernelSize: [2]int{k, k}, Strides: [2]int{stride, stride}, Padding: padding}
	}
	relu := func(name string) graph.Layer { return &graph.Activation{Base: graph.Base{Name: name}, Activation: "relu"} }
	block := func(x *graph.Tensor, filters, stride int, shortcut bool, name string) *graph.Tensor {
		s := x
		if shortcut {
			s = graph.Apply(bn(name+"_0_bn"), graph.Apply(conv(name+"_0_conv", 4*filters, 1, stride, "valid"), x))
		}
		x = graph.Apply(relu(name+"_1_relu"), graph.Apply(bn(name+"_1_bn"), graph.Apply(conv(name+"_1_conv", filters, 1, stride, "valid"), x)))
		x = graph.Apply(relu(name+"_2_relu"), graph.Apply(bn(name+"_2_bn"), graph.Apply(conv(name+"_2_conv", filters, 3, 1, "same"), x)))
		x = graph.Apply(bn(name+"_3_bn"), graph.Apply(conv(name+"_3_conv", 4*filters, 1, 1, "valid"), x))
		x = graph.Apply(&graph.Add{Base: graph.Base{Name: name + "_add"}}, s, x)
		return graph.Apply(relu(name+"_out"), x)
	}
	stack := func(x *graph.Tensor, filters, blocks, stride int, name string) *graph.Tensor {
		x = block(x, filters, stride, true, name+"_block1")
		for i := 2; i <= blocks; i++ {
			x = block(x, filters, 1, false, fmt.Sprintf("%s_block%d", name, i))
		}
		return x
	}
	in := graph.NamedInput("input_1", 224, 224, 3)
	x := graph.Apply(&graph.ZeroPadding2D{Base: graph.Base{Name: "conv1_pad"}, Padding: [2][2]int{{3, 3}, {3, 3}}}, in)
	x = graph.Apply(conv("conv1_conv", 64, 7, 2, "valid"), x)
	x = graph.Apply(relu("conv1_relu"), graph.Apply(bn("conv1_bn"), x))
	x = graph.Apply(&graph.ZeroPadding2D{Base: graph.Base{Name: "pool1_pad"}, Padding: [2][2]int{{1, 1}, {1, 1}}}, x)
	x = graph.Apply(&graph.MaxPooling2D{Base: graph.Base{Name: "pool1_pool"}, PoolSize: [2]int{3, 3}, Strides: [2]int{2, 2}}, x)
	x = stack(x, 64, 3, 1, "conv2")
	x = stack(x, 128, 4, 2, "conv3")
	x = stack(x, 256, 6, 2, "conv4")
	x = stack(x, 512, 3, 2, "conv5")
	x = graph.Apply(&graph.GlobalAveragePooling2D{Base: graph.Base{Name: "avg_pool"}}, x)
	x = graph.Apply(&graph.Dense{Base: graph.Base{Name: "predictions"}, Units: 1000, Activation: "softmax"}, x)
	m, err := graph.Functional([]*graph.Tensor{in}, []*graph.Tensor{x})
	if err == nil {
		m.Name = "resnet50"
	}
	return m, err
}

// TestKerasParameterCounts: architectures written as Keras writes them
// have Keras's published parameter counts and summary rows.
func TestKerasParameterCounts(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates ResNet50's 100 MB of weights")
	}
	m, err := kerasResNet50()
	if err != nil {
		t.Fatal(err)
	}
	tr, non := m.CountParams()
	if tr+non != 25_636_712 || non != 53_120 {
		t.Errorf("ResNet50: %d parameters, %d non-trainable; Keras has 25,636,712 and 53,120", tr+non, non)
	}
	if got := len(m.Layers()) + 1; got != 177 {
		t.Errorf("ResNet50 has %d layers (input included), Keras's 177", got)
	}
	s := m.Summary()
	for _, want := range []string{
		"Total params: 25,636,712", "Non-trainable params: 53,120",
		"conv2_block1_add (Add)", "['conv2_block1_0_bn[0][0]',", "'conv2_block1_3_bn[0][0]']",
		"conv5_block3_out (Activation)", "(None, 7, 7, 2048)",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("ResNet50 summary lacks %q", want)
		}
	}
}
