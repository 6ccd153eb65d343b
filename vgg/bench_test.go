package vgg

import (
	"math/rand/v2"
	"os"
	"slices"
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

// TestVGG16WinogradSpeed (CAPA_VGG_TIMES=reps) compares the forward pass of
// VGG16's base with the im2col and with the Winograd convolutions in the
// same process, alternating reps times, and logs the median and fastest
// images/s of each: the gain of Winograd's algorithm measured on a machine
// shared with other work. It also checks that both give the same features.
func TestVGG16WinogradSpeed(t *testing.T) {
	reps, _ := strconv.Atoi(os.Getenv("CAPA_VGG_TIMES"))
	if reps < 1 {
		t.Skip("set CAPA_VGG_TIMES=reps to compare the convolutions on VGG16")
	}
	defer graph.SetWinograd(graph.Engine().Winograd)
	for _, s := range []struct{ hw, batch int }{{32, 64}, {224, 1}} {
		m, x := featuresModel(t, s.hw, s.batch)
		var rates [2][]float64
		var outs [2][]float32
		for r := 0; r <= reps; r++ { // the first round warms up
			for i, wino := range []bool{false, true} {
				graph.SetWinograd(wino)
				start := time.Now()
				y, err := m.Predict(x, s.batch)
				if err != nil {
					t.Fatal(err)
				}
				if r > 0 {
					rates[i] = append(rates[i], float64(s.batch)/time.Since(start).Seconds())
				}
				outs[i] = y
			}
		}
		want := make([]float64, len(outs[0]))
		for i, v := range outs[0] {
			want[i] = float64(v)
		}
		if e := relErr(outs[1], want); !(e < 1e-5) {
			t.Errorf("%dx%d: Winograd's features differ from im2col's by %.3g (relative)", s.hw, s.hw, e)
		}
		t.Logf("%dx%d batch %d, %d runs each: im2col median %.2f (best %.2f) images/s, winograd median %.2f (best %.2f): %.2fx (best %.2fx); features' relative difference %.2g",
			s.hw, s.hw, s.batch, reps, medianOf(rates[0]), slices.Max(rates[0]), medianOf(rates[1]), slices.Max(rates[1]),
			medianOf(rates[1])/medianOf(rates[0]), slices.Max(rates[1])/slices.Max(rates[0]), relErr(outs[1], want))
	}
}

// medianOf returns the median of v (the mean of the middle two for an even
// count).
func medianOf(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
