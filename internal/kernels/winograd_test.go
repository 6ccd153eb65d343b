package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// withWinoBlock runs f with winoBlockBytes set to b (tiny values force
// blocks of winoMinBlock tiles), restoring it after.
func withWinoBlock(b int, f func()) {
	old := winoBlockBytes
	winoBlockBytes = b
	defer func() { winoBlockBytes = old }()
	f()
}

// randWinoWindow draws a 3x3 stride-1 window: odd and even sizes from 1 up
// (a 1x1 input needs padding), "valid", "same" or asymmetric padding of up
// to 2 on each side, channels not multiples of anything, batch 1-3.
func randWinoWindow(rng *rand.Rand, mode int) Window {
	for {
		p := Window{N: 1 + rng.IntN(3), H: 1 + rng.IntN(13), W: 1 + rng.IntN(13), C: 1 + rng.IntN(21), KH: 3, KW: 3, SH: 1, SW: 1}
		switch mode {
		case 0:
		case 1:
			p.PadTop, p.PadBottom = Padding(true, p.H, 3, 1)
			p.PadLeft, p.PadRight = Padding(true, p.W, 3, 1)
		default:
			p.PadTop, p.PadBottom, p.PadLeft, p.PadRight = rng.IntN(3), rng.IntN(3), rng.IntN(3), rng.IntN(3)
		}
		if p.OutH() > 0 && p.OutW() > 0 {
			return p
		}
	}
}

// withWinoTile runs f with winoTile set to r (2 or 4 forces a variant),
// restoring it after.
func withWinoTile(r int, f func()) {
	old := winoTile
	winoTile = r
	defer func() { winoTile = old }()
	f()
}

func TestWinogradConv(t *testing.T) {
	for _, r := range []int{2, 4} {
		t.Run(fmt.Sprintf("F%d", r), func(t *testing.T) { withWinoTile(r, func() { testWinogradConv(t, r) }) })
	}
}

func testWinogradConv(t *testing.T, r int) {
	rng := rand.New(rand.NewPCG(5, uint64(r)))
	defer SetWorkers(Workers())
	for it := 0; it < 300; it++ {
		mode := it % 3
		p := randWinoWindow(rng, mode)
		f := 1 + rng.IntN(21)
		if r == 4 && it%5 == 0 {
			// Larger images: many tiles, several blocks, byBlock mode.
			p.H, p.W = 9+rng.IntN(30), 9+rng.IntN(30)
		}
		SetWorkers(1 + it%3)
		simd := simdModes()[it%len(simdModes())]
		block := []int{1, 4 << 20}[it/3%2]
		name := fmt.Sprintf("F%d %s %+v f=%d workers=%d simd=%v block=%d", r, modes[mode], p, f, Workers(), simd, block)
		if !p.WinogradApplies() {
			t.Fatalf("%s: does not apply", name)
		}
		x := randSlice(rng, p.InLen())
		w := randSlice(rng, 9*p.C*f)
		y := garbage(p.ConvOutLen(f))
		withSIMD(simd, func() {
			withWinoBlock(block, func() {
				Conv2DWinogradTo(y, x, w, p, f, garbage(p.WinogradScratchLen(f)))
			})
		})
		// F(4x4, 3x3) multiplies by up to 8 and by 1/6: a few times the
		// rounding errors of F(2x2, 3x3).
		assertClose(t, name, y, naiveConv(x, w, p, f), []float64{2: 1e-5, 4: 2e-4}[r])
	}
}

// TestWinogradLarge checks shapes of VGG's layers (many blocks of tiles,
// channels that fill the assembly's 8 lanes) against Conv2DTo: the
// relative error of the whole output, the measure of the VGG golden tests.
func TestWinogradLarge(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, c := range []struct {
		p Window
		f int
	}{
		{Window{N: 2, H: 33, W: 31, C: 64, KH: 3, KW: 3, SH: 1, SW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}, 64},
		{Window{N: 1, H: 14, W: 14, C: 256, KH: 3, KW: 3, SH: 1, SW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}, 136},
		{Window{N: 3, H: 9, W: 12, C: 37, KH: 3, KW: 3, SH: 1, SW: 1}, 29},
	} {
		p, f := c.p, c.f
		x, w := make([]float32, p.InLen()), make([]float32, 9*p.C*f)
		for i := range x {
			x[i] = float32(max(0, rng.NormFloat64())) // post-ReLU activations
		}
		for i := range w {
			w[i] = float32(rng.NormFloat64() * math.Sqrt(2/float64(9*p.C)))
		}
		want := make([]float32, p.ConvOutLen(f))
		Conv2DTo(want, x, w, p, f, make([]float32, p.ColLen()), Epilogue{})
		for _, rs := range [][2]int{{2, 0}, {2, 1}, {4, 0}, {4, 1}} {
			r, simd := rs[0], rs[1] == 1 && haveSIMD
			got := garbage(p.ConvOutLen(f))
			withWinoTile(r, func() {
				withSIMD(simd, func() { Conv2DWinogradTo(got, x, w, p, f, garbage(p.WinogradScratchLen(f))) })
			})
			var num, den float64
			for i := range got {
				d := float64(got[i]) - float64(want[i])
				num += d * d
				den += float64(want[i]) * float64(want[i])
			}
			if rel := math.Sqrt(num / den); !(rel < []float64{2: 1e-6, 4: 5e-6}[r]) {
				t.Errorf("F%d %+v f=%d simd=%v: relative error %.3g", r, p, f, simd, rel)
			} else {
				t.Logf("F%d %+v f=%d simd=%v: relative error %.3g", r, p, f, simd, rel)
			}
		}
	}
}

// sameBitsOrNaN is sameBits but for NaN payloads: where two NaNs meet, the
// one that propagates depends on the operand order, which the Go compiler
// may swap in commutative operations.
func sameBitsOrNaN(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: len %d, want %d", what, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if math.Float32bits(g) != math.Float32bits(w) && !(g != g && w != w) {
			t.Fatalf("%s: [%d] = %#08x (%v), want %#08x (%v)", what, i, math.Float32bits(g), g, math.Float32bits(w), w)
		}
	}
}

// TestWinogradSIMDTransforms compares the assembly transforms with the Go
// loops bit for bit (NaN payloads aside), on special values, at every
// alignment, with channel counts around multiples of 8.
func TestWinogradSIMDTransforms(t *testing.T) {
	if !haveSIMD {
		t.Skip("no assembly here")
	}
	rng := rand.New(rand.NewPCG(9, 10))
	for _, c := range []int{1, 7, 8, 9, 16, 23, 24, 64, 67} {
		for _, tiles := range []int{1, 2, 5} {
			off := rng.IntN(8)
			// Input: tiles along a row of an image 2·tiles+2 pixels wide,
			// with a row stride larger than the row.
			rs := (2*tiles+2)*c + 3
			src := unaligned(spicy(rng, 3*rs+(2*tiles+2)*c), off)
			var a, b []float32
			for _, on := range []bool{false, true} {
				d := unaligned(garbageF(16*tiles*c), 7-off)
				withSIMD(on, func() { winoInput(d, src, tiles, c, rs) })
				a, b = b, d
			}
			sameBitsOrNaN(t, fmt.Sprintf("input c=%d tiles=%d", c, tiles), b, a)

			f := c
			rs = 2*tiles*f + 5
			m := unaligned(spicy(rng, 16*tiles*f), off)
			for _, on := range []bool{false, true} {
				d := unaligned(garbageF(rs+2*tiles*f), 3)
				withSIMD(on, func() { winoOutput(d, m, tiles, f, rs) })
				a, b = b, d
			}
			sameBitsOrNaN(t, fmt.Sprintf("output f=%d tiles=%d", f, tiles), b, a)
		}
	}
	for _, c := range []int{1, 7, 8, 9, 16, 23, 24, 64, 67} {
		for _, tiles := range []int{1, 2, 5} {
			off := rng.IntN(8)
			rs := (4*tiles+2)*c + 3
			src := unaligned(spicy(rng, 5*rs+(4*tiles+2)*c), off)
			var a, b []float32
			for _, on := range []bool{false, true} {
				d := unaligned(garbageF(36*tiles*c), 7-off)
				withSIMD(on, func() { winoInput4(d, src, tiles, c, rs) })
				a, b = b, d
			}
			sameBitsOrNaN(t, fmt.Sprintf("input4 c=%d tiles=%d", c, tiles), b, a)

			f := c
			rs = 4*tiles*f + 5
			m := unaligned(spicy(rng, 36*tiles*f), off)
			for _, on := range []bool{false, true} {
				d := unaligned(garbageF(3*rs+4*tiles*f), 3)
				withSIMD(on, func() { winoOutput4(d, m, tiles, f, rs) })
				a, b = b, d
			}
			sameBitsOrNaN(t, fmt.Sprintf("output4 f=%d tiles=%d", f, tiles), b, a)
		}
	}
	for _, ck := range []int{1, 8, 13, 64, 100} {
		g := unaligned(spicy(rng, 9*ck), rng.IntN(8))
		for _, lo := range []int{0, ck / 3} {
			var a, b []float32
			for _, on := range []bool{false, true} {
				u := unaligned(garbageF(16*ck), 1)
				withSIMD(on, func() { winoFilter(u, g, lo, ck, ck) })
				a, b = b, u
			}
			sameBitsOrNaN(t, fmt.Sprintf("filter ck=%d lo=%d", ck, lo), b, a)
			for _, on := range []bool{false, true} {
				u := unaligned(garbageF(36*ck), 1)
				withSIMD(on, func() { winoFilter4(u, g, lo, ck, ck) })
				a, b = b, u
			}
			sameBitsOrNaN(t, fmt.Sprintf("filter4 ck=%d lo=%d", ck, lo), b, a)
		}
	}
}

func TestWinogradSwitchAndApplies(t *testing.T) {
	p := Window{N: 2, H: 8, W: 8, C: 32, KH: 3, KW: 3, SH: 1, SW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
	prev := SetWinograd(true)
	defer SetWinograd(prev)
	if !UseWinograd(p, 16) {
		t.Errorf("UseWinograd(%+v) = false", p)
	}
	if q := p; func() bool { q.N = 1; return UseWinograd(q, 16) }() {
		t.Errorf("UseWinograd with %d tiles of F(2x2, 3x3) (fewer than %d) = true", 16, winoMinTiles)
	}
	for _, q := range []Window{
		{N: 1, H: 8, W: 8, C: 32, KH: 3, KW: 3, SH: 2, SW: 1},
		{N: 1, H: 8, W: 8, C: 32, KH: 5, KW: 5, SH: 1, SW: 1},
		{N: 1, H: 8, W: 8, C: 32, KH: 3, KW: 1, SH: 1, SW: 1},
	} {
		if q.WinogradApplies() || UseWinograd(q, 16) {
			t.Errorf("Winograd applies to %+v", q)
		}
	}
	if q := (Window{N: 1, H: 8, W: 8, C: 3, KH: 3, KW: 3, SH: 1, SW: 1}); !q.WinogradApplies() || UseWinograd(q, 64) {
		t.Errorf("3 channels: applies %v (want true), chosen %v (want false)", q.WinogradApplies(), UseWinograd(q, 64))
	}
	if SetWinograd(false) != true || UseWinograd(p, 16) || WinogradEnabled() {
		t.Errorf("SetWinograd(false) did not disable it")
	}
	for _, v := range []string{"0", "off", "FALSE", " no "} {
		if !envOff(v) {
			t.Errorf("envOff(%q) = false", v)
		}
	}
	if envOff("") || envOff("1") {
		t.Errorf("envOff of empty or 1 is true")
	}
	if envTile("2") != 2 || envTile(" 4") != 4 || envTile("") != 0 || envTile("1") != 0 {
		t.Errorf("envTile wrong")
	}
	withWinoTile(0, func() {
		wide := Window{N: 64, H: 16, W: 16, C: winoF4MinC, KH: 3, KW: 3, SH: 1, SW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
		if !winoUse4(wide, winoF4MinF) || winoUse4(wide, winoF4MinF-1) {
			t.Errorf("winoUse4 thresholds")
		}
		for hw, want := range map[int]bool{1: false, 2: false, 3: true, 4: true, 5: false, 14: true} {
			q := wide
			q.H, q.W = hw, hw
			if winoUse4(q, 512) != want {
				t.Errorf("winoUse4 at %dx%d = %v", hw, hw, !want)
			}
		}
		if q := wide; func() bool { q.N, q.H, q.W = 1, 14, 14; return winoUse4(q, 512) }() {
			t.Errorf("winoUse4 with 16 tiles of F(4x4, 3x3) (fewer than %d) = true", winoMinTiles)
		}
	})
}

// TestWinogradReuseAcrossVariants checks that a scratch whose filters were
// transformed by one variant is transformed again when reused by the other.
func TestWinogradReuseAcrossVariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	p := Window{N: 1, H: 13, W: 11, C: 9, KH: 3, KW: 3, SH: 1, SW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
	f := 10
	x, w := randSlice(rng, p.InLen()), randSlice(rng, 9*p.C*f)
	want := naiveConv(x, w, p, f)
	var n int
	withWinoTile(2, func() { n = p.WinogradScratchLen(f) })
	withWinoTile(4, func() { n = max(n, p.WinogradScratchLen(f)) })
	buf := garbage(n)
	for i, r := range []int{2, 4, 4, 2, 2} {
		withWinoTile(r, func() {
			y := garbage(p.ConvOutLen(f))
			Conv2DWinogradReuseTo(y, x, w, p, f, buf[:p.WinogradScratchLen(f)], i > 0, Epilogue{})
			assertClose(t, fmt.Sprintf("run %d F%d", i, r), y, want, 2e-4)
		})
	}
}

func TestWinogradPanics(t *testing.T) {
	p := Window{N: 1, H: 5, W: 5, C: 2, KH: 3, KW: 3, SH: 1, SW: 1}
	f := 3
	x, w, y := make([]float32, p.InLen()), make([]float32, 9*p.C*f), make([]float32, p.ConvOutLen(f))
	s := make([]float32, p.WinogradScratchLen(f))
	mustPanicShape(t, "short scratch", func() { Conv2DWinogradTo(y, x, w, p, f, s[1:]) })
	mustPanicShape(t, "short x", func() { Conv2DWinogradTo(y, x[1:], w, p, f, s) })
	mustPanicShape(t, "short kernel", func() { Conv2DWinogradTo(y, x, w[1:], p, f, s) })
	mustPanicShape(t, "short dst", func() { Conv2DWinogradTo(y[1:], x, w, p, f, s) })
	q := p
	q.SH = 2
	mustPanicShape(t, "stride 2", func() { Conv2DWinogradTo(y, x, w, q, f, s) })
}

// BenchmarkWinogradLayers compares Conv2DWinogradTo with the im2col
// convolution of inference (Conv2DStreamTo) on the 3x3 layers of VGG16 at
// 32x32 (batch 64) and 224x224 (batch 1), reporting GFLOP/s of the direct
// convolution's 2·9·C·F per output pixel.
//
//	go test ./internal/kernels -run '^$' -bench WinogradLayers
func BenchmarkWinogradLayers(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, l := range vggLayers() {
		p := Window{N: l.n, H: l.hw, W: l.hw, C: l.c, KH: 3, KW: 3, SH: 1, SW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
		x, w := randSlice(rng, p.InLen()), randSlice(rng, 9*l.c*l.f)
		y := make([]float32, p.ConvOutLen(l.f))
		flops := 2 * 9 * float64(l.c*l.f) * float64(p.N*p.OutH()*p.OutW())
		report := func(b *testing.B) {
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		}
		b.Run(l.name+"/im2col", func(b *testing.B) {
			s := make([]float32, p.StreamScratchLen())
			for i := 0; i < b.N; i++ {
				Conv2DStreamTo(y, x, w, p, l.f, s, Epilogue{})
			}
			report(b)
		})
		b.Run(l.name+"/winograd", func(b *testing.B) {
			s := make([]float32, p.WinogradScratchLen(l.f))
			for i := 0; i < b.N; i++ {
				Conv2DWinogradTo(y, x, w, p, l.f, s)
			}
			report(b)
		})
	}
}

// vggLayer is a convolution of VGG16: name, batch, input size, channels,
// filters.
type vggLayer struct {
	name        string
	n, hw, c, f int
}

// vggLayers returns the distinct 3x3 convolutions of VGG16 at 32x32 (batch
// 64) and at 224x224 (batch 1).
func vggLayers() []vggLayer {
	var ls []vggLayer
	for _, s := range []struct{ n, hw int }{{64, 32}, {1, 224}} {
		hw := s.hw
		for i, c := range [][2]int{{3, 64}, {64, 64}, {64, 128}, {128, 128}, {128, 256}, {256, 256}, {256, 512}, {512, 512}, {512, 512}} {
			if i == 2 || i == 4 || i == 6 || i == 8 {
				hw /= 2
			}
			ls = append(ls, vggLayer{fmt.Sprintf("%dx%d_b%d/%dx%dx%d-%d", s.hw, s.hw, s.n, hw, hw, c[0], c[1]), s.n, hw, c[0], c[1]})
		}
	}
	return ls
}

func ms(d time.Duration) float64 { return d.Seconds() * 1e3 }

func withWinoBlockSet(b int) func() {
	old := winoBlockBytes
	winoBlockBytes = b
	return func() { winoBlockBytes = old }
}
