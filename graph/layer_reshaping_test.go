package graph

import (
	"slices"
	"strings"
	"testing"
)

func TestLayerGradReshaping(t *testing.T) {
	for _, c := range []ltCase{
		{name: "ZeroPadding2D", layer: func() Layer { return &ZeroPadding2D{Padding: [2][2]int{{1, 2}, {0, 1}}} }, in: Shape{3, 2, 2}, batch: 2},
		{name: "Cropping2D", layer: func() Layer { return &Cropping2D{Cropping: [2][2]int{{1, 0}, {1, 2}}} }, in: Shape{4, 5, 2}, batch: 2},
		{name: "UpSampling2D", layer: func() Layer { return &UpSampling2D{Size: [2]int{2, 3}} }, in: Shape{2, 3, 2}, batch: 2},
		{name: "Reshape", layer: func() Layer { return &Reshape{TargetShape: []int{3, -1}} }, in: Shape{2, 3, 2}, batch: 2},
		{name: "Rescaling", layer: func() Layer { return &Rescaling{Scale: -0.5, Offset: 2} }, in: Shape{2, 3}, batch: 2},
	} {
		ltGradCheck(t, c)
	}
}

// TestReshapingValues checks the layers' outputs on a 2x3 map.
func TestReshapingValues(t *testing.T) {
	x := []float32{1, 2, 3, 4, 5, 6} // (2, 3, 1)
	cases := []struct {
		layer Layer
		shape Shape
		want  []float32
	}{
		{&ZeroPadding2D{Padding: [2][2]int{{1, 0}, {0, 1}}}, Shape{3, 4, 1}, []float32{0, 0, 0, 0, 1, 2, 3, 0, 4, 5, 6, 0}},
		{&ZeroPadding2D{}, Shape{4, 5, 1}, nil},
		{&Cropping2D{Cropping: [2][2]int{{1, 0}, {1, 0}}}, Shape{1, 2, 1}, []float32{5, 6}},
		{&UpSampling2D{}, Shape{4, 6, 1}, []float32{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 4, 4, 5, 5, 6, 6}},
		{&Reshape{TargetShape: []int{-1, 2}}, Shape{3, 2}, x},
		{&Rescaling{Scale: 0.5, Offset: -1}, Shape{2, 3, 1}, []float32{-0.5, 0, 0.5, 1, 1.5, 2}},
	}
	for _, c := range cases {
		m, err := Sequential(Input(2, 3, 1), c.layer)
		if err != nil {
			t.Fatal(err)
		}
		if !m.OutputShape().Equal(c.shape) {
			t.Errorf("%s: shape %v, want %v", c.layer.Class(), m.OutputShape(), c.shape)
		}
		got, err := m.Predict(x, 1)
		if err != nil {
			t.Fatal(err)
		}
		if c.want != nil && !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.layer.Class(), got, c.want)
		}
	}
	for _, c := range []struct {
		layer Layer
		want  string
	}{
		{&Cropping2D{Cropping: [2][2]int{{1, 1}, {0, 0}}}, "leaves nothing"},
		{&Reshape{TargetShape: []int{4, -1}}, "cannot reshape"},
		{&Reshape{TargetShape: []int{-1, -1}}, "more than one -1"},
		{&UpSampling2D{Interpolation: "bicubic"}, "not implemented"},
		{&Rescaling{}, "scale"},
		{&ZeroPadding2D{Padding: [2][2]int{{-1, 0}, {0, 0}}}, "non-negative"},
	} {
		if _, err := Sequential(Input(2, 3, 1), c.layer); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.layer.Class()) {
			t.Errorf("%s: %v, want an error naming the layer and saying %q", c.layer.Class(), err, c.want)
		}
	}
}

func TestLayerGradDepthwise(t *testing.T) {
	for _, c := range []ltCase{
		{name: "DepthwiseConv2D", layer: func() Layer { return &DepthwiseConv2D{KernelSize: [2]int{3, 3}} }, in: Shape{5, 4, 3}, batch: 2},
		{name: "DepthwiseConv2D same stride 2 dm 2", layer: func() Layer {
			return &DepthwiseConv2D{KernelSize: [2]int{3, 2}, Strides: [2]int{2, 2}, Padding: "same", DepthMultiplier: 2, Activation: "tanh"}
		}, in: Shape{5, 4, 3}, batch: 2},
	} {
		ltGradCheck(t, c)
	}
}
