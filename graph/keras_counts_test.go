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
	relu := func(name string) graph.Layer {
		return &graph.Activation{Base: graph.Base{Name: name}, Activation: "relu"}
	}
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

// kerasMobileNetV2 is keras.applications.MobileNetV2 (alpha 1.0,
// include_top, 224x224x3), layer for layer and name for name.
func kerasMobileNetV2() (*graph.Model, error) {
	bn := func(name string) graph.Layer {
		return &graph.BatchNormalization{Base: graph.Base{Name: name}, Epsilon: 1e-3, Momentum: 0.999}
	}
	relu6 := func(name string) graph.Layer { return &graph.ReLU{Base: graph.Base{Name: name}, MaxValue: 6} }
	pointwise := func(name string, filters int) graph.Layer {
		return &graph.Conv2D{Base: graph.Base{Name: name}, Filters: filters, KernelSize: [2]int{1, 1}, Padding: "same", NoBias: true}
	}
	block := func(x *graph.Tensor, expansion, stride, filters, id int) *graph.Tensor {
		in := x
		c := x.Shape()[2]
		prefix := fmt.Sprintf("block_%d_", id)
		if id > 0 {
			x = graph.Apply(pointwise(prefix+"expand", expansion*c), x)
			x = graph.Apply(relu6(prefix+"expand_relu"), graph.Apply(bn(prefix+"expand_BN"), x))
		} else {
			prefix = "expanded_conv_"
		}
		padding := "same"
		if stride == 2 {
			// correct_pad for even sizes: ((0, 1), (0, 1)).
			x = graph.Apply(&graph.ZeroPadding2D{Base: graph.Base{Name: prefix + "pad"}, Padding: [2][2]int{{0, 1}, {0, 1}}}, x)
			padding = "valid"
		}
		x = graph.Apply(&graph.DepthwiseConv2D{Base: graph.Base{Name: prefix + "depthwise"}, KernelSize: [2]int{3, 3},
			Strides: [2]int{stride, stride}, Padding: padding, NoBias: true}, x)
		x = graph.Apply(relu6(prefix+"depthwise_relu"), graph.Apply(bn(prefix+"depthwise_BN"), x))
		x = graph.Apply(bn(prefix+"project_BN"), graph.Apply(pointwise(prefix+"project", filters), x))
		if c == filters && stride == 1 {
			return graph.Apply(&graph.Add{Base: graph.Base{Name: prefix + "add"}}, in, x)
		}
		return x
	}
	in := graph.NamedInput("input_1", 224, 224, 3)
	x := graph.Apply(&graph.Conv2D{Base: graph.Base{Name: "Conv1"}, Filters: 32, KernelSize: [2]int{3, 3}, Strides: [2]int{2, 2}, Padding: "same", NoBias: true}, in)
	x = graph.Apply(relu6("Conv1_relu"), graph.Apply(bn("bn_Conv1"), x))
	for i, b := range [][3]int{ // expansion, stride, filters
		{1, 1, 16}, {6, 2, 24}, {6, 1, 24}, {6, 2, 32}, {6, 1, 32}, {6, 1, 32}, {6, 2, 64}, {6, 1, 64}, {6, 1, 64},
		{6, 1, 64}, {6, 1, 96}, {6, 1, 96}, {6, 1, 96}, {6, 2, 160}, {6, 1, 160}, {6, 1, 160}, {6, 1, 320},
	} {
		x = block(x, b[0], b[1], b[2], i)
	}
	x = graph.Apply(pointwise("Conv_1", 1280), x)
	x = graph.Apply(relu6("out_relu"), graph.Apply(bn("Conv_1_bn"), x))
	x = graph.Apply(&graph.GlobalAveragePooling2D{Base: graph.Base{Name: "global_average_pooling2d"}}, x)
	x = graph.Apply(&graph.Dense{Base: graph.Base{Name: "predictions"}, Units: 1000, Activation: "softmax"}, x)
	m, err := graph.Functional([]*graph.Tensor{in}, []*graph.Tensor{x})
	if err == nil {
		m.Name = "mobilenetv2_1.00_224"
	}
	return m, err
}

func TestKerasParameterCountsMobileNetV2(t *testing.T) {
	m, err := kerasMobileNetV2()
	if err != nil {
		t.Fatal(err)
	}
	tr, non := m.CountParams()
	if tr+non != 3_538_984 || non != 34_112 {
		t.Errorf("MobileNetV2: %d parameters, %d non-trainable; Keras has 3,538,984 and 34,112", tr+non, non)
	}
	if got := len(m.Layers()) + 1; got != 156 {
		t.Errorf("MobileNetV2 has %d layers (input included), Keras's 156", got)
	}
	if s := m.Summary(); !strings.Contains(s, "block_16_project_BN (BatchNormalization)") || !strings.Contains(s, "(None, 7, 7, 320)") {
		t.Errorf("MobileNetV2 summary:\n%s", s)
	}
}

// BenchmarkMobileNetV2Predict measures Keras's MobileNetV2 forward pass at
// 224x224 (random weights), batch 1 and 8: go test ./graph -run '^$'
// -bench MobileNetV2 -benchtime 5x.
func BenchmarkMobileNetV2Predict(b *testing.B) {
	m, err := kerasMobileNetV2()
	if err != nil {
		b.Fatal(err)
	}
	for _, batch := range []int{1, 8} {
		b.Run(fmt.Sprintf("batch%d", batch), func(b *testing.B) {
			x := make([]float32, batch*224*224*3)
			for i := range x {
				x[i] = float32(i%255) / 255
			}
			if _, err := m.Predict(x, batch); err != nil { // compile outside the timing
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := m.Predict(x, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "images/s")
		})
	}
}
