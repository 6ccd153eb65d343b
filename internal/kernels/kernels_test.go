package kernels

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// ---- naive references: direct loops, float64 accumulation ----

func naiveGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) []float64 {
	out := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for l := 0; l < k; l++ {
				var av, bv float32
				if transA {
					av = a[l*lda+i]
				} else {
					av = a[i*lda+l]
				}
				if transB {
					bv = b[j*ldb+l]
				} else {
					bv = b[l*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			v := float64(alpha) * s
			if beta != 0 {
				v += float64(beta) * float64(c[i*ldc+j])
			}
			out[i*n+j] = v
		}
	}
	return out
}

// xAt returns x[n, y, x, c] and whether (y, x) is inside the image.
func xAt(x []float32, p Window, n, iy, ix, c int) (float64, int, bool) {
	i, ok := xIdx(p, n, iy, ix, c)
	if !ok {
		return 0, -1, false
	}
	return float64(x[i]), i, true
}

// xIdx returns the index of (n, y, x, c) and whether (y, x) is inside the image.
func xIdx(p Window, n, iy, ix, c int) (int, bool) {
	if iy < 0 || iy >= p.H || ix < 0 || ix >= p.W {
		return -1, false
	}
	return ((n*p.H+iy)*p.W+ix)*p.C + c, true
}

func naiveConv(x, w []float32, p Window, f int) []float64 {
	oh, ow := p.OutH(), p.OutW()
	out := make([]float64, p.N*oh*ow*f)
	for n := 0; n < p.N; n++ {
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				for j := 0; j < f; j++ {
					var s float64
					for ky := 0; ky < p.KH; ky++ {
						for kx := 0; kx < p.KW; kx++ {
							for c := 0; c < p.C; c++ {
								v, _, ok := xAt(x, p, n, oy*p.SH-p.PadTop+ky, ox*p.SW-p.PadLeft+kx, c)
								if ok {
									s += v * float64(w[((ky*p.KW+kx)*p.C+c)*f+j])
								}
							}
						}
					}
					out[((n*oh+oy)*ow+ox)*f+j] = s
				}
			}
		}
	}
	return out
}

func naiveConvBackData(dy, w []float32, p Window, f int) []float64 {
	oh, ow := p.OutH(), p.OutW()
	dx := make([]float64, p.InLen())
	for n := 0; n < p.N; n++ {
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				for j := 0; j < f; j++ {
					g := float64(dy[((n*oh+oy)*ow+ox)*f+j])
					for ky := 0; ky < p.KH; ky++ {
						for kx := 0; kx < p.KW; kx++ {
							for c := 0; c < p.C; c++ {
								i, ok := xIdx(p, n, oy*p.SH-p.PadTop+ky, ox*p.SW-p.PadLeft+kx, c)
								if ok {
									dx[i] += g * float64(w[((ky*p.KW+kx)*p.C+c)*f+j])
								}
							}
						}
					}
				}
			}
		}
	}
	return dx
}

func naiveConvBackFilter(x, dy []float32, p Window, f int) []float64 {
	oh, ow := p.OutH(), p.OutW()
	dw := make([]float64, p.KH*p.KW*p.C*f)
	for n := 0; n < p.N; n++ {
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				for j := 0; j < f; j++ {
					g := float64(dy[((n*oh+oy)*ow+ox)*f+j])
					for ky := 0; ky < p.KH; ky++ {
						for kx := 0; kx < p.KW; kx++ {
							for c := 0; c < p.C; c++ {
								v, _, ok := xAt(x, p, n, oy*p.SH-p.PadTop+ky, ox*p.SW-p.PadLeft+kx, c)
								if ok {
									dw[((ky*p.KW+kx)*p.C+c)*f+j] += g * v
								}
							}
						}
					}
				}
			}
		}
	}
	return dw
}

// naivePool returns the max (with argmax, first on ties) or the mean over the
// real cells of each window, and the number of real cells of each output.
func naivePool(x []float32, p Window, isMax bool) (out []float64, arg []int32, cnt []int) {
	oh, ow := p.OutH(), p.OutW()
	out = make([]float64, p.OutLen())
	arg = make([]int32, p.OutLen())
	cnt = make([]int, p.OutLen())
	for n := 0; n < p.N; n++ {
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				for c := 0; c < p.C; c++ {
					o := ((n*oh+oy)*ow+ox)*p.C + c
					best, bi, sum, k := math.Inf(-1), -1, 0.0, 0
					for ky := 0; ky < p.KH; ky++ {
						for kx := 0; kx < p.KW; kx++ {
							v, i, ok := xAt(x, p, n, oy*p.SH-p.PadTop+ky, ox*p.SW-p.PadLeft+kx, c)
							if !ok {
								continue
							}
							k++
							sum += v
							if v > best {
								best, bi = v, i
							}
						}
					}
					cnt[o], arg[o] = k, int32(bi)
					switch {
					case k == 0:
						out[o] = 0
					case isMax:
						out[o] = best
					default:
						out[o] = sum / float64(k)
					}
				}
			}
		}
	}
	return out, arg, cnt
}

func naiveAvgPoolBack(dy []float32, p Window) []float64 {
	oh, ow := p.OutH(), p.OutW()
	_, _, cnt := naivePool(make([]float32, p.InLen()), p, false)
	dx := make([]float64, p.InLen())
	for n := 0; n < p.N; n++ {
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				for c := 0; c < p.C; c++ {
					o := ((n*oh+oy)*ow+ox)*p.C + c
					for ky := 0; ky < p.KH; ky++ {
						for kx := 0; kx < p.KW; kx++ {
							i, ok := xIdx(p, n, oy*p.SH-p.PadTop+ky, ox*p.SW-p.PadLeft+kx, c)
							if ok {
								dx[i] += float64(dy[o]) / float64(cnt[o])
							}
						}
					}
				}
			}
		}
	}
	return dx
}

// ---- helpers ----

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.Float64()*2 - 1)
	}
	return s
}

func garbage(n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(math.NaN())
	}
	return s
}

func assertClose(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: len %d, want %d", what, len(got), len(want))
	}
	for i := range got {
		g, w := float64(got[i]), want[i]
		if !(math.Abs(g-w) <= tol*(1+math.Abs(w))) {
			t.Fatalf("%s: [%d] = %v, want %v", what, i, g, w)
		}
	}
}

func mustPanicShape(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if err, ok := r.(error); !ok || !errors.Is(err, ErrShape) {
			t.Errorf("%s: recovered %v, want ErrShape", what, r)
		}
	}()
	f()
}

// randWindow draws a window with odd and even sizes, strides 1-3, window
// sizes 1-5 and one of valid, same or asymmetric padding (each pad < the
// window size, so every window holds a real cell). Batch 1 is frequent.
func randWindow(rng *rand.Rand, mode int) Window {
	for {
		p := Window{
			N: 1 + rng.IntN(3), H: 1 + rng.IntN(11), W: 1 + rng.IntN(11), C: 1 + rng.IntN(4),
			KH: 1 + rng.IntN(5), KW: 1 + rng.IntN(5), SH: 1 + rng.IntN(3), SW: 1 + rng.IntN(3),
		}
		switch mode {
		case 0: // valid
		case 1: // same
			p.PadTop, p.PadBottom = Padding(true, p.H, p.KH, p.SH)
			p.PadLeft, p.PadRight = Padding(true, p.W, p.KW, p.SW)
		default: // asymmetric
			p.PadTop, p.PadBottom = rng.IntN(p.KH), rng.IntN(p.KH)
			p.PadLeft, p.PadRight = rng.IntN(p.KW), rng.IntN(p.KW)
		}
		if p.H+p.PadTop+p.PadBottom >= p.KH && p.W+p.PadLeft+p.PadRight >= p.KW {
			return p
		}
	}
}

var modes = []string{"valid", "same", "asym"}

// ---- tests ----

func TestGemm(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for it := 0; it < 200; it++ {
		m, n, k := 1+rng.IntN(40), 1+rng.IntN(40), 1+rng.IntN(40)
		tA, tB := rng.IntN(2) == 1, rng.IntN(2) == 1
		ar, ac := m, k
		if tA {
			ar, ac = k, m
		}
		br, bc := k, n
		if tB {
			br, bc = n, k
		}
		lda, ldb, ldc := ac+rng.IntN(3), bc+rng.IntN(3), n+rng.IntN(3)
		a, b := randSlice(rng, (ar-1)*lda+ac), randSlice(rng, (br-1)*ldb+bc)
		c := randSlice(rng, (m-1)*ldc+n)
		alpha := float32(rng.Float64()*2 - 1)
		beta := []float32{0, 1, -0.5}[rng.IntN(3)]
		if beta == 0 {
			for i := range c {
				c[i] = float32(math.NaN()) // must be overwritten, not scaled
			}
		}
		want := naiveGemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		Gemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		got := make([]float32, 0, m*n)
		for i := 0; i < m; i++ {
			got = append(got, c[i*ldc:i*ldc+n]...)
		}
		assertClose(t, fmt.Sprintf("gemm tA=%v tB=%v m=%d n=%d k=%d", tA, tB, m, n, k), got, want, 1e-4)
	}
}

func TestGemmPanics(t *testing.T) {
	a, b, c := make([]float32, 6), make([]float32, 6), make([]float32, 4)
	Gemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2) // fits
	mustPanicShape(t, "short a", func() { Gemm(false, false, 2, 2, 3, 1, a[:5], 3, b, 2, 0, c, 2) })
	mustPanicShape(t, "short c", func() { Gemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c[:3], 2) })
	mustPanicShape(t, "small lda", func() { Gemm(false, false, 2, 2, 3, 1, a, 2, b, 2, 0, c, 2) })
	mustPanicShape(t, "trans b short", func() { Gemm(false, true, 2, 3, 3, 1, a, 3, b, 3, 0, make([]float32, 6), 3) })
	mustPanicShape(t, "negative", func() { Gemm(false, false, -1, 2, 3, 1, a, 3, b, 2, 0, c, 2) })
}

func TestGemmKZero(t *testing.T) {
	c := []float32{1, 2, 3, 4}
	Gemm(false, false, 2, 2, 0, 1, nil, 1, nil, 2, 2, c, 2)
	assertClose(t, "k=0 beta=2", c, []float64{2, 4, 6, 8}, 0)
}

func TestConv2D(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for it := 0; it < 150; it++ {
		mode := it % 3
		p := randWindow(rng, mode)
		f := 1 + rng.IntN(5)
		name := fmt.Sprintf("%s %+v f=%d", modes[mode], p, f)
		x := randSlice(rng, p.InLen())
		w := randSlice(rng, p.KH*p.KW*p.C*f)
		dy := randSlice(rng, p.ConvOutLen(f))
		col := garbage(p.ColLen()) // scratch contents must not matter

		y := garbage(p.ConvOutLen(f))
		Conv2DTo(y, x, w, p, f, col, Epilogue{})
		assertClose(t, "forward "+name, y, naiveConv(x, w, p, f), 1e-4)

		dx := garbage(p.InLen())
		Conv2DBackwardDataTo(dx, dy, w, p, f, col)
		assertClose(t, "backward data "+name, dx, naiveConvBackData(dy, w, p, f), 1e-4)

		dw := garbage(len(w))
		Conv2DBackwardFilterTo(dw, x, dy, p, f, col)
		assertClose(t, "backward filter "+name, dw, naiveConvBackFilter(x, dy, p, f), 1e-4)

		// Adjoint identities: <conv(x, w), dy> = <x, dx> = <w, dw>.
		lhs, rx, rw := dot(y, dy), dot(x, dx), dot(w, dw)
		scale := 1 + math.Abs(lhs)
		if math.Abs(lhs-rx) > 1e-4*scale || math.Abs(lhs-rw) > 1e-4*scale {
			t.Fatalf("adjoint %s: <y,dy>=%v <x,dx>=%v <w,dw>=%v", name, lhs, rx, rw)
		}
	}
}

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func TestConv2DPanics(t *testing.T) {
	p := Window{N: 2, H: 5, W: 4, C: 3, KH: 3, KW: 2, SH: 1, SW: 2, PadTop: 1, PadBottom: 1}
	f := 4
	x, w, y, col := make([]float32, p.InLen()), make([]float32, 3*2*3*f), make([]float32, p.ConvOutLen(f)), make([]float32, p.ColLen())
	Conv2DTo(y, x, w, p, f, col, Epilogue{})
	mustPanicShape(t, "x", func() { Conv2DTo(y, x[1:], w, p, f, col, Epilogue{}) })
	mustPanicShape(t, "kernel", func() { Conv2DTo(y, x, w[1:], p, f, col, Epilogue{}) })
	mustPanicShape(t, "dst", func() { Conv2DTo(y[1:], x, w, p, f, col, Epilogue{}) })
	mustPanicShape(t, "col", func() { Conv2DTo(y, x, w, p, f, col[1:], Epilogue{}) })
	mustPanicShape(t, "f", func() { Conv2DTo(y, x, w, p, f+1, col, Epilogue{}) })
	mustPanicShape(t, "dx", func() { Conv2DBackwardDataTo(x[1:], y, w, p, f, col) })
	mustPanicShape(t, "dw", func() { Conv2DBackwardFilterTo(w[1:], x, y, p, f, col) })
	q := p
	q.SH = 0
	mustPanicShape(t, "stride 0", func() { Conv2DTo(y, x, w, q, f, col, Epilogue{}) })
}

func TestPool(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for it := 0; it < 150; it++ {
		mode := it % 3
		p := randWindow(rng, mode)
		name := fmt.Sprintf("%s %+v", modes[mode], p)
		x := randSlice(rng, p.InLen()) // continuous values: no ties
		dy := randSlice(rng, p.OutLen())

		wantMax, wantArg, _ := naivePool(x, p, true)
		y, arg := garbage(p.OutLen()), make([]int32, p.OutLen())
		MaxPoolTo(y, x, p, arg)
		assertClose(t, "max "+name, y, wantMax, 0)
		for i := range arg {
			if arg[i] != wantArg[i] {
				t.Fatalf("argmax %s: [%d] = %d, want %d", name, i, arg[i], wantArg[i])
			}
		}
		dx := garbage(p.InLen())
		MaxPoolBackwardTo(dx, dy, arg, p)
		wantDx := make([]float64, p.InLen())
		for i, j := range wantArg {
			wantDx[j] += float64(dy[i])
		}
		assertClose(t, "max backward "+name, dx, wantDx, 1e-6)

		wantAvg, _, _ := naivePool(x, p, false)
		AvgPoolTo(y, x, p)
		assertClose(t, "avg "+name, y, wantAvg, 1e-5)
		AvgPoolBackwardTo(dx, dy, p)
		assertClose(t, "avg backward "+name, dx, naiveAvgPoolBack(dy, p), 1e-5)
		// Adjoint: <avg(x), dy> = <x, avgᵀ(dy)>.
		if a, b := dot(y, dy), dot(x, dx); math.Abs(a-b) > 1e-4*(1+math.Abs(a)) {
			t.Fatalf("avg adjoint %s: %v vs %v", name, a, b)
		}
	}
}

// TestPoolPaddingSemantics pins the Keras semantics on a hand-computed case:
// a 2x2 all-negative image, 2x2 window, stride 2, padding 1 on every side.
func TestPoolPaddingSemantics(t *testing.T) {
	p := Window{N: 1, H: 2, W: 2, C: 1, KH: 2, KW: 2, SH: 2, SW: 2, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
	x := []float32{-1, -2, -3, -4}
	y, arg := make([]float32, p.OutLen()), make([]int32, p.OutLen())
	MaxPoolTo(y, x, p, arg)
	// Each window holds exactly one real cell; padding (0) must not win.
	assertClose(t, "max", y, []float64{-1, -2, -3, -4}, 0)
	AvgPoolTo(y, x, p)
	assertClose(t, "avg", y, []float64{-1, -2, -3, -4}, 0)

	// Window fully in the padding: 0 and argmax -1, skipped backward.
	q := Window{N: 1, H: 1, W: 1, C: 1, KH: 1, KW: 1, SH: 1, SW: 1, PadTop: 1}
	y, arg = make([]float32, q.OutLen()), make([]int32, q.OutLen())
	MaxPoolTo(y, []float32{-5}, q, arg)
	assertClose(t, "empty max", y, []float64{0, -5}, 0)
	if arg[0] != -1 || arg[1] != 0 {
		t.Fatalf("empty argmax = %v", arg)
	}
	dx := []float32{7}
	MaxPoolBackwardTo(dx, []float32{1, 2}, arg, q)
	assertClose(t, "empty max backward", dx, []float64{2}, 0)
	AvgPoolTo(y, []float32{-5}, q)
	assertClose(t, "empty avg", y, []float64{0, -5}, 0)
}

// TestMaxPoolTies pins the documented tie rule: the first cell in
// row-major window order wins.
func TestMaxPoolTies(t *testing.T) {
	p := Window{N: 1, H: 2, W: 2, C: 2, KH: 2, KW: 2, SH: 1, SW: 1}
	x := []float32{1, 5, 3, 5, 3, 5, 3, 2}
	y, arg := make([]float32, p.OutLen()), make([]int32, p.OutLen())
	MaxPoolTo(y, x, p, arg)
	if arg[0] != 2 || arg[1] != 1 {
		t.Fatalf("argmax = %v, want [2 1]", arg)
	}
}

func TestPoolPanics(t *testing.T) {
	p := Window{N: 1, H: 4, W: 4, C: 2, KH: 2, KW: 2, SH: 2, SW: 2}
	x, y, arg := make([]float32, p.InLen()), make([]float32, p.OutLen()), make([]int32, p.OutLen())
	mustPanicShape(t, "max x", func() { MaxPoolTo(y, x[1:], p, arg) })
	mustPanicShape(t, "max dst", func() { MaxPoolTo(y[1:], x, p, arg) })
	mustPanicShape(t, "max argmax", func() { MaxPoolTo(y, x, p, arg[1:]) })
	mustPanicShape(t, "max back", func() { MaxPoolBackwardTo(x, y, arg[1:], p) })
	mustPanicShape(t, "avg", func() { AvgPoolTo(y, x[1:], p) })
	mustPanicShape(t, "avg back", func() { AvgPoolBackwardTo(x, y[1:], p) })
}

func TestBias(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for it := 0; it < 50; it++ {
		f, rows := 1+rng.IntN(9), 1+rng.IntN(20)
		x, b := randSlice(rng, rows*f), randSlice(rng, f)
		want := make([]float64, len(x))
		wantDb := make([]float64, f)
		for r := 0; r < rows; r++ {
			for j := 0; j < f; j++ {
				want[r*f+j] = float64(x[r*f+j]) + float64(b[j])
				wantDb[j] += float64(x[r*f+j])
			}
		}
		dst := garbage(len(x))
		BiasAddTo(dst, x, b)
		assertClose(t, "bias add", dst, want, 1e-6)
		db := garbage(f)
		BiasGradTo(db, x)
		assertClose(t, "bias grad", db, wantDb, 1e-5)
		BiasAddTo(x, x, b) // in place
		assertClose(t, "bias add in place", x, want, 1e-6)
	}
	mustPanicShape(t, "bias not dividing", func() { BiasAddTo(make([]float32, 5), make([]float32, 5), make([]float32, 2)) })
	mustPanicShape(t, "bias dst", func() { BiasAddTo(make([]float32, 4), make([]float32, 6), make([]float32, 2)) })
	mustPanicShape(t, "bias empty", func() { BiasAddTo(make([]float32, 4), make([]float32, 4), nil) })
	mustPanicShape(t, "bias grad", func() { BiasGradTo(make([]float32, 4), make([]float32, 6)) })
}

// ---- benchmarks at the practical's shapes (batch 32) ----

var benchConvs = []struct {
	name string
	p    Window
	f    int
}{
	{"28x28x1-5x5x32", Window{N: 32, H: 28, W: 28, C: 1, KH: 5, KW: 5, SH: 1, SW: 1}, 32},
	{"12x12x32-5x5x64", Window{N: 32, H: 12, W: 12, C: 32, KH: 5, KW: 5, SH: 1, SW: 1}, 64},
}

func BenchmarkConv2D(b *testing.B) {
	for _, bc := range benchConvs {
		p, f := bc.p, bc.f
		rng := rand.New(rand.NewPCG(1, 1))
		x, w := randSlice(rng, p.InLen()), randSlice(rng, p.KH*p.KW*p.C*f)
		y, col := make([]float32, p.ConvOutLen(f)), make([]float32, p.ColLen())
		dx, dw := make([]float32, len(x)), make([]float32, len(w))
		flop := 2 * float64(p.ConvOutLen(f)) * float64(p.KH*p.KW*p.C)
		run := func(name string, fn func()) {
			b.Run(bc.name+"/"+name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					fn()
				}
				b.ReportMetric(flop*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
		run("forward", func() { Conv2DTo(y, x, w, p, f, col, Epilogue{}) })
		run("backward-data", func() { Conv2DBackwardDataTo(dx, y, w, p, f, col) })
		run("backward-filter", func() { Conv2DBackwardFilterTo(dw, x, y, p, f, col) })
	}
}

func BenchmarkMaxPool2x2(b *testing.B) {
	for _, p := range []Window{
		{N: 32, H: 24, W: 24, C: 32, KH: 2, KW: 2, SH: 2, SW: 2},
		{N: 32, H: 8, W: 8, C: 64, KH: 2, KW: 2, SH: 2, SW: 2},
	} {
		rng := rand.New(rand.NewPCG(1, 1))
		x, y := randSlice(rng, p.InLen()), make([]float32, p.OutLen())
		arg, dx := make([]int32, p.OutLen()), make([]float32, p.InLen())
		name := fmt.Sprintf("%dx%dx%d", p.H, p.W, p.C)
		b.Run(name+"/forward", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				MaxPoolTo(y, x, p, arg)
			}
		})
		b.Run(name+"/backward", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				MaxPoolBackwardTo(dx, y, arg, p)
			}
		})
	}
}

func TestRelu(t *testing.T) {
	x := []float32{-2, -0.5, float32(math.Copysign(0, -1)), 0, 1e-30, 3, -1e-30, float32(math.Inf(1)), float32(math.Inf(-1))}
	y := make([]float32, len(x))
	ReluTo(y, x)
	for i, v := range x {
		want := float32(0)
		if v > 0 {
			want = v
		}
		if y[i] != want || math.Signbit(float64(y[i])) {
			t.Errorf("relu(%v) = %v, want %v", v, y[i], want)
		}
	}
	dy := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}
	dx := make([]float32, len(x))
	ReluBackwardTo(dx, y, dy)
	for i := range dx {
		want := float32(0)
		if y[i] > 0 {
			want = dy[i]
		}
		if dx[i] != want {
			t.Errorf("relu'(%v)·%v = %v, want %v", y[i], dy[i], dx[i], want)
		}
	}
	// Big enough to run in parallel parts.
	n := 100003
	big, out, g, d := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range big {
		big[i] = float32(i%7) - 3
		g[i] = float32(i)
	}
	ReluTo(out, big)
	ReluBackwardTo(d, out, g)
	for i := range big {
		if (out[i] != max(big[i], 0)) || (big[i] > 0) != (d[i] == g[i] && g[i] != 0 || big[i] > 0 && g[i] == 0) {
			t.Fatalf("element %d: x %v relu %v grad %v", i, big[i], out[i], d[i])
		}
	}
}

// TestConv2DStreamMatchesConv2D: the streamed forward gives the same values
// as the one keeping the im2col matrix, on random windows, for one and two
// workers (chunks cross sample boundaries), pointwise ones among them, and
// small maps with many filters (shared by columns), and padded single
// pixels (one tap).
func TestConv2DStreamMatchesConv2D(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	defer SetWorkers(Workers())
	for trial := 0; trial < 80; trial++ {
		SetWorkers(1 + trial%2)
		k := 1 + rng.IntN(5)
		p := Window{N: 1 + rng.IntN(3), H: k + rng.IntN(20), W: k + rng.IntN(70), C: 2 + rng.IntN(40), KH: k, KW: k, SH: 1 + rng.IntN(2), SW: 1 + rng.IntN(2)}
		wide := trial%4 == 3 || trial%20 == 9 // a small map and many filters: the workers share the filters
		onePixel := trial%10 == 8 || trial%20 == 9
		if wide {
			p.H, p.W = k+rng.IntN(3), k+rng.IntN(5)
		}
		if onePixel { // one pixel, padded: one tap sees it
			p.H, p.W, p.SH, p.SW = 1, 1, 1+rng.IntN(2), 1+rng.IntN(2)
			p.PadTop, p.PadLeft = rng.IntN(k), rng.IntN(k)
			p.PadBottom, p.PadRight = k-1-p.PadTop, k-1-p.PadLeft
		}
		if trial%10 == 5 { // pointwise: the product of x itself, no gathering
			k, p.H, p.W, p.KH, p.KW, p.SH, p.SW = 1, p.H-k+1, p.W-k+1, 1, 1, 1, 1
		}
		if trial%3 == 0 && !onePixel {
			p.PadTop, p.PadBottom = Padding(true, p.H, k, p.SH)
			p.PadLeft, p.PadRight = Padding(true, p.W, k, p.SW)
		}
		f := 1 + rng.IntN(9)
		if wide {
			f = 129 + rng.IntN(40)
		}
		x, w := make([]float32, p.InLen()), make([]float32, k*k*p.C*f)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		for i := range w {
			w[i] = float32(rng.NormFloat64())
		}
		a, b := make([]float32, p.ConvOutLen(f)), make([]float32, p.ConvOutLen(f))
		Conv2DTo(a, x, w, p, f, make([]float32, p.ColLen()), Epilogue{})
		Conv2DStreamTo(b, x, w, p, f, make([]float32, p.StreamScratchLen()), Epilogue{})
		for i := range a {
			if d := a[i] - b[i]; d > 1e-4 || d < -1e-4 {
				t.Fatalf("%+v f=%d: element %d: %v streamed, %v with im2col", p, f, i, b[i], a[i])
			}
		}
	}
}

// TestSameBits: bit patterns, not values (NaN equals itself, -0 differs
// from +0), a difference anywhere found (in either worker's part), and
// lengths compared.
func TestSameBits(t *testing.T) {
	defer SetWorkers(Workers())
	for _, w := range []int{1, 2} {
		SetWorkers(w)
		a := make([]float32, 300000)
		for i := range a {
			a[i] = float32(i)
		}
		a[7] = float32(math.NaN())
		b := append([]float32(nil), a...)
		if !SameBits(a, b) || !SameBits(nil, []float32{}) {
			t.Fatalf("workers %d: equal slices differ", w)
		}
		for _, i := range []int{0, 150001, len(a) - 1} {
			c := append([]float32(nil), a...)
			if i == 0 {
				c[i] = float32(math.Copysign(0, -1)) // a[0] is +0
			} else {
				c[i]++
			}
			if SameBits(a, c) {
				t.Errorf("workers %d: a difference at %d not seen", w, i)
			}
		}
		if SameBits(a, a[:len(a)-1]) {
			t.Errorf("workers %d: lengths not compared", w)
		}
	}
}
