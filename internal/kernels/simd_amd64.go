//go:build !capa_noasm

package kernels

import "golang.org/x/sys/cpu"

// AVX2 versions of the inner loops of the elementwise, bias and 2x2 max
// pooling kernels (simd_amd64.s). They give bit for bit the results of the
// pure-Go loops they replace (the *Generic functions, which remain the
// fallback on CPUs without AVX2, on other architectures and under the
// capa_noasm build tag): same IEEE operations in the same order per element
// and per column sum, same NaN, ±Inf and ±0 handling.

// haveSIMD reports whether the CPU (and OS) support the AVX2 kernels.
var haveSIMD = cpu.X86.HasAVX2

// useSIMD selects the AVX2 kernels; tests and benchmarks flip it to compare
// them with the pure-Go ones. It must not change while kernels run.
var useSIMD = haveSIMD

// The assembly kernels. Lengths count float32 elements; n and cols are
// multiples of 8 (cols > 0), and every pointer addresses enough elements.
// Rows are stride elements apart; only their first cols columns are read
// and written.

//go:noescape
func reluAVX2(dst, x *float32, n int)

//go:noescape
func reluBackwardAVX2(dx, y, dy *float32, n int)

//go:noescape
func biasAddAVX2(dst, x, bias *float32, rows, cols, stride int)

//go:noescape
func biasReluAVX2(dst, x, bias *float32, rows, cols, stride int)

//go:noescape
func biasGradAVX2(buf, dy *float32, rows, cols, stride int)

//go:noescape
func biasReluBackwardAVX2(dx, buf, y, dy *float32, rows, cols, stride int)

// The column sums of a block of 32 or 64 columns, accumulated in registers
// (in the same order as through memory).

//go:noescape
func biasGrad32AVX2(buf, dy *float32, rows, stride int)

//go:noescape
func biasGrad64AVX2(buf, dy *float32, rows, stride int)

//go:noescape
func biasReluBackward32AVX2(dx, buf, y, dy *float32, rows, stride int)

//go:noescape
func biasReluBackward64AVX2(dx, buf, y, dy *float32, rows, stride int)

// maxPool2x2AVX2 pools one output row of ow pixels over the channels
// [0, c8) of each: x points at input element i00 (the top-left cell of the
// row's first window), rows are rowStride elements apart, pixels c.
//
//go:noescape
func maxPool2x2AVX2(dst *float32, argmax *int32, x *float32, i00, ow, c, c8, rowStride int)

func relu(d, x []float32) {
	d = d[:len(x)]
	n := 0
	if useSIMD {
		if n = len(x) &^ 7; n > 0 {
			reluAVX2(&d[0], &x[0], n)
		}
	}
	reluGeneric(d[n:], x[n:])
}

func reluBackward(d, y, g []float32) {
	d, g = d[:len(y)], g[:len(y)]
	n := 0
	if useSIMD {
		if n = len(y) &^ 7; n > 0 {
			reluBackwardAVX2(&d[0], &y[0], &g[0], n)
		}
	}
	reluBackwardGeneric(d[n:], y[n:], g[n:])
}

// period is the length of the bias pattern a forward bias kernel repeats
// over the flat data: lcm(len(bias), 8) when that is at most maxPeriod
// (then the whole array is processed as rows of period elements, the bias
// replicated into rep), else 0 (rows of len(bias), their first len(bias)&^7
// columns in assembly and the rest in Go).
const maxPeriod = 64

func period(f int) int {
	p := f
	for p%8 != 0 {
		p += f
	}
	if p > maxPeriod {
		return 0
	}
	return p
}

// biasForward runs a forward bias kernel: asm on what it can, generic on
// the rest.
func biasForward(dst, x, bias []float32, asm func(dst, x, bias *float32, rows, cols, stride int), generic func(dst, x, bias []float32)) {
	f := len(bias)
	if !useSIMD || len(x) < 8 {
		generic(dst, x, bias)
		return
	}
	dst = dst[:len(x)]
	if p := period(f); p > 0 {
		var rep [maxPeriod]float32
		for i := 0; i < p; i += f {
			copy(rep[i:i+f], bias)
		}
		rows := len(x) / p
		if rows > 0 {
			asm(&dst[0], &x[0], &rep[0], rows, p, p)
		}
		done := rows * p // a multiple of f: the rest starts on a row
		generic(dst[done:], x[done:], bias)
		return
	}
	c8 := f &^ 7 // > 0, as f > maxPeriod
	asm(&dst[0], &x[0], &bias[0], len(x)/f, c8, f)
	if c8 < f {
		for r := 0; r < len(x); r += f {
			generic(dst[r+c8:r+f], x[r+c8:r+f], bias[c8:])
		}
	}
}

func biasAdd(dst, x, bias []float32)  { biasForward(dst, x, bias, biasAddAVX2, biasAddGeneric) }
func biasRelu(dst, x, bias []float32) { biasForward(dst, x, bias, biasReluAVX2, biasReluGeneric) }

// The column sums keep the pure-Go order (per column, row after row), so
// they cannot fold a repeated pattern: f < 8 stays in Go.

func biasGrad(buf, dy []float32) {
	f := len(buf)
	c8 := f &^ 7
	if !useSIMD || c8 == 0 || len(dy) == 0 {
		biasGradGeneric(buf, dy)
		return
	}
	rows := len(dy) / f
	j := 0 // columns done
	for ; j+64 <= c8; j += 64 {
		biasGrad64AVX2(&buf[j], &dy[j], rows, f)
	}
	for ; j+32 <= c8; j += 32 {
		biasGrad32AVX2(&buf[j], &dy[j], rows, f)
	}
	if j < c8 {
		biasGradAVX2(&buf[j], &dy[j], rows, c8-j, f)
	}
	if c8 < f {
		for r := 0; r < len(dy); r += f {
			biasGradGeneric(buf[c8:], dy[r+c8:r+f])
		}
	}
}

func biasReluBackward(dx, buf, y, dy []float32) {
	f := len(buf)
	c8 := f &^ 7
	if !useSIMD || c8 == 0 || len(y) == 0 {
		biasReluBackwardGeneric(dx, buf, y, dy)
		return
	}
	dx, dy = dx[:len(y)], dy[:len(y)]
	rows := len(y) / f
	j := 0 // columns done
	for ; j+64 <= c8; j += 64 {
		biasReluBackward64AVX2(&dx[j], &buf[j], &y[j], &dy[j], rows, f)
	}
	for ; j+32 <= c8; j += 32 {
		biasReluBackward32AVX2(&dx[j], &buf[j], &y[j], &dy[j], rows, f)
	}
	if j < c8 {
		biasReluBackwardAVX2(&dx[j], &buf[j], &y[j], &dy[j], rows, c8-j, f)
	}
	if c8 < f {
		for r := 0; r < len(y); r += f {
			biasReluBackwardGeneric(dx[r+c8:r+f], buf[c8:], y[r+c8:r+f], dy[r+c8:r+f])
		}
	}
}

func maxPool2x2(dst, x []float32, p Window, argmax []int32, lo, hi int) {
	c := p.C
	c8 := c &^ 7
	if !useSIMD || c8 == 0 {
		maxPool2x2Generic(dst, x, p, argmax, lo, hi, 0)
		return
	}
	oh, ow := p.OutH(), p.OutW()
	rowStride := p.W * c
	for n := lo; n < hi; n++ {
		for oy := 0; oy < oh; oy++ {
			r0 := (n*p.H + 2*oy) * rowStride
			o := (n*oh + oy) * ow * c
			// The row reads x[r0 : r0+2*rowStride] and writes ow*c outputs:
			// check the ends before handing pointers to the assembly.
			_, _, _ = x[r0+2*rowStride-1], dst[o+ow*c-1], argmax[o+ow*c-1]
			maxPool2x2AVX2(&dst[o], &argmax[o], &x[r0], r0, ow, c, c8, rowStride)
		}
	}
	if c8 < c {
		maxPool2x2Generic(dst, x, p, argmax, lo, hi, c8)
	}
}

//go:noescape
func clampAVX2(dst, x *float32, lo, hi float32, n int)

//go:noescape
func mulAddAVX2(dst, a, b *float32, n int)

//go:noescape
func normAVX2(dst, x, m, s, t *float32, n int)

//go:noescape
func epilogueRowAVX2(dst, m, s, t, r *float32, n, mode int)

// epilogueRow runs a convolution epilogue's steps after the bias on one
// row d: (d-m)*s + t if m is not nil, + r if r is not nil, then ReLU if
// relu (m, s, t and r of d's length when not nil).
func epilogueRow(d, m, s, t, r []float32, relu bool) {
	n := 0
	if useSIMD {
		if n = len(d) &^ 7; n > 0 {
			mode := 0
			pm, ps, pt, pr := &d[0], &d[0], &d[0], &d[0]
			if m != nil {
				mode, pm, ps, pt = 1, &m[0], &s[0], &t[0]
			}
			if r != nil {
				mode, pr = mode|2, &r[0]
			}
			if relu {
				mode |= 4
			}
			epilogueRowAVX2(&d[0], pm, ps, pt, pr, n, mode)
		}
	}
	tail := func(v []float32) []float32 {
		if v == nil {
			return nil
		}
		return v[n:]
	}
	epilogueRowGeneric(d[n:], tail(m), tail(s), tail(t), tail(r), relu)
}

func clamp(d, x []float32, lo, hi float32) {
	d = d[:len(x)]
	n := 0
	if useSIMD {
		if n = len(x) &^ 7; n > 0 {
			clampAVX2(&d[0], &x[0], lo, hi, n)
		}
	}
	clampGeneric(d[n:], x[n:], lo, hi)
}

func mulAdd(d, a, b []float32) {
	d, b = d[:len(a)], b[:len(a)]
	n := 0
	if useSIMD {
		if n = len(a) &^ 7; n > 0 {
			mulAddAVX2(&d[0], &a[0], &b[0], n)
		}
	}
	mulAddGeneric(d[n:], a[n:], b[n:])
}

func norm(d, x, m, s, t []float32) {
	d, m, s, t = d[:len(x)], m[:len(x)], s[:len(x)], t[:len(x)]
	n := 0
	if useSIMD {
		if n = len(x) &^ 7; n > 0 {
			normAVX2(&d[0], &x[0], &m[0], &s[0], &t[0], n)
		}
	}
	normGeneric(d[n:], x[n:], m[n:], s[n:], t[n:])
}

//go:noescape
func maxIntoAVX2(d, s *float32, n int)

func maxInto(d, s []float32) {
	d = d[:len(s)]
	n := 0
	if useSIMD {
		if n = len(s) &^ 7; n > 0 {
			maxIntoAVX2(&d[0], &s[0], n)
		}
	}
	maxIntoGeneric(d[n:], s[n:])
}

//go:noescape
func addIntoAVX2(d, s *float32, n int)

// addInto adds s to d element by element (col2im's scatter).
func addInto(d, s []float32) {
	d = d[:len(s)]
	n := 0
	if useSIMD {
		if n = len(s) &^ 7; n > 0 {
			addIntoAVX2(&d[0], &s[0], n)
		}
	}
	addIntoGeneric(d[n:], s[n:])
}

//go:noescape
func depthwiseTapsAVX2(out, x, k *float32, offs *int, taps, c int)

//go:noescape
func epilogueRowsAVX2(dst, m, s, t, r *float32, n, rows, mode int)

// epilogueRows is epilogueRow over the rows of f values of d, one after
// the other (r, if not nil, laid out as d), in one call of the assembly
// when f is a multiple of 8.
func epilogueRows(d []float32, f int, m, s, t, r []float32, relu bool) {
	if !useSIMD || f%8 != 0 || len(d) == 0 {
		for o := 0; o < len(d); o += f {
			var ro []float32
			if r != nil {
				ro = r[o : o+f]
			}
			epilogueRow(d[o:o+f], m, s, t, ro, relu)
		}
		return
	}
	mode := 0
	pm, ps, pt, pr := &d[0], &d[0], &d[0], &d[0]
	if m != nil {
		mode, pm, ps, pt = 1, &m[0], &s[0], &t[0]
		_, _, _ = m[f-1], s[f-1], t[f-1]
	}
	if r != nil {
		mode, pr = mode|2, &r[0]
		_ = r[len(d)-1]
	}
	if relu {
		mode |= 4
	}
	epilogueRowsAVX2(&d[0], pm, ps, pt, pr, f, len(d)/f, mode)
}
