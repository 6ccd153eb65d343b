package graph

import (
	"math"
	"slices"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestLayerGradVariants(t *testing.T) {
	for _, c := range []ltCase{
		{name: "SeparableConv2D", layer: func() Layer { return &SeparableConv2D{Filters: 3, KernelSize: [2]int{3, 2}} }, in: Shape{5, 4, 2}, batch: 2},
		{name: "SeparableConv2D same s2 dm2", layer: func() Layer {
			return &SeparableConv2D{Filters: 2, KernelSize: [2]int{3, 3}, Strides: [2]int{2, 2}, Padding: "same", DepthMultiplier: 2, Activation: "tanh"}
		}, in: Shape{5, 4, 3}, batch: 2},
		{name: "Conv2DTranspose valid", layer: func() Layer { return &Conv2DTranspose{Filters: 2, KernelSize: [2]int{3, 2}} }, in: Shape{3, 4, 2}, batch: 2},
		{name: "Conv2DTranspose same s2", layer: func() Layer {
			return &Conv2DTranspose{Filters: 3, KernelSize: [2]int{3, 3}, Strides: [2]int{2, 2}, Padding: "same", Activation: "tanh"}
		}, in: Shape{3, 2, 2}, batch: 2},
		{name: "Conv2DTranspose valid s2 output_padding", layer: func() Layer {
			return &Conv2DTranspose{Filters: 1, KernelSize: [2]int{2, 3}, Strides: [2]int{3, 2}, OutputPadding: &[2]int{2, 1}}
		}, in: Shape{2, 3, 3}, batch: 2},
		{name: "Conv2D dilation", layer: func() Layer {
			return &Conv2D{Filters: 2, KernelSize: [2]int{3, 2}, DilationRate: [2]int{2, 3}}
		}, in: Shape{7, 6, 2}, batch: 2},
		{name: "Conv2D dilation same", layer: func() Layer {
			return &Conv2D{Filters: 2, KernelSize: [2]int{3, 3}, DilationRate: [2]int{2, 2}, Padding: "same"}
		}, in: Shape{5, 4, 1}, batch: 2},
		{name: "Conv2D groups", layer: func() Layer {
			return &Conv2D{Filters: 4, KernelSize: [2]int{3, 3}, Groups: 2, Strides: [2]int{2, 1}, Padding: "same"}
		}, in: Shape{5, 4, 4}, batch: 2},
		{name: "Conv2D groups = channels (depthwise)", layer: func() Layer {
			return &Conv2D{Filters: 6, KernelSize: [2]int{3, 2}, Groups: 3, DilationRate: [2]int{1, 2}, Padding: "same"}
		}, in: Shape{5, 4, 3}, batch: 2},
		{name: "LayerNormalization map", layer: func() Layer { return &LayerNormalization{} }, in: Shape{2, 3, 4}, batch: 2},
		{name: "LayerNormalization no center", layer: func() Layer {
			f := false
			return &LayerNormalization{Center: &f, Epsilon: 0.1}
		}, in: Shape{5}, batch: 3},
		{name: "PReLU", layer: func() Layer { return &PReLU{} }, in: Shape{2, 3, 2}, batch: 2},
		{name: "PReLU shared", layer: func() Layer { return &PReLU{SharedAxes: []int{1, 2}} }, in: Shape{2, 3, 2}, batch: 2},
		{name: "Permute", layer: func() Layer { return &Permute{Dims: []int{3, 1, 2}} }, in: Shape{2, 3, 4}, batch: 2},
		{name: "UpSampling2D bilinear", layer: func() Layer { return &UpSampling2D{Size: [2]int{2, 3}, Interpolation: "bilinear"} }, in: Shape{3, 2, 2}, batch: 2},
	} {
		ltGradCheck(t, c)
	}
}

// TestVariantValues checks outputs computed by hand and Keras's output
// sizes.
func TestVariantValues(t *testing.T) {
	run := func(l Layer, in Shape, x []float32) []float32 {
		t.Helper()
		m, err := Sequential(Input(in...), l)
		if err != nil {
			t.Fatal(err)
		}
		y, err := m.Predict(x, 1)
		if err != nil {
			t.Fatal(err)
		}
		return y
	}
	// Bilinear, half-pixel centers: [0, 4] doubled is [0, 1, 3, 4].
	if y := run(&UpSampling2D{Size: [2]int{1, 2}, Interpolation: "bilinear"}, Shape{1, 2, 1}, []float32{0, 4}); !slices.Equal(y, []float32{0, 1, 3, 4}) {
		t.Errorf("bilinear: %v", y)
	}
	// Permute (2, 1) transposes.
	if y := run(&Permute{Dims: []int{2, 1}}, Shape{2, 3}, []float32{1, 2, 3, 4, 5, 6}); !slices.Equal(y, []float32{1, 4, 2, 5, 3, 6}) {
		t.Errorf("permute: %v", y)
	}
	// LayerNormalization: each row to mean 0, variance 1 (eps aside).
	y := run(&LayerNormalization{Epsilon: 1e-6}, Shape{2, 2}, []float32{1, 3, 10, 20})
	for i, w := range []float32{-1, 1, -1, 1} {
		if math.Abs(float64(y[i]-w)) > 1e-4 {
			t.Errorf("layer norm: %v", y)
		}
	}
	// PReLU with alpha 1 is the identity.
	if y := run(&PReLU{AlphaInitializer: "ones"}, Shape{2}, []float32{-2, 3}); !slices.Equal(y, []float32{-2, 3}) {
		t.Errorf("prelu: %v", y)
	}
	// A transposed convolution of one pixel with a ones kernel paints
	// the window; with stride 2 and a 3x3 kernel, windows overlap on
	// the shared row and column.
	ct := &Conv2DTranspose{Filters: 1, KernelSize: [2]int{3, 3}, Strides: [2]int{2, 2}, KernelInitializer: "ones", NoBias: true}
	if y := run(ct, Shape{1, 2, 1}, []float32{1, 2}); !slices.Equal(y, []float32{1, 1, 3, 2, 2, 1, 1, 3, 2, 2, 1, 1, 3, 2, 2}) {
		t.Errorf("conv transpose: %v", y)
	}
	// Keras's output sizes (conv_utils.deconv_output_length).
	for _, c := range []struct {
		in, k, s int
		same     bool
		op       int // -1: none
		want     int
	}{
		{7, 3, 2, false, -1, 15}, {7, 3, 2, true, -1, 14}, {7, 1, 3, false, -1, 21}, {7, 3, 2, true, 1, 14},
		{7, 3, 2, true, 0, 13}, {7, 3, 2, false, 1, 16}, {4, 4, 2, true, -1, 8},
	} {
		var op *int
		if c.op >= 0 {
			op = &c.op
		}
		if got, _ := transposedLength(c.in, c.k, c.s, c.same, op); got != c.want {
			t.Errorf("transposed length of %+v: %d, want %d", c, got, c.want)
		}
	}
	// A dilated 2x2 kernel of ones over rate 2 sums the corners of 3x3.
	dc := &Conv2D{Filters: 1, KernelSize: [2]int{2, 2}, DilationRate: [2]int{2, 2}, KernelInitializer: "ones", NoBias: true}
	if y := run(dc, Shape{3, 3, 1}, []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}); !slices.Equal(y, []float32{1 + 3 + 7 + 9}) {
		t.Errorf("dilated conv: %v", y)
	}
	for _, c := range []struct {
		layer Layer
		in    Shape
		want  string
	}{
		{&Conv2D{Filters: 4, KernelSize: [2]int{3, 3}, Groups: 3}, Shape{5, 5, 4}, "groups 3 must divide"},
		{&Conv2D{Filters: 4, KernelSize: [2]int{3, 3}, DilationRate: [2]int{2, 2}, Strides: [2]int{2, 2}}, Shape{9, 9, 1}, "needs strides"},
		{&Conv2D{Filters: 4, KernelSize: [2]int{3, 3}, DilationRate: [2]int{3, 3}}, Shape{5, 5, 1}, "does not fit"},
		{&Conv2DTranspose{Filters: 2, KernelSize: [2]int{3, 3}, Strides: [2]int{2, 2}, OutputPadding: &[2]int{2, 0}}, Shape{3, 3, 1}, "less than the strides"},
		{&SeparableConv2D{Filters: 2, KernelSize: [2]int{3, 3}}, Shape{9}, "(height, width, channels)"},
		{&LayerNormalization{Axis: 1}, Shape{3, 3}, "not implemented"},
		{&PReLU{SharedAxes: []int{3}}, Shape{3, 3}, "shared_axes"},
		{&Permute{Dims: []int{1, 1}}, Shape{3, 3}, "once"},
		{&Permute{Dims: []int{1}}, Shape{3, 3}, "once"},
		{&SpatialDropout2D{Rate: 1}, Shape{3, 3, 1}, "rate"},
		{&SpatialDropout2D{Rate: 0.5}, Shape{3}, "(height, width, channels)"},
		{&GaussianNoise{Stddev: -1}, Shape{3}, "stddev"},
	} {
		if _, err := Sequential(Input(c.in...), c.layer); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.layer.Class()) {
			t.Errorf("%s on %v: %v, want an error naming the layer and saying %q", c.layer.Class(), c.in, err, c.want)
		}
	}
}

// TestNoiseLayersInTraining checks SpatialDropout2D and GaussianNoise in a
// training graph, where finite differences cannot follow the fresh noise
// of every run: dropped channels are whole, kept ones scaled by
// 1/(1-rate), the gradient is the output's mask; the noise has the asked
// deviation and a gradient of one.
func TestNoiseLayersInTraining(t *testing.T) {
	const n, h, w, ch = 4, 3, 5, 50
	x := make([]float32, n*h*w*ch)
	for i := range x {
		x[i] = 1 + float32(i%7)
	}
	for _, c := range []struct {
		layer Layer
		check func(y, dx []float32)
	}{
		{&SpatialDropout2D{Rate: 0.4}, func(y, dx []float32) {
			dropped := 0
			for s := range n {
				for k := range ch {
					first := y[(s*h*w)*ch+k] / x[(s*h*w)*ch+k]
					if first != 0 && math.Abs(float64(first)-1/0.6) > 1e-6 {
						t.Fatalf("kept channel scaled by %v", first)
					}
					if first == 0 {
						dropped++
					}
					for p := range h * w {
						i := (s*h*w+p)*ch + k
						if y[i]/x[i] != first || dx[i] != first {
							t.Fatalf("channel (%d, %d) not dropped whole: y/x %v, dx %v, first %v", s, k, y[i]/x[i], dx[i], first)
						}
					}
				}
			}
			if f := float64(dropped) / (n * ch); f < 0.25 || f > 0.55 {
				t.Errorf("dropped %.2f of the channels, want about 0.4", f)
			}
		}},
		{&GaussianNoise{Stddev: 0.5}, func(y, dx []float32) {
			var s, s2 float64
			for i := range y {
				d := float64(y[i] - x[i])
				s, s2 = s+d, s2+d*d
				if dx[i] != 1 {
					t.Fatalf("gradient %v, want 1", dx[i])
				}
			}
			mean := s / float64(len(y))
			if sd := math.Sqrt(s2/float64(len(y)) - mean*mean); math.Abs(mean) > 0.05 || math.Abs(sd-0.5) > 0.05 {
				t.Errorf("noise mean %v, sd %v, want 0 and 0.5", mean, sd)
			}
		}},
	} {
		if _, err := SequentialSeed(1, Input(h, w, ch), c.layer); err != nil {
			t.Fatal(err)
		}
		g := G.NewGraph()
		xn := G.NewTensor(g, tensor.Float32, 4, G.WithShape(n, h, w, ch), G.WithValue(tensor.New(tensor.WithShape(n, h, w, ch), tensor.WithBacking(slices.Clone(x)))), G.WithName("x"))
		y, err := c.layer.Call(NewCtx(g, true), xn)
		if err != nil {
			t.Fatal(err)
		}
		cost := G.Must(G.Sum(y))
		if _, err := G.Grad(cost, xn); err != nil {
			t.Fatal(err)
		}
		vm := G.NewTapeMachine(g)
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		dx, err := xn.Grad()
		if err != nil {
			t.Fatal(err)
		}
		c.check(y.Value().Data().([]float32), dx.Data().([]float32))
		vm.Close()
		// Inference is the identity.
		if got := c.layer.(interface {
			Call(*Ctx, *G.Node) (*G.Node, error)
		}); got != nil {
			if id, _ := c.layer.Call(NewCtx(g, false), xn); id != xn {
				t.Errorf("%s: inference is not the identity", c.layer.Class())
			}
		}
	}
}
