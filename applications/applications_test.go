package applications

import (
	"fmt"
	"strings"
	"testing"

	"github.com/capa-ml/capa/graph"
)

// TestParameterCounts: each family has its source's published parameter
// count (Keras counts BatchNormalization's moving statistics, as
// non-trainable; torchvision's counts are of trainable parameters only),
// its layer count and summary rows.
func TestParameterCounts(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates ResNet50's 100 MB of weights")
	}
	for _, c := range []struct {
		name            string
		build           func(Config) (*graph.Model, error)
		total, nonTrain int
		torch           bool
		layers          int
		summary         []string
	}{
		{"keras resnet50", KerasResNet50, 25_636_712, 53_120, false, 177, []string{
			"conv2_block1_add (Add)", "['conv2_block1_0_bn[0][0]',", "'conv2_block1_3_bn[0][0]']",
			"conv5_block3_out (Activation)", "(None, 7, 7, 2048)"}},
		{"keras mobilenet_v2", KerasMobileNetV2, 3_538_984, 34_112, false, 156, []string{
			"block_16_project_BN (BatchNormalization)", "(None, 7, 7, 320)", "block_1_pad (ZeroPadding2D)"}},
		{"torchvision resnet18", TorchResNet18, 11_689_512, 0, true, 0, []string{"layer4_1_bn2", "(None, 7, 7, 512)"}},
		{"torchvision resnet34", TorchResNet34, 21_797_672, 0, true, 0, []string{"layer3_5_conv2"}},
		{"torchvision resnet50", TorchResNet50, 25_557_032, 0, true, 0, []string{"layer4_2_conv3", "layer1_0_downsample_0", "(None, 7, 7, 2048)"}},
		{"torchvision mobilenet_v2", TorchMobileNetV2, 3_504_872, 0, true, 0, []string{"features_17_conv_3", "features_18_0", "classifier_1"}},
	} {
		m, err := c.build(Config{})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		tr, non := m.CountParams()
		if c.torch && tr != c.total || !c.torch && (tr+non != c.total || non != c.nonTrain) {
			t.Errorf("%s: %d trainable and %d non-trainable parameters; the published count is %d (%d non-trainable)", c.name, tr, non, c.total, c.nonTrain)
		}
		if got := len(m.Layers()) + 1; c.layers > 0 && got != c.layers {
			t.Errorf("%s has %d layers (input included), the source's %d", c.name, got, c.layers)
		}
		s := m.Summary()
		for _, want := range c.summary {
			if !strings.Contains(s, want) {
				t.Errorf("%s summary lacks %q", c.name, want)
			}
		}
	}
}

// TestOptions: without the top the models end in their feature map or
// its pooling; bad options are refused.
func TestOptions(t *testing.T) {
	for _, c := range []struct {
		build func(Config) (*graph.Model, error)
		cfg   Config
		want  graph.Shape
	}{
		{KerasResNet50, Config{NoTop: true, WidthDiv: 16}, graph.Shape{7, 7, 128}},
		{KerasResNet50, Config{NoTop: true, Pooling: "avg", WidthDiv: 16, Height: 64, Width: 96}, graph.Shape{128}},
		{TorchResNet18, Config{NoTop: true, WidthDiv: 8, Height: 64, Width: 64}, graph.Shape{2, 2, 64}},
		{TorchResNet50, Config{NoTop: true, Pooling: "max", WidthDiv: 16}, graph.Shape{128}},
		{KerasMobileNetV2, Config{NoTop: true, WidthDiv: 8, Height: 96, Width: 96}, graph.Shape{3, 3, 160}},
		{TorchMobileNetV2, Config{WidthDiv: 8, Classes: 5, Height: 64, Width: 64}, graph.Shape{5}},
	} {
		m, err := c.build(c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if !m.OutputShape().Equal(c.want) {
			t.Errorf("%s %+v: output %v, want %v", m.Name, c.cfg, m.OutputShape(), c.want)
		}
	}
	for _, c := range []Config{{Pooling: "avg"}, {NoTop: true, Pooling: "mean"}, {Height: 16}, {WidthDiv: -1}} {
		if _, err := TorchResNet18(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

// BenchmarkMobileNetV2Predict measures Keras's MobileNetV2 forward pass at
// 224x224 (random weights), batch 1 and 8: go test ./applications -run '^$'
// -bench MobileNetV2 -benchtime 5x.
func BenchmarkMobileNetV2Predict(b *testing.B) {
	m, err := KerasMobileNetV2(Config{})
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

// BenchmarkForward measures the forward pass (inference, random weights)
// of the bases (no top) of torchvision's resnet18, resnet50 and
// mobilenet_v2 at 224x224 batch 1 and 32x32 batch 64, as
// scripts/torch_apps_bench.py measures PyTorch (and capa bench --arch
// alternates with it):
// go test ./applications -run '^$' -bench Forward -benchtime 5s.
func BenchmarkForward(b *testing.B) {
	for _, n := range []struct {
		name  string
		build func(Config) (*graph.Model, error)
	}{{"resnet18", TorchResNet18}, {"resnet50", TorchResNet50}, {"mobilenet_v2", TorchMobileNetV2}} {
		for _, s := range []struct{ hw, batch int }{{224, 1}, {32, 64}} {
			b.Run(fmt.Sprintf("%s/%dx%d/batch%d", n.name, s.hw, s.hw, s.batch), func(b *testing.B) {
				m, err := n.build(Config{NoTop: true, Height: s.hw, Width: s.hw})
				if err != nil {
					b.Fatal(err)
				}
				x := make([]float32, s.batch*s.hw*s.hw*3)
				for i := range x {
					x[i] = float32(i%255)/255 - 0.5
				}
				if _, err := m.Predict(x, s.batch); err != nil { // compile outside the timing
					b.Fatal(err)
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := m.Predict(x, s.batch); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*s.batch)/b.Elapsed().Seconds(), "images/s")
			})
		}
	}
}

// TestKerasBlockWidth pins down where Keras's MobileNetV2 block widths
// differ from torchvision's: Keras truncates filters*alpha first
// (int(filters * alpha), then _make_divisible), so 16 filters at alpha
// 17.9/16 give 16 in Keras (17 rounds to 16, above 90% of 17) and 24 in
// torchvision (16 is below 90% of 17.9).
func TestKerasBlockWidth(t *testing.T) {
	c := Config{Alpha: 17.9 / 16}
	if k, tv := c.kerasBlockCh(16), c.mobileCh(16); k != 16 || tv != 24 {
		t.Errorf("Keras %d (want 16), torchvision %d (want 24)", k, tv)
	}
	for _, a := range []float64{0.35, 0.5, 0.75, 1, 1.3, 1.4} {
		c := Config{Alpha: a}
		for _, n := range []int{16, 24, 32, 64, 96, 160, 320} {
			if k := c.kerasBlockCh(n); k%8 != 0 || float64(k) < 0.9*float64(int(float64(n)*a)) {
				t.Errorf("alpha %v, %d filters: %d", a, n, k)
			}
		}
	}
}
