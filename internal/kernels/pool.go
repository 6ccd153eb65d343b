package kernels

import (
	"math"
	"sync"
)

// This file holds the 2-D pooling kernels over NHWC batches. The window of
// output (oy, ox) covers the input rows oy*SH-PadTop .. +KH-1 and columns
// ox*SW-PadLeft .. +KW-1; only the cells inside the image (the "real" cells)
// take part, as in Keras/TensorFlow: padding never wins a max and is not
// counted by an average.

// checkPool panics with ErrShape unless the lengths match pooling over p.
func checkPool(p Window, inLen, outLen int) {
	if p.KH <= 0 || p.KW <= 0 || p.SH <= 0 || p.SW <= 0 || p.OutH() <= 0 || p.OutW() <= 0 {
		panic(ErrShape)
	}
	if inLen != p.InLen() || outLen != p.OutLen() {
		panic(ErrShape)
	}
}

// span returns the range [lo, hi) of input indices along one axis covered by
// the window starting at start (which may be negative), clipped to [0, size).
func span(start, k, size int) (lo, hi int) {
	return max(start, 0), min(start+k, size)
}

// MaxPoolTo writes into dst (NHWC, (N, OutH, OutW, C)) the maximum of each
// window of the NHWC batch x over p, per channel, and into argmax the index
// in x of the winning cell (the first one in row-major window order on
// ties). A window holding no real cell (possible only when a padding is at
// least the window size) yields 0 and argmax -1. dst must not alias x.
//
// MaxPoolTo panics with ErrShape if len(x) != p.InLen(), len(dst) !=
// p.OutLen(), len(argmax) != len(dst) or the window is empty.
func MaxPoolTo(dst, x []float32, p Window, argmax []int32) {
	checkPool(p, len(x), len(dst))
	if len(argmax) != len(dst) || p.InLen() > math.MaxInt32 {
		panic(ErrShape)
	}
	if pool2x2(p) {
		forRange(p.N, 1, func(lo, hi int) { maxPool2x2(dst, x, p, argmax, lo, hi) })
		return
	}
	forRange(p.N, 1, func(lo, hi int) { maxPool(dst, x, p, argmax, lo, hi) })
}

// pool2x2 reports whether p is the 2x2 window of stride 2 without padding,
// which has its own kernel.
func pool2x2(p Window) bool {
	return p.KH == 2 && p.KW == 2 && p.SH == 2 && p.SW == 2 && p.PadTop == 0 && p.PadLeft == 0 && p.PadBottom == 0 && p.PadRight == 0
}

// winners lends MaxPoolValuesTo the argmax buffer of the 2x2 kernel.
var winners = sync.Pool{New: func() any { return new([]int32) }}

// MaxPoolValuesTo writes the same maxima as MaxPoolTo into dst without
// recording the winners (inference, where no gradient will need them),
// with vector maxima and the output rows (n, oy) shared among the workers.
// Its values are MaxPoolTo's bit for bit (ties and NaNs included).
func MaxPoolValuesTo(dst, x []float32, p Window) {
	checkPool(p, len(x), len(dst))
	if pool2x2(p) && p.InLen() <= math.MaxInt32 {
		// The 2x2 kernel is faster even with its winners, into a lent
		// buffer.
		am := winners.Get().(*[]int32)
		if cap(*am) < len(dst) {
			*am = make([]int32, len(dst))
		}
		forRange(p.N, 1, func(lo, hi int) { maxPool2x2(dst, x, p, (*am)[:len(dst)], lo, hi) })
		winners.Put(am)
		return
	}
	forRange(p.N*p.OutH(), 1, func(lo, hi int) { maxPoolValuesRows(dst, x, p, lo, hi) })
}

// maxPoolValuesRows is MaxPoolValuesTo's general kernel for the output
// rows [lo, hi), counted over (n, oy), on the calling goroutine.
func maxPoolValuesRows(dst, x []float32, p Window, lo, hi int) {
	oh, ow, c := p.OutH(), p.OutW(), p.C
	for row := lo; row < hi; row++ {
		n, oy := row/oh, row%oh
		base := n * p.H * p.W * c
		y0, y1 := span(oy*p.SH-p.PadTop, p.KH, p.H)
		for ox := 0; ox < ow; ox++ {
			x0, x1 := span(ox*p.SW-p.PadLeft, p.KW, p.W)
			o := (row*ow + ox) * c
			d := dst[o : o+c]
			if y0 >= y1 || x0 >= x1 {
				clear(d)
				continue
			}
			for iy := y0; iy < y1; iy++ {
				for ix := x0; ix < x1; ix++ {
					off := base + (iy*p.W+ix)*c
					if iy == y0 && ix == x0 {
						copy(d, x[off:off+c])
						continue
					}
					maxInto(d, x[off:off+c])
				}
			}
		}
	}
}

// maxIntoGeneric sets d[i] to s[i] where s[i] > d[i] (the first maximum
// stays on ties; a NaN in d stays, one in s is passed over): maxInto's
// pure Go and the reference of its assembly.
func maxIntoGeneric(d, s []float32) {
	d = d[:len(s)]
	for i, v := range s {
		if v > d[i] {
			d[i] = v
		}
	}
}

// maxPool2x2Generic is maxPool for the common 2x2 window with stride 2 and
// no padding (odd last rows or columns are dropped, as "valid" does), for
// the channels [c0, C) only: four contiguous channel vectors per output,
// compared without branches. It is the pure-Go fallback of maxPool2x2 and
// the reference of its assembly.
func maxPool2x2Generic(dst, x []float32, p Window, argmax []int32, lo, hi, c0 int) {
	oh, ow, c := p.OutH(), p.OutW(), p.C
	rowStride := p.W * c
	o := lo*oh*ow*c + c0
	for n := lo; n < hi; n++ {
		base := n * p.H * rowStride
		for oy := 0; oy < oh; oy++ {
			r0 := base + 2*oy*rowStride + c0
			for ox := 0; ox < ow; ox++ {
				i00 := r0 + 2*ox*c
				i01, i10 := i00+c, i00+rowStride
				i11 := i10 + c
				a, b, cc, d := x[i00:i00+c-c0], x[i01:i01+c-c0], x[i10:i10+c-c0], x[i11:i11+c-c0]
				out, am := dst[o:o+c-c0], argmax[o:o+c-c0]
				b, cc, d, out, am = b[:len(a)], cc[:len(a)], d[:len(a)], out[:len(a)], am[:len(a)]
				o += c
				for j, v := range a {
					// The first strict maximum in window order (00, 01,
					// 10, 11) wins, as in the general kernel; selects are
					// branch-free (random data mispredicts branches).
					best, idx := v, int32(i00+j)
					best, idx = sel(best, idx, b[j], int32(i01+j))
					best, idx = sel(best, idx, cc[j], int32(i10+j))
					best, idx = sel(best, idx, d[j], int32(i11+j))
					out[j], am[j] = best, idx
				}
			}
		}
	}
}

// maxPool is MaxPoolTo for samples [lo, hi).
func maxPool(dst, x []float32, p Window, argmax []int32, lo, hi int) {
	oh, ow, c := p.OutH(), p.OutW(), p.C
	o := lo * oh * ow * c
	for n := lo; n < hi; n++ {
		base := n * p.H * p.W * c
		for oy := 0; oy < oh; oy++ {
			y0, y1 := span(oy*p.SH-p.PadTop, p.KH, p.H)
			for ox := 0; ox < ow; ox++ {
				x0, x1 := span(ox*p.SW-p.PadLeft, p.KW, p.W)
				d := dst[o : o+c]
				am := argmax[o : o+c]
				o += c
				if y0 >= y1 || x0 >= x1 {
					clear(d)
					for i := range am {
						am[i] = -1
					}
					continue
				}
				first := true
				for iy := y0; iy < y1; iy++ {
					for ix := x0; ix < x1; ix++ {
						off := base + (iy*p.W+ix)*c
						src := x[off : off+c]
						if first {
							copy(d, src)
							for i := range am {
								am[i] = int32(off + i)
							}
							first = false
							continue
						}
						d, am := d[:len(src)], am[:len(src)] // bounds-check hints
						for i, v := range src {
							// Branch-free select (random data would
							// mispredict a branch half the time).
							cb := math.Float32bits(d[i])
							var m uint32
							if v > d[i] {
								m = ^uint32(0)
							}
							d[i] = math.Float32frombits(cb ^ (cb^math.Float32bits(v))&m)
							am[i] ^= (am[i] ^ int32(off+i)) & int32(m)
						}
					}
				}
			}
		}
	}
}

// MaxPoolBackwardTo writes into dx (NHWC, (N, H, W, C)) the gradient of the
// loss with respect to the input of MaxPoolTo: dx is zeroed, then each dy[i]
// is added to dx[argmax[i]] (entries with argmax -1 are skipped). argmax is
// the one recorded by the forward pass. dx must not alias dy.
//
// It panics with ErrShape if len(dx) != p.InLen(), len(dy) != p.OutLen(),
// len(argmax) != len(dy), or (index out of range) if argmax holds an index
// outside dx.
func MaxPoolBackwardTo(dx, dy []float32, argmax []int32, p Window) {
	checkPool(p, len(dx), len(dy))
	if len(argmax) != len(dy) {
		panic(ErrShape)
	}
	out, in := p.OutH()*p.OutW()*p.C, p.H*p.W*p.C
	forRange(p.N, 1, func(lo, hi int) {
		// The argmax of a sample's outputs point into that sample's input.
		clear(dx[lo*in : hi*in])
		for i := lo * out; i < hi*out; i++ {
			if j := argmax[i]; j >= 0 {
				dx[j] += dy[i]
			}
		}
	})
}

// AvgPoolTo writes into dst (NHWC, (N, OutH, OutW, C)) the mean of each
// window of the NHWC batch x over p, per channel, dividing by the number of
// real (non-padded) cells of the window (TensorFlow's SAME, PyTorch's
// count_include_pad=False). A window holding no real cell yields 0. dst must
// not alias x.
//
// AvgPoolTo panics with ErrShape if len(x) != p.InLen(), len(dst) !=
// p.OutLen() or the window is empty.
func AvgPoolTo(dst, x []float32, p Window) {
	checkPool(p, len(x), len(dst))
	oh, ow, c := p.OutH(), p.OutW(), p.C
	o := 0
	for n := 0; n < p.N; n++ {
		base := n * p.H * p.W * c
		for oy := 0; oy < oh; oy++ {
			y0, y1 := span(oy*p.SH-p.PadTop, p.KH, p.H)
			for ox := 0; ox < ow; ox++ {
				x0, x1 := span(ox*p.SW-p.PadLeft, p.KW, p.W)
				d := dst[o : o+c]
				o += c
				clear(d)
				cnt := max(y1-y0, 0) * max(x1-x0, 0)
				if cnt == 0 {
					continue
				}
				for iy := y0; iy < y1; iy++ {
					for ix := x0; ix < x1; ix++ {
						off := base + (iy*p.W+ix)*c
						for i, v := range x[off : off+c] {
							d[i] += v
						}
					}
				}
				inv := 1 / float32(cnt)
				for i := range d {
					d[i] *= inv
				}
			}
		}
	}
}

// AvgPoolBackwardTo writes into dx (NHWC, (N, H, W, C)) the gradient of the
// loss with respect to the input of AvgPoolTo, given dy (NHWC, (N, OutH,
// OutW, C)): dx is zeroed, then each dy is spread evenly over the real cells
// of its window. dx must not alias dy.
//
// It panics with ErrShape if len(dx) != p.InLen(), len(dy) != p.OutLen() or
// the window is empty.
func AvgPoolBackwardTo(dx, dy []float32, p Window) {
	checkPool(p, len(dx), len(dy))
	clear(dx)
	oh, ow, c := p.OutH(), p.OutW(), p.C
	o := 0
	for n := 0; n < p.N; n++ {
		base := n * p.H * p.W * c
		for oy := 0; oy < oh; oy++ {
			y0, y1 := span(oy*p.SH-p.PadTop, p.KH, p.H)
			for ox := 0; ox < ow; ox++ {
				x0, x1 := span(ox*p.SW-p.PadLeft, p.KW, p.W)
				g := dy[o : o+c]
				o += c
				cnt := max(y1-y0, 0) * max(x1-x0, 0)
				if cnt == 0 {
					continue
				}
				inv := 1 / float32(cnt)
				for iy := y0; iy < y1; iy++ {
					for ix := x0; ix < x1; ix++ {
						off := base + (iy*p.W+ix)*c
						d := dx[off : off+c]
						for i, v := range g {
							d[i] += v * inv
						}
					}
				}
			}
		}
	}
}

// sel returns (w, wi) if w > best, else (best, bi), without a branch.
func sel(best float32, bi int32, w float32, wi int32) (float32, int32) {
	var m uint32
	if w > best {
		m = ^uint32(0)
	}
	bb := math.Float32bits(best)
	return math.Float32frombits(bb ^ (bb^math.Float32bits(w))&m), bi ^ (bi^wi)&int32(m)
}
