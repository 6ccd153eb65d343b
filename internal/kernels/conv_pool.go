package kernels

// This file holds the convolution fused with the max pooling after it, for
// inference: each worker convolves a few rows of pooling windows into its
// own scratch, runs the epilogue and pools them there, so the full-size
// convolution output never leaves the cache. On the practical's CNN the
// first convolution's output is 4 times its pooled size and was written to
// memory and read back.

// ConvPoolFuses reports whether Conv2DMaxPoolTo computes the convolution
// over p with f filters followed by the max pooling over q, whose input is
// the convolution's output (q.N, q.H, q.W, q.C equal to p.N, p.OutH(),
// p.OutW(), f): the convolution is one that Conv2DStreamTo gathers in
// chunks (not a pointwise one, a single padded pixel, nor one that
// UseWinograd gives to Winograd's algorithm), and the pooling windows tile
// the rows: no padding, row stride equal to the window's height, which
// divides q.H. Widths are free (stride, size, dropped columns).
func ConvPoolFuses(p Window, f int, q Window) bool {
	if q.N != p.N || q.H != p.OutH() || q.W != p.OutW() || q.C != f || f <= 0 {
		return false
	}
	if q.KH <= 0 || q.KW <= 0 || q.SW <= 0 || q.SH != q.KH || q.H%q.KH != 0 || q.OutW() <= 0 {
		return false
	}
	if q.PadTop != 0 || q.PadBottom != 0 || q.PadLeft != 0 || q.PadRight != 0 {
		return false
	}
	return !pointwise(p) && !singlePixel(p) && !UseWinograd(p, f)
}

// convPoolGeom is the chunking of Conv2DMaxPoolTo: units are rows of
// pooling windows, q.KH rows of the convolution's output each.
type convPoolGeom struct {
	units, chunk int // units in the batch, units per chunk
	col, out     int // scratch values per worker: im2col chunk, conv output chunk
}

func newConvPoolGeom(p Window, f int, q Window) convPoolGeom {
	units := p.N * p.OutH() / q.KH
	chunk := min(max(1, streamRows(p)/q.KH), units)
	rows := chunk * q.KH * p.OutW()
	return convPoolGeom{units: units, chunk: chunk, col: rows * p.KH * p.KW * p.C, out: rows * f}
}

// ConvPoolScratchLen is the scratch length Conv2DMaxPoolTo needs: an
// im2col chunk and a convolution output chunk per worker.
func (p Window) ConvPoolScratchLen(f int, q Window) int {
	g := newConvPoolGeom(p, f, q)
	return Workers() * (g.col + g.out)
}

// Conv2DMaxPoolTo writes into dst (q.N, q.OutH(), q.OutW(), f) the max
// pooling over q of the convolution of x by kernel over p, with the
// epilogue ep: the values of Conv2DStreamTo followed by MaxPoolValuesTo
// (bit for bit with Capa's sgemm; products thin enough to go to OpenBLAS
// may round differently, as its blocking follows the chunks), without the convolution's full output. scratch holds
// p.ConvPoolScratchLen(f, q) values, overwritten. dst must not alias x,
// kernel or scratch. It panics with ErrShape unless ConvPoolFuses(p, f, q)
// and the lengths match.
func Conv2DMaxPoolTo(dst, x, kernel []float32, p Window, f int, q Window, ep Epilogue, scratch []float32) {
	if !ConvPoolFuses(p, f, q) || len(scratch) != p.ConvPoolScratchLen(f, q) || len(dst) != q.OutLen() {
		panic(ErrShape)
	}
	checkConv(p, f, len(x), len(kernel), p.ConvOutLen(f), p.ColLen())
	ep.check(f, p.ConvOutLen(f))
	g := newConvPoolGeom(p, f, q)
	ow, pw := p.OutW(), q.OutW()
	two := pool2x2(q)
	var am *[]int32
	if two {
		am = winners.Get().(*[]int32)
		if cap(*am) < len(dst) {
			*am = make([]int32, len(dst))
		}
		defer winners.Put(am)
	}
	w := min(workers, g.units)
	forRange(w, 1, func(lo, hi int) {
		for wi := lo; wi < hi; wi++ {
			s := scratch[wi*(g.col+g.out) : (wi+1)*(g.col+g.out)]
			col, out := s[:g.col], s[g.col:]
			u0, u1 := wi*g.units/w, (wi+1)*g.units/w
			for u := u0; u < u1; u += g.chunk {
				ue := min(u+g.chunk, u1)
				r, re := u*q.KH, ue*q.KH // rows (n, oy) of the convolution
				y := out[:(re-r)*ow*f]
				convChunkStream(y, x, kernel, p, f, col, r, re)
				ep.apply(y, f, r*ow*f)
				// The chunk is ue-u strips of q.KH rows, each one row of
				// pooling windows.
				strip := Window{N: ue - u, H: q.KH, W: q.W, C: f, KH: q.KH, KW: q.KW, SH: q.SH, SW: q.SW}
				d := dst[u*pw*f : ue*pw*f]
				if two {
					maxPool2x2(d, y, strip, (*am)[u*pw*f:ue*pw*f], 0, strip.N)
				} else {
					maxPoolValuesRows(d, y, strip, 0, strip.N)
				}
			}
		}
	})
}
