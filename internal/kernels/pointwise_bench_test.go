package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkPointwiseResNet runs the 1x1 convolutions of torchvision's
// ResNet50 at 224x224 batch 1 (Conv2DStreamTo's pointwise path), without
// epilogue and with a ResNet block's (batch normalization, residual,
// ReLU), reporting GFLOP/s:
// go test ./internal/kernels -run '^$' -bench PointwiseResNet.
func BenchmarkPointwiseResNet(b *testing.B) {
	for _, s := range []struct{ hw, c, f int }{
		{56, 64, 256}, {56, 256, 64}, {28, 128, 512}, {28, 512, 128},
		{14, 256, 1024}, {14, 1024, 256}, {7, 512, 2048}, {7, 2048, 512},
	} {
		p := Window{N: 1, H: s.hw, W: s.hw, C: s.c, KH: 1, KW: 1, SH: 1, SW: 1}
		rng := rand.New(rand.NewPCG(1, 2))
		x, w := randSlice(rng, p.InLen()), randSlice(rng, s.c*s.f)
		y, res := make([]float32, p.ConvOutLen(s.f)), randSlice(rng, p.ConvOutLen(s.f))
		v := randSlice(rng, s.f)
		for _, full := range []bool{false, true} {
			var ep Epilogue
			if full {
				ep = Epilogue{Mean: v, Scale: v, Shift: v, Residual: res, Relu: true}
			}
			b.Run(fmt.Sprintf("%dx%dx%d-%d/epilogue=%v", s.hw, s.hw, s.c, s.f, full), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					Conv2DStreamTo(y, x, w, p, s.f, nil, ep)
				}
				b.ReportMetric(float64(2*s.hw*s.hw*s.c*s.f)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
