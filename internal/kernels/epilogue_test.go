package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestEpilogueMatchesComposite: every convolution kernel's epilogue (bias,
// batch normalization, residual, ReLU, and each alone) gives the bits of
// the kernel without it followed by BiasAddTo, BatchNormTo, SumTo and
// ReluTo, on every path of each kernel and with 1 and 2 workers.
func TestEpilogueMatchesComposite(t *testing.T) {
	pad := func(p Window, n int) Window {
		p.PadTop, p.PadBottom, p.PadLeft, p.PadRight = n, n, n, n
		return p
	}
	w := func(n, hw, c, k, s int) Window {
		return Window{N: n, H: hw, W: hw, C: c, KH: k, KW: k, SH: s, SW: s}
	}
	cases := []struct {
		name string
		p    Window
		f    int
	}{
		{"C 1, transposed gather", w(3, 12, 1, 5, 1), 8},
		{"streamed chunks", pad(w(2, 11, 6, 3, 2), 1), 20},
		{"pointwise", w(2, 30, 8, 1, 1), 24},
		{"single pixel", pad(w(4, 1, 16, 3, 1), 1), 32},
		{"few pixels, many filters", w(1, 4, 8, 3, 1), 256},
		{"winograd", pad(w(1, 40, 16, 3, 1), 1), 16},
	}
	defer SetWorkers(Workers())
	for i, c := range cases {
		p, f := c.p, c.f
		n := p.ConvOutLen(f)
		rng := rand.New(rand.NewPCG(uint64(i), 17))
		x, kernel := randSlice(rng, p.InLen()), randSlice(rng, p.KH*p.KW*p.C*f)
		bias, mean, gamma, beta := randSlice(rng, f), randSlice(rng, f), randSlice(rng, f), randSlice(rng, f)
		variance := randSlice(rng, f)
		for j := range variance {
			variance[j] = 0.5 + variance[j]*variance[j]
		}
		invStd, scale := make([]float32, f), make([]float32, f)
		InvStdTo(invStd, variance, 1e-3)
		BatchNormScaleTo(scale, gamma, invStd)
		residual := randSlice(rng, n)
		eps := map[string]Epilogue{
			"all":      {Bias: bias, Mean: mean, Scale: scale, Shift: beta, Residual: residual, Relu: true},
			"bn":       {Mean: mean, Scale: scale, Shift: beta},
			"bn relu":  {Mean: mean, Scale: scale, Shift: beta, Relu: true},
			"residual": {Residual: residual},
			"bias bn":  {Bias: bias, Mean: mean, Scale: scale, Shift: beta},
		}
		kernels := map[string]func(y []float32, ep Epilogue){
			"im2col": func(y []float32, ep Epilogue) { Conv2DTo(y, x, kernel, p, f, garbage(p.ColLen()), ep) },
			"stream": func(y []float32, ep Epilogue) { Conv2DStreamTo(y, x, kernel, p, f, garbage(p.StreamScratchLen()), ep) },
		}
		if p.WinogradApplies() {
			kernels["winograd"] = func(y []float32, ep Epilogue) {
				Conv2DWinogradReuseTo(y, x, kernel, p, f, garbage(p.WinogradScratchLen(f)), false, ep)
			}
		}
		for kn, run := range kernels {
			for en, ep := range eps {
				for _, nw := range []int{1, 2} {
					SetWorkers(nw)
					want := make([]float32, n)
					run(want, Epilogue{})
					if ep.Bias != nil {
						BiasAddTo(want, want, ep.Bias)
					}
					if ep.Mean != nil {
						BatchNormTo(want, want, mean, invStd, gamma, beta)
					}
					if ep.Residual != nil {
						SumTo(want, [][]float32{append([]float32(nil), want...), residual})
					}
					if ep.Relu {
						ReluTo(want, want)
					}
					got := garbage(n)
					run(got, ep)
					for j := range want {
						if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
							t.Fatalf("%s, %s, epilogue %s, %d workers: [%d] = %v, want %v", c.name, kn, en, nw, j, got[j], want[j])
						}
					}
				}
			}
		}
	}
}

// TestEpilogueRejects: a normalization or residual that does not fit the
// filters or the output panics with ErrShape.
func TestEpilogueRejects(t *testing.T) {
	p := Window{N: 1, H: 6, W: 6, C: 2, KH: 3, KW: 3, SH: 1, SW: 1}
	f := 4
	x, kernel, y := make([]float32, p.InLen()), make([]float32, 9*2*f), make([]float32, p.ConvOutLen(f))
	four, three := make([]float32, f), make([]float32, f-1)
	for name, ep := range map[string]Epilogue{
		"short mean":     {Mean: three, Scale: four, Shift: four},
		"missing scale":  {Mean: four, Shift: four},
		"short residual": {Residual: make([]float32, len(y)-1)},
		"short bias":     {Bias: three},
	} {
		mustPanicShape(t, fmt.Sprint(name), func() {
			Conv2DStreamTo(y, x, kernel, p, f, make([]float32, p.StreamScratchLen()), ep)
		})
	}
}
