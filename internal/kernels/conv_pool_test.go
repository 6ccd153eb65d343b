package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// sameValue reports whether a and b have the same bits, or, for products
// that went to OpenBLAS (thin ones; its blocking depends on the rows a
// call gets, which the fused kernel chunks differently), differ by float32
// rounding.
func sameValue(a, b float32) bool {
	if math.Float32bits(a) == math.Float32bits(b) {
		return true
	}
	return math.Abs(float64(a-b)) <= 1e-6*math.Max(1, math.Abs(float64(b)))
}

// TestConv2DMaxPoolMatchesUnfused: the fused kernel's values are those of
// Conv2DStreamTo then MaxPoolValuesTo (bit for bit with Capa's sgemm), for single- and
// multi-channel inputs, 2x2 and other pools, one image and batches of
// several chunks per worker, with and without the epilogue, on 1 and 2
// workers.
func TestConv2DMaxPoolMatchesUnfused(t *testing.T) {
	type tc struct {
		p     Window
		f     int
		ph    int
		pw, s int // pool width and column stride
	}
	conv := func(n, h, w, c, k, pad int) Window {
		return Window{N: n, H: h, W: w, C: c, KH: k, KW: k, SH: 1, SW: 1, PadTop: pad, PadBottom: pad, PadLeft: pad, PadRight: pad}
	}
	cases := []tc{
		{conv(1, 28, 28, 1, 5, 0), 32, 2, 2, 2},                                    // the practical's first layer, batch 1
		{conv(70, 28, 28, 1, 5, 0), 32, 2, 2, 2},                                   // several chunks per worker
		{conv(3, 12, 12, 32, 5, 0), 64, 2, 2, 2},                                   // the second layer
		{conv(40, 12, 12, 32, 5, 0), 64, 2, 2, 2},                                  // chunks of it
		{conv(2, 9, 11, 3, 3, 1), 5, 3, 3, 2},                                      // 3x3 pool, column stride 2, odd widths
		{conv(2, 8, 9, 2, 2, 0), 7, 1, 2, 1},                                       // 1-row windows
		{conv(2, 10, 10, 1, 3, 1), 4, 2, 2, 2},                                     // padded convolution, C 1
		{Window{N: 3, H: 13, W: 13, C: 4, KH: 3, KW: 3, SH: 2, SW: 2}, 6, 2, 2, 2}, // strided convolution
	}
	defer SetWorkers(Workers())
	for i, c := range cases {
		p := c.p
		q := Window{N: p.N, H: p.OutH(), W: p.OutW(), C: c.f, KH: c.ph, KW: c.pw, SH: c.ph, SW: c.s}
		name := fmt.Sprintf("x%v f%d pool %dx%d/%d", [4]int{p.N, p.H, p.W, p.C}, c.f, c.ph, c.pw, c.s)
		if !ConvPoolFuses(p, c.f, q) {
			t.Fatalf("%s: does not fuse", name)
		}
		rng := rand.New(rand.NewPCG(uint64(i), 9))
		x, kernel := randSlice(rng, p.InLen()), randSlice(rng, p.KH*p.KW*p.C*c.f)
		bias := randSlice(rng, c.f)
		for _, ep := range []Epilogue{{}, {Bias: bias, Relu: true}} {
			for _, nw := range []int{1, 2} {
				SetWorkers(nw)
				y := make([]float32, p.ConvOutLen(c.f))
				Conv2DStreamTo(y, x, kernel, p, c.f, make([]float32, p.StreamScratchLen()), ep)
				want := make([]float32, q.OutLen())
				MaxPoolValuesTo(want, y, q)
				got := garbage(q.OutLen())
				Conv2DMaxPoolTo(got, x, kernel, p, c.f, q, ep, garbage(p.ConvPoolScratchLen(c.f, q)))
				for j := range want {
					if !sameValue(got[j], want[j]) {
						t.Fatalf("%s relu %v workers %d: [%d] = %v, want %v", name, ep.Relu, nw, j, got[j], want[j])
					}
				}
			}
		}
	}
}

// TestConvPoolFuses: overlapping, padded or ragged pools do not fuse, nor
// do the convolutions with kernels of their own.
func TestConvPoolFuses(t *testing.T) {
	p := Window{N: 2, H: 12, W: 12, C: 32, KH: 5, KW: 5, SH: 1, SW: 1}
	q := Window{N: 2, H: 8, W: 8, C: 64, KH: 2, KW: 2, SH: 2, SW: 2}
	if !ConvPoolFuses(p, 64, q) {
		t.Fatal("the practical's second layer does not fuse")
	}
	bad := map[string]func(p, q *Window, f *int){
		"overlapping rows": func(p, q *Window, f *int) { q.KH, q.KW, q.SH = 3, 3, 2 },
		"ragged rows":      func(p, q *Window, f *int) { q.KH, q.SH = 3, 3 },
		"padded pool":      func(p, q *Window, f *int) { q.PadTop = 1 },
		"other filters":    func(p, q *Window, f *int) { *f = 32 },
		"other batch":      func(p, q *Window, f *int) { q.N = 3 },
		"pointwise":        func(p, q *Window, f *int) { p.KH, p.KW, q.H, q.W = 1, 1, 12, 12 },
		"winograd":         func(p, q *Window, f *int) { p.KH, p.KW, q.H, q.W = 3, 3, 10, 10 },
	}
	for name, change := range bad {
		p2, q2, f := p, q, 64
		change(&p2, &q2, &f)
		if ConvPoolFuses(p2, f, q2) {
			t.Errorf("%s fuses", name)
		}
	}
	mustPanicShape(t, "unfusable", func() {
		q2 := q
		q2.PadTop = 1
		Conv2DMaxPoolTo(make([]float32, q.OutLen()), make([]float32, p.InLen()), make([]float32, 25*32*64), p, 64, q2, Epilogue{}, nil)
	})
}
