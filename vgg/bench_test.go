package vgg

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/capa-ml/capa/graph"
)

// The forward speed of VGG16's convolutional base (random weights,
// inference), the workload of ../shared/peer/torch_vgg16_features.py: 32x32
// images in batches of 64 and 224x224 images one at a time. Each reports
// images/s.
//
//	go test ./vgg -run '^$' -bench VGG16Features -benchtime 5x
//
// CAPA_WINOGRAD=0 measures the im2col convolution instead of Winograd's.

// BenchmarkVGG16Features32 runs VGG16's base on batches of 64 32x32 images.
func BenchmarkVGG16Features32(b *testing.B) { benchFeatures(b, 32, 64) }

// BenchmarkVGG16Features224 runs VGG16's base on one 224x224 image at a time.
func BenchmarkVGG16Features224(b *testing.B) { benchFeatures(b, 224, 1) }

// featuresModel returns VGG16's base for hw x hw images (weights from seed
// 1) and a batch of uniform [0, 1) images, as the peer's torch.rand.
func featuresModel(tb testing.TB, hw, batch int) (*graph.Model, []float32) {
	m, err := VGG16(Config{Height: hw, Width: hw, Seed: 1})
	if err != nil {
		tb.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, batch*hw*hw*3)
	for i := range x {
		x[i] = rng.Float32()
	}
	return m, x
}

// benchFeatures times Predict on one batch of hw x hw images, after a
// warm-up call that builds the inference graph.
func benchFeatures(b *testing.B, hw, batch int) {
	m, x := featuresModel(b, hw, batch)
	if _, err := m.Predict(x, batch); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.Predict(x, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkVGG16WinogradVsIm2col compares the forward pass of VGG16's base
// with the im2col and with the Winograd convolutions in the same process,
// alternating them every iteration (so that both see the same machine
// load), and reports the images/s of each and Winograd's speedup:
//
//	go test ./vgg -run '^$' -bench WinogradVsIm2col -benchtime 5x
func BenchmarkVGG16WinogradVsIm2col(b *testing.B) {
	defer graph.SetWinograd(graph.Engine().Winograd)
	for _, s := range []struct{ hw, batch int }{{32, 64}, {224, 1}} {
		b.Run(strconv.Itoa(s.hw), func(b *testing.B) {
			m, x := featuresModel(b, s.hw, s.batch)
			for _, wino := range []bool{false, true} { // warm up both graphs
				graph.SetWinograd(wino)
				if _, err := m.Predict(x, s.batch); err != nil {
					b.Fatal(err)
				}
			}
			var spent [2]time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for k := range 2 {
					mode := (i + k) % 2 // alternate which goes first
					graph.SetWinograd(mode == 1)
					start := time.Now()
					if _, err := m.Predict(x, s.batch); err != nil {
						b.Fatal(err)
					}
					spent[mode] += time.Since(start)
				}
			}
			im2col := float64(b.N*s.batch) / spent[0].Seconds()
			wino := float64(b.N*s.batch) / spent[1].Seconds()
			b.ReportMetric(im2col, "im2col-images/s")
			b.ReportMetric(wino, "winograd-images/s")
			b.ReportMetric(wino/im2col, "speedup")
		})
	}
}

// TestVGG16WinogradAgrees checks that VGG16's base gives the same features
// with Winograd's convolutions as with im2col (to float32 rounding).
func TestVGG16WinogradAgrees(t *testing.T) {
	defer graph.SetWinograd(graph.Engine().Winograd)
	m, x := featuresModel(t, 32, 2)
	var outs [2][]float32
	for i, wino := range []bool{false, true} {
		graph.SetWinograd(wino)
		y, err := m.Predict(x, 2)
		if err != nil {
			t.Fatal(err)
		}
		outs[i] = y
	}
	want := make([]float64, len(outs[0]))
	for i, v := range outs[0] {
		want[i] = float64(v)
	}
	if e := relErr(outs[1], want); !(e < 1e-5) {
		t.Errorf("Winograd's features differ from im2col's by %.3g (relative)", e)
	}
}
