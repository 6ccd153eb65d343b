package transfer

import (
	"io"
	"strings"
	"testing"

	"github.com/capa-ml/capa/applications"
	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/train"
)

// TestFunctionalBases: transfer learning on the Functional families
// (torchvision's ResNet18 and MobileNetV2, reduced, with their test
// weights): features once, a head, the combined model computing the head
// on the features, head training leaving every base weight and
// BatchNormalization statistic bit-identical, and fine-tuning from a named
// layer changing that layer and nothing before it.
func TestFunctionalBases(t *testing.T) {
	for _, c := range []struct {
		build      func(applications.Config) (*graph.Model, error)
		cfg        applications.Config
		file, from string
	}{
		{applications.TorchResNet18, applications.Config{NoTop: true, WidthDiv: 16, Height: 64, Width: 64}, "resnet18_mini.pth", "layer4_0_conv1"},
		{applications.TorchMobileNetV2, applications.Config{NoTop: true, Alpha: 0.25, Height: 64, Width: 64}, "mobilenet_v2_mini.pth", "features_17_conv_0_0"},
	} {
		base, err := c.build(c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := applications.LoadTorchvision(base, "../applications/testdata/"+c.file); err != nil {
			t.Fatal(err)
		}
		d := data(24, base.InputShape().Size(), 3)
		feats, err := Features(base, d.X, 8, nil)
		if err != nil {
			t.Fatal(err)
		}
		head, err := HeadModel(base.OutputShape(), Head{Units: []int{8}, Classes: 3}, 7)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Combine(base, head)
		if err != nil {
			t.Fatalf("%s: %v", base.Name, err)
		}
		hp, _ := head.Predict(feats, 24)
		cp, err := m.Predict(d.X, 24)
		if err != nil {
			t.Fatal(err)
		}
		for i := range hp {
			if dd := hp[i] - cp[i]; dd > 1e-5 || dd < -1e-5 {
				t.Fatalf("%s: combined prediction %d: %v, head on features %v", base.Name, i, cp[i], hp[i])
			}
		}
		fit := func(lr float64) {
			t.Helper()
			if err := m.Compile(&train.Adam{LearningRate: lr}, train.SparseCategoricalCrossentropy{}); err != nil {
				t.Fatal(err)
			}
			if _, err := m.Fit(d, graph.FitOptions{Epochs: 1, BatchSize: 8, Progress: io.Discard}); err != nil {
				t.Fatal(err)
			}
		}
		before := snapshot(m)
		fit(0.01)
		after := snapshot(m)
		for _, p := range m.Params() {
			inHead := strings.HasPrefix(p.Name, "dense")
			if changed := !same(before[p.Name], after[p.Name]); changed != inHead {
				t.Errorf("%s: %s changed %v after head training (head weight: %v)", base.Name, p.Name, changed, inHead)
			}
		}
		// Fine-tuning from a named layer.
		if err := UnfreezeFrom(m, c.from); err != nil {
			t.Fatal(err)
		}
		before = snapshot(m)
		fit(1e-3)
		after = snapshot(m)
		seen := false
		for _, l := range m.Layers() {
			seen = seen || graph.NameOf(l) == c.from
			for _, p := range graph.ParamsOf(l) {
				if changed := !same(before[p.Name], after[p.Name]); !seen && changed {
					t.Errorf("%s: %s before %s changed in fine-tuning", base.Name, p.Name, c.from)
				}
			}
		}
		if p, _ := m.Param(c.from + "/kernel"); same(before[p.Name], after[p.Name]) {
			t.Errorf("%s: fine-tuning did not change %s", base.Name, p.Name)
		}
	}
}
