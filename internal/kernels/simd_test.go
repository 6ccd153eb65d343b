package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// Tests of the SIMD inner loops against the pure-Go ones they replace (bit
// for bit, on data full of NaNs, infinities, signed zeros, subnormals and
// ties), and benchmarks of both at the sizes of the course's CNN. Without
// the assembly (haveSIMD false) the comparisons run the Go code twice.

// simdModes lists the settings of useSIMD to test: both when the CPU can.
func simdModes() []bool {
	if haveSIMD {
		return []bool{false, true}
	}
	return []bool{false}
}

// withSIMD runs f with useSIMD set to on, restoring it after.
func withSIMD(on bool, f func()) {
	old := useSIMD
	useSIMD = on
	defer func() { useSIMD = old }()
	f()
}

// specials are the values the kernels must treat exactly as the Go code
// does: signed zeros, infinities, NaNs with either sign and various
// payloads (quiet and signalling), subnormals, extremes.
var specials = []uint32{
	0x00000000, 0x80000000, // ±0
	0x7f800000, 0xff800000, // ±Inf
	0x7fc00000, 0xffc00000, 0x7fc12345, 0xffd54321, // quiet NaNs
	0x7f800001, 0xff800123, // signalling NaNs
	0x00000001, 0x80000001, 0x007fffff, 0x807fffff, // subnormals
	0x7f7fffff, 0xff7fffff, 0x00800000, 0x80800000, // max, min normal
	0x3f800000, 0xbf800000, // ±1
}

// spicy returns n values: a third specials, a third drawn from a few small
// values (to make ties), a third random.
func spicy(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	ties := []float32{-1, 0, float32(math.Copysign(0, -1)), 1, 2}
	for i := range s {
		switch rng.IntN(3) {
		case 0:
			s[i] = math.Float32frombits(specials[rng.IntN(len(specials))])
		case 1:
			s[i] = ties[rng.IntN(len(ties))]
		default:
			s[i] = float32(rng.NormFloat64())
		}
	}
	return s
}

// unaligned returns a copy of s starting off elements into a fresh array, so
// the slices the kernels see start at every alignment mod 32 bytes.
func unaligned(s []float32, off int) []float32 {
	b := make([]float32, len(s)+off+8)
	for i := range b {
		b[i] = float32(math.NaN())
	}
	copy(b[off:], s)
	return b[off : off+len(s) : off+len(s)]
}

func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: len %d, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: [%d] = %#08x (%v), want %#08x (%v)", what, i,
				math.Float32bits(got[i]), got[i], math.Float32bits(want[i]), want[i])
		}
	}
}

func sameInts(t *testing.T, what string, got, want []int32) {
	t.Helper()
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: [%d] = %d, want %d", what, i, got[i], want[i])
		}
	}
}

var simdLens = []int{0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 255, 1000, 1003}

func TestSIMDRelu(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, on := range simdModes() {
		for _, n := range simdLens {
			for off := range 4 {
				x := unaligned(spicy(rng, n), off)
				dy := unaligned(spicy(rng, n), (off+1)%4)
				want, wantG := make([]float32, n), make([]float32, n)
				reluGeneric(want, x)
				reluBackwardGeneric(wantG, x, dy)
				got, gotG := unaligned(make([]float32, n), (off+2)%4), unaligned(make([]float32, n), (off+3)%4)
				what := fmt.Sprintf("simd %v n %d off %d", on, n, off)
				withSIMD(on, func() {
					ReluTo(got, x)
					ReluBackwardTo(gotG, x, dy)
				})
				sameBits(t, "ReluTo "+what, got, want)
				sameBits(t, "ReluBackwardTo "+what, gotG, wantG)
				// In place.
				withSIMD(on, func() {
					copy(got, x)
					ReluTo(got, got)
					copy(gotG, dy)
					ReluBackwardTo(gotG, x, gotG)
				})
				sameBits(t, "ReluTo in place "+what, got, want)
				sameBits(t, "ReluBackwardTo in place "+what, gotG, wantG)
			}
		}
	}
	// The documented values.
	withSIMD(haveSIMD, func() {
		x := make([]float32, 16)
		for i := range x {
			x[i] = math.Float32frombits(specials[i%len(specials)])
		}
		y := make([]float32, 16)
		ReluTo(y, x)
		for i, v := range y {
			if math.Signbit(float64(v)) || (v != v) != (x[i] != x[i] && !math.Signbit(float64(x[i]))) {
				t.Errorf("relu(%#08x) = %#08x", math.Float32bits(x[i]), math.Float32bits(v))
			}
		}
	})
}

var simdFeatures = []int{1, 2, 3, 5, 7, 8, 9, 12, 16, 24, 32, 33, 64, 72, 100, 130}

func TestSIMDBias(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, on := range simdModes() {
		for _, f := range simdFeatures {
			for _, rows := range []int{0, 1, 2, 3, 7, 33, 130} {
				off := rng.IntN(8)
				n := rows * f
				x := unaligned(spicy(rng, n), off)
				dy := unaligned(spicy(rng, n), (off+3)%8)
				bias := unaligned(spicy(rng, f), (off+5)%8)
				what := fmt.Sprintf("simd %v f %d rows %d off %d", on, f, rows, off)

				wantAdd, wantRelu, wantDx := make([]float32, n), make([]float32, n), make([]float32, n)
				wantG, wantDb := make([]float32, f), make([]float32, f)
				biasAddGeneric(wantAdd, x, bias)
				biasReluGeneric(wantRelu, x, bias)
				biasGradGeneric(wantG, dy)
				biasReluBackwardGeneric(wantDx, wantDb, x, dy)

				gotAdd, gotRelu := unaligned(make([]float32, n), off/2), unaligned(make([]float32, n), off/3)
				gotDx, gotG, gotDb := unaligned(make([]float32, n), 7-off), make([]float32, f), unaligned(garbageF(f), 1)
				withSIMD(on, func() {
					BiasAddTo(gotAdd, x, bias)
					BiasReluTo(gotRelu, x, bias)
					BiasGradTo(gotG, dy)
					BiasReluBackwardTo(gotDx, gotDb, x, dy)
				})
				sameBits(t, "BiasAddTo "+what, gotAdd, wantAdd)
				sameBits(t, "BiasReluTo "+what, gotRelu, wantRelu)
				sameBits(t, "BiasGradTo "+what, gotG, wantG)
				sameBits(t, "BiasReluBackwardTo dx "+what, gotDx, wantDx)
				sameBits(t, "BiasReluBackwardTo db "+what, gotDb, wantDb)

				// In place (dst = x, dx = dy).
				withSIMD(on, func() {
					copy(gotAdd, x)
					BiasAddTo(gotAdd, gotAdd, bias)
					copy(gotRelu, x)
					BiasReluTo(gotRelu, gotRelu, bias)
					copy(gotDx, dy)
					BiasReluBackwardTo(gotDx, gotDb, x, gotDx)
				})
				sameBits(t, "BiasAddTo in place "+what, gotAdd, wantAdd)
				sameBits(t, "BiasReluTo in place "+what, gotRelu, wantRelu)
				sameBits(t, "BiasReluBackwardTo in place "+what, gotDx, wantDx)
				sameBits(t, "BiasReluBackwardTo in place db "+what, gotDb, wantDb)
			}
		}
	}
}

// TestSIMDBiasNaNOperands pins down the NaN that x + bias yields when both
// are NaN (x86 keeps the first operand's payload and sign): the assembly
// adds in the Go code's operand order.
func TestSIMDBiasNaNOperands(t *testing.T) {
	nan := func(b uint32) float32 { return math.Float32frombits(b) }
	for _, f := range []int{8, 32, 100} {
		x, dy := make([]float32, 4*f), make([]float32, 4*f)
		bias := make([]float32, f)
		for i := range x {
			x[i], dy[i] = nan(0x7fc00001+uint32(i%3)), nan(0xffc00011+uint32(i%5))
		}
		for j := range bias {
			bias[j] = nan(0xffc00100 + uint32(j))
		}
		for _, on := range simdModes() {
			want, got := make([]float32, len(x)), make([]float32, len(x))
			wantB, gotB := make([]float32, f), make([]float32, f)
			biasAddGeneric(want, x, bias)
			biasGradGeneric(wantB, dy)
			withSIMD(on, func() {
				BiasAddTo(got, x, bias)
				BiasGradTo(gotB, dy)
			})
			sameBits(t, fmt.Sprintf("BiasAddTo NaN+NaN f %d simd %v", f, on), got, want)
			sameBits(t, fmt.Sprintf("BiasGradTo NaN+NaN f %d simd %v", f, on), gotB, wantB)
		}
	}
}

func garbageF(n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(math.NaN())
	}
	return s
}

func TestSIMDMaxPool2x2(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, on := range simdModes() {
		for _, c := range []int{1, 3, 7, 8, 9, 16, 24, 32, 33, 64, 100} {
			for _, hw := range [][2]int{{2, 2}, {2, 3}, {3, 2}, {4, 4}, {5, 7}, {8, 8}, {9, 6}} {
				for _, n := range []int{1, 3} {
					p := Window{N: n, H: hw[0], W: hw[1], C: c, KH: 2, KW: 2, SH: 2, SW: 2}
					x := unaligned(spicy(rng, p.InLen()), rng.IntN(8))
					want, got := make([]float32, p.OutLen()), unaligned(garbageF(p.OutLen()), rng.IntN(8))
					wantA, gotA := make([]int32, p.OutLen()), make([]int32, p.OutLen())
					maxPool2x2Generic(want, x, p, wantA, 0, p.N, 0)
					withSIMD(on, func() { MaxPoolTo(got, x, p, gotA) })
					what := fmt.Sprintf("simd %v %+v", on, p)
					sameBits(t, "MaxPoolTo "+what, got, want)
					sameInts(t, "MaxPoolTo argmax "+what, gotA, wantA)
					// The general kernel agrees too (same tie rule).
					maxPool(want, x, p, wantA, 0, p.N)
					sameBits(t, "maxPool "+what, got, want)
					sameInts(t, "maxPool argmax "+what, gotA, wantA)
				}
			}
		}
	}
}

// TestSIMDLarge runs the exported kernels at the CNN's sizes (split across
// workers, partial sums reduced) with and without the assembly.
func TestSIMDLarge(t *testing.T) {
	if !haveSIMD {
		t.Skip("no SIMD kernels on this CPU or build")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, s := range []struct{ n, h, w, c int }{{32, 24, 24, 32}, {32, 8, 8, 64}, {5, 7, 9, 100}} {
		size := s.n * s.h * s.w * s.c
		x, dy, bias := spicy(rng, size), spicy(rng, size), spicy(rng, s.c)
		p := Window{N: s.n, H: s.h, W: s.w, C: s.c, KH: 2, KW: 2, SH: 2, SW: 2}
		run := func(on bool) (out [][]float32, arg []int32) {
			y, dx, db, g, yp := make([]float32, size), make([]float32, size), make([]float32, s.c), make([]float32, s.c), make([]float32, p.OutLen())
			r, rb, ba := make([]float32, size), make([]float32, size), make([]float32, size)
			arg = make([]int32, p.OutLen())
			withSIMD(on, func() {
				BiasReluTo(y, x, bias)
				BiasReluBackwardTo(dx, db, y, dy)
				BiasAddTo(ba, x, bias)
				BiasGradTo(g, dy)
				ReluTo(r, x)
				ReluBackwardTo(rb, x, dy)
				MaxPoolTo(yp, x, p, arg)
			})
			return [][]float32{y, dx, db, ba, g, r, rb, yp}, arg
		}
		want, wantA := run(false)
		got, gotA := run(true)
		for i := range want {
			sameBits(t, fmt.Sprintf("%v output %d", s, i), got[i], want[i])
		}
		sameInts(t, fmt.Sprintf("%v argmax", s), gotA, wantA)
	}
}

// ---- benchmarks: go test -bench SIMD -run '^$' ./internal/kernels ----

func benchBoth(b *testing.B, name string, bytes int64, f func()) {
	for _, on := range simdModes() {
		impl := "generic"
		if on {
			impl = "avx2"
		}
		b.Run(name+"/"+impl, func(b *testing.B) {
			b.SetBytes(bytes)
			b.ReportAllocs()
			withSIMD(on, func() {
				for b.Loop() {
					f()
				}
			})
		})
	}
}

// The course's CNN at batch 32: conv1 output 32x24x24x32, conv2 output
// 32x8x8x64.
var simdBenchShapes = []struct {
	name       string
	n, h, w, c int
}{
	{"conv1_32x24x24x32", 32, 24, 24, 32},
	{"conv2_32x8x8x64", 32, 8, 8, 64},
}

func BenchmarkSIMD(b *testing.B) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, s := range simdBenchShapes {
		size := s.n * s.h * s.w * s.c
		x, dy, bias := randSlice(rng, size), randSlice(rng, size), randSlice(rng, s.c)
		y, dx, db := make([]float32, size), make([]float32, size), make([]float32, s.c)
		BiasReluTo(y, x, bias)
		e := int64(4 * size)
		benchBoth(b, "BiasReluTo/"+s.name, 2*e, func() { BiasReluTo(y, x, bias) })
		benchBoth(b, "BiasReluBackwardTo/"+s.name, 3*e, func() { BiasReluBackwardTo(dx, db, y, dy) })
		benchBoth(b, "BiasAddTo/"+s.name, 2*e, func() { BiasAddTo(dx, x, bias) })
		benchBoth(b, "BiasGradTo/"+s.name, e, func() { BiasGradTo(db, dy) })
		benchBoth(b, "ReluTo/"+s.name, 2*e, func() { ReluTo(dx, x) })
		benchBoth(b, "ReluBackwardTo/"+s.name, 3*e, func() { ReluBackwardTo(dx, y, dy) })
		p := Window{N: s.n, H: s.h, W: s.w, C: s.c, KH: 2, KW: 2, SH: 2, SW: 2}
		yp, arg := make([]float32, p.OutLen()), make([]int32, p.OutLen())
		// Reads the input, writes a quarter as many values and indices.
		benchBoth(b, "MaxPool2x2/"+s.name, e+2*e/4, func() { MaxPoolTo(yp, x, p, arg) })
	}
}

// TestSIMDClampMulAddNorm checks the inner loops of ClampTo (ReLU6), the
// depthwise convolution (d += a*b) and the batch normalization
// ((x-m)*s + t) against their pure-Go loops, bit for bit on spicy data
// (NaN operands included: the assembly computes in the Go code's operand
// order), at every length mod 8 and alignment, in place too.
func TestSIMDClampMulAddNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, on := range simdModes() {
		for _, n := range simdLens {
			for off := range 4 {
				what := fmt.Sprintf("simd %v n %d off %d", on, n, off)
				x := unaligned(spicy(rng, n), off)
				a, b := unaligned(spicy(rng, n), (off+1)%4), unaligned(spicy(rng, n), (off+2)%4)
				m, s := unaligned(spicy(rng, n), (off+3)%4), unaligned(spicy(rng, n), off)
				for _, lim := range [][2]float32{{0, 6}, {-1, 1}, {0, float32(math.Inf(1))}} {
					want, got := make([]float32, n), unaligned(make([]float32, n), (off+1)%4)
					clampGeneric(want, x, lim[0], lim[1])
					withSIMD(on, func() { ClampTo(got, x, lim[0], lim[1]) })
					sameBits(t, fmt.Sprintf("ClampTo %v %s", lim, what), got, want)
					withSIMD(on, func() { copy(got, x); ClampTo(got, got, lim[0], lim[1]) })
					sameBits(t, fmt.Sprintf("ClampTo in place %v %s", lim, what), got, want)
				}
				want, got := slices.Clone(x), slices.Clone(x)
				mulAddGeneric(want, a, b)
				withSIMD(on, func() { mulAdd(got, a, b) })
				sameBits(t, "mulAdd "+what, got, want)
				normGeneric(want, x, m, s, b)
				withSIMD(on, func() { norm(got, x, m, s, b) })
				sameBits(t, "norm "+what, got, want)
				withSIMD(on, func() { copy(got, x); norm(got, got, m, s, b) })
				sameBits(t, "norm in place "+what, got, want)
			}
		}
	}
}

// TestClamp checks ClampTo's documented values and ClampBackwardTo's
// gradient (dy strictly inside the limits, 0 at and beyond them).
func TestClamp(t *testing.T) {
	negZero := float32(math.Copysign(0, -1))
	nan := float32(math.NaN())
	x := []float32{-3, negZero, 0, 0.5, 6, 7, float32(math.Inf(1)), nan, 1, 2, 3}
	want := []float32{0, negZero, 0, 0.5, 6, 6, 6, nan, 1, 2, 3}
	for _, on := range simdModes() {
		y := make([]float32, len(x))
		withSIMD(on, func() { ClampTo(y, x, 0, 6) })
		sameBits(t, fmt.Sprintf("ClampTo(0, 6) simd %v", on), y, want)
	}
	y := []float32{0, 0.5, 6, 5.9, nan, -1}
	dy := []float32{1, 2, 3, 4, 5, 6}
	dx := make([]float32, len(y))
	ClampBackwardTo(dx, y, dy, 0, 6)
	if fmt.Sprint(dx) != "[0 2 0 4 0 0]" {
		t.Errorf("ClampBackwardTo = %v, want [0 2 0 4 0 0]", dx)
	}
}

// TestMaxPoolValues checks the inference max pooling (no winners recorded)
// against MaxPoolTo, bit for bit on spicy data (ties, NaNs, ±0), on
// windows with padding and strides, with and without the assembly, on one
// and two workers.
func TestMaxPoolValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	defer SetWorkers(Workers())
	for trial := 0; trial < 80; trial++ {
		SetWorkers(1 + trial%2)
		k := 1 + rng.IntN(4)
		p := Window{N: 1 + rng.IntN(3), H: k + rng.IntN(9), W: k + rng.IntN(9), C: 1 + rng.IntN(40), KH: k, KW: 1 + rng.IntN(4), SH: 1 + rng.IntN(3), SW: 1 + rng.IntN(3)}
		p.W = max(p.W, p.KW)
		if trial%2 == 0 {
			p.PadTop, p.PadBottom = Padding(true, p.H, p.KH, p.SH)
			p.PadLeft, p.PadRight = Padding(true, p.W, p.KW, p.SW)
		}
		x := spicy(rng, p.InLen())
		want := make([]float32, p.OutLen())
		MaxPoolTo(want, x, p, make([]int32, p.OutLen()))
		for _, on := range simdModes() {
			got := garbageF(p.OutLen())
			withSIMD(on, func() { MaxPoolValuesTo(got, x, p) })
			sameBits(t, fmt.Sprintf("%+v simd %v", p, on), got, want)
		}
	}
}

// TestDepthwiseTapsMatchesGeneric checks the AVX2 depthwise kernel against
// the pure-Go loops (a cleared output, one multiply-add per tap) bit for
// bit: padding that leaves pixels few taps, strides, channel counts with
// blocks of 32, of 8 and a scalar tail, and the rows shared by 1 and 2
// workers.
func TestDepthwiseTapsMatchesGeneric(t *testing.T) {
	if !haveSIMD {
		t.Skip("no AVX2")
	}
	rng := rand.New(rand.NewPCG(9, 9))
	defer SetWorkers(Workers())
	for _, c := range []struct {
		p Window
	}{
		{Window{N: 2, H: 9, W: 7, C: 44, KH: 3, KW: 3, SH: 1, SW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}},
		{Window{N: 1, H: 10, W: 10, C: 96, KH: 3, KW: 3, SH: 2, SW: 2, PadTop: 0, PadBottom: 1, PadLeft: 0, PadRight: 1}},
		{Window{N: 1, H: 4, W: 5, C: 8, KH: 5, KW: 5, SH: 1, SW: 1, PadTop: 2, PadBottom: 2, PadLeft: 2, PadRight: 2}},
		{Window{N: 3, H: 6, W: 6, C: 33, KH: 3, KW: 2, SH: 1, SW: 2}},
	} {
		p := c.p
		x := make([]float32, p.InLen())
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		x[0] = float32(math.Copysign(0, -1)) // -0 products must sum as before
		kernel := make([]float32, p.KH*p.KW*p.C)
		for i := range kernel {
			kernel[i] = float32(rng.NormFloat64())
		}
		n := p.N * p.OutH() * p.OutW() * p.C
		want := make([]float32, n)
		withSIMD(false, func() { DepthwiseTo(want, x, kernel, p, 1) })
		for _, w := range []int{1, 2} {
			SetWorkers(w)
			got := make([]float32, n)
			for i := range got {
				got[i] = float32(math.NaN())
			}
			DepthwiseTo(got, x, kernel, p, 1)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%+v, %d workers: [%d] = %v, the pure Go gives %v", p, w, i, got[i], want[i])
				}
			}
		}
	}
}
