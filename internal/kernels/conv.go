package kernels

// This file holds the 2-D convolution kernels: im2col over the whole NHWC
// batch followed by one GEMM, so the GEMM output is already NHWC.

// ConvOutLen is the number of elements of the output of a convolution over p
// with f filters, (N, OutH, OutW, f): N*OutH*OutW*f.
func (p Window) ConvOutLen(f int) int { return p.N * p.OutH() * p.OutW() * f }

// checkConv panics with ErrShape unless the lengths match a convolution over
// p with f filters.
func checkConv(p Window, f, xLen, kLen, yLen, colLen int) {
	if f <= 0 || p.KH <= 0 || p.KW <= 0 || p.SH <= 0 || p.SW <= 0 || p.OutH() <= 0 || p.OutW() <= 0 {
		panic(ErrShape)
	}
	if xLen != p.InLen() || kLen != p.KH*p.KW*p.C*f || yLen != p.ConvOutLen(f) || colLen != p.ColLen() {
		panic(ErrShape)
	}
}

// im2col writes the patches of the NHWC batch x into col, one row of
// KH*KW*C values (ordered ky, kx, c, the kernel's layout) per output position
// (n, oy, ox). Positions in the padding are 0.
func im2col(col, x []float32, p Window) { im2colRows(col, x, p, 0, p.N*p.OutH()) }

// im2colRows is im2col for the output rows [r0, r1) of the batch, counted
// over (n, oy): col receives (r1-r0)*OutW matrix rows.
func im2colRows(col, x []float32, p Window, r0, r1 int) {
	oh, ow := p.OutH(), p.OutW()
	c := p.C
	run := p.KW * c // values of one kernel row, contiguous in x when inside
	rowLen := p.KH * run
	r := 0
	for nr := r0; nr < r1; nr++ {
		n, oy := nr/oh, nr%oh
		xn := x[n*p.H*p.W*c : (n+1)*p.H*p.W*c]
		{
			y0 := oy*p.SH - p.PadTop
			for ox := 0; ox < ow; ox++ {
				x0 := ox*p.SW - p.PadLeft
				row := col[r*rowLen : (r+1)*rowLen]
				r++
				o := 0
				inside := x0 >= 0 && x0+p.KW <= p.W
				for ky := 0; ky < p.KH; ky++ {
					iy := y0 + ky
					dst := row[o : o+run]
					o += run
					if iy < 0 || iy >= p.H {
						clear(dst)
						continue
					}
					if inside {
						src := xn[(iy*p.W+x0)*c : (iy*p.W+x0)*c+run]
						if run <= 16 {
							// Short runs (a few pixels of one channel): a
							// loop beats copy's call.
							for i, v := range src {
								dst[i] = v
							}
						} else {
							copy(dst, src)
						}
						continue
					}
					// The run of kx inside the image is contiguous in x.
					kx0, kx1 := max(0, -x0), min(p.KW, p.W-x0)
					if kx0 >= kx1 {
						clear(dst)
						continue
					}
					clear(dst[:kx0*c])
					copy(dst[kx0*c:], xn[(iy*p.W+x0+kx0)*c:(iy*p.W+x0+kx1)*c])
					clear(dst[kx1*c:])
				}
			}
		}
	}
}

// transposedCol reports whether the convolution over p keeps its im2col
// matrix transposed, (KH*KW*C) x (N*OutH*OutW): for one input channel (a
// grayscale first layer) each of its rows is gathered from runs of
// contiguous pixels, where the untransposed rows would be built from runs of
// KW values, and the kernel gradient is then a plain product.
func transposedCol(p Window) bool { return p.C == 1 }

// im2colT writes the transposed im2col matrix of the NHWC batch x (p.C must
// be 1): row (ky, kx) holds x[n, oy*SH-PadTop+ky, ox*SW-PadLeft+kx] for every
// output position (n, oy, ox), 0 in the padding.
func im2colT(col, x []float32, p Window) { im2colTRows(col, x, p, 0, p.N*p.OutH()) }

// im2colTRows is im2colT for the output rows [r0, r1) of the batch, counted
// over (n, oy): each of col's KH*KW rows receives (r1-r0)*OutW values.
// Every value is a copy of a run of contiguous pixels (stride 1), where
// im2colRows would copy runs of KW values.
func im2colTRows(col, x []float32, p Window, r0, r1 int) {
	oh, ow := p.OutH(), p.OutW()
	m := (r1 - r0) * ow
	for ky := 0; ky < p.KH; ky++ {
		for kx := 0; kx < p.KW; kx++ {
			row := col[(ky*p.KW+kx)*m : (ky*p.KW+kx+1)*m]
			// Output columns whose input column is inside the image.
			ox0 := 0
			for ox0 < ow && ox0*p.SW-p.PadLeft+kx < 0 {
				ox0++
			}
			ox1 := ow
			for ox1 > ox0 && (ox1-1)*p.SW-p.PadLeft+kx >= p.W {
				ox1--
			}
			o := 0
			for nr := r0; nr < r1; nr++ {
				n, oy := nr/oh, nr%oh
				xn := x[n*p.H*p.W : (n+1)*p.H*p.W]
				dst := row[o : o+ow]
				o += ow
				iy := oy*p.SH - p.PadTop + ky
				if iy < 0 || iy >= p.H {
					clear(dst)
					continue
				}
				clear(dst[:ox0])
				clear(dst[ox1:])
				if ox0 >= ox1 {
					continue
				}
				base := iy*p.W - p.PadLeft + kx
				if p.SW == 1 {
					copy(dst[ox0:ox1], xn[base+ox0:base+ox1])
					continue
				}
				for ox := ox0; ox < ox1; ox++ {
					dst[ox] = xn[base+ox*p.SW]
				}
			}
		}
	}
}

// addIntoGeneric adds s to d element by element: addInto's pure Go.
func addIntoGeneric(d, s []float32) {
	d = d[:len(s)]
	for i, v := range s {
		d[i] += v
	}
}

// col2im adds each row of col back into the NHWC batch dx at the positions
// it was gathered from by im2col; padded positions are dropped. dx is not
// cleared.
func col2im(dx, col []float32, p Window) {
	oh, ow := p.OutH(), p.OutW()
	c := p.C
	rowLen := p.KH * p.KW * c
	r := 0
	for n := 0; n < p.N; n++ {
		dn := dx[n*p.H*p.W*c : (n+1)*p.H*p.W*c]
		for oy := 0; oy < oh; oy++ {
			y0 := oy*p.SH - p.PadTop
			for ox := 0; ox < ow; ox++ {
				x0 := ox*p.SW - p.PadLeft
				row := col[r*rowLen : (r+1)*rowLen]
				r++
				kx0, kx1 := max(0, -x0), min(p.KW, p.W-x0)
				if kx0 >= kx1 {
					continue
				}
				for ky := 0; ky < p.KH; ky++ {
					iy := y0 + ky
					if iy < 0 || iy >= p.H {
						continue
					}
					src := row[(ky*p.KW+kx0)*c : (ky*p.KW+kx1)*c]
					addInto(dn[(iy*p.W+x0+kx0)*c:(iy*p.W+x0+kx1)*c], src)
				}
			}
		}
	}
}

// Conv2DTo writes into dst the convolution (cross-correlation, as in Keras)
// of the NHWC batch x (N, H, W, C) with f filters kernel (KH, KW, C, f) over
// the window p: dst is NHWC (N, OutH, OutW, f), with
//
//	dst[n, oy, ox, j] = sum over ky, kx, c of
//	    x[n, oy*SH-PadTop+ky, ox*SW-PadLeft+kx, c] * kernel[ky, kx, c, j]
//
// where positions in the padding read 0. col is scratch of length p.ColLen()
// (the im2col matrix); its contents are overwritten, and nothing is
// allocated. dst must not alias x, kernel or col. The epilogue ep (the
// zero Epilogue for none) then runs on each chunk of dst's rows.
//
// Conv2DTo panics with ErrShape if len(x) != p.InLen(), len(kernel) !=
// KH*KW*C*f, len(dst) != p.ConvOutLen(f), len(col) != p.ColLen() or the
// window is empty.
func Conv2DTo(dst, x, kernel []float32, p Window, f int, col []float32, ep Epilogue) {
	checkConv(p, f, len(x), len(kernel), len(dst), len(col))
	ep.check(f, len(dst))
	rows, k, in := p.OutH()*p.OutW(), p.KH*p.KW*p.C, p.H*p.W*p.C
	if transposedCol(p) {
		forRange(p.N, 1, func(lo, hi int) {
			q := p
			q.N = hi - lo
			c, mq := col[lo*rows*k:hi*rows*k], q.N*rows
			im2colT(c, x[lo*in:hi*in], q)
			Gemm(true, false, mq, f, k, 1, c, mq, kernel, f, 0, dst[lo*rows*f:hi*rows*f], f)
			ep.apply(dst[lo*rows*f:hi*rows*f], f, lo*rows*f)
		})
		return
	}
	// Parts are ranges of output rows (n, oy), so that even one large image
	// is shared among the workers.
	ow := p.OutW()
	// Each worker's rows go in chunks, as in Conv2DStreamTo, so that a
	// chunk of col is in cache when the product reads it and a chunk of
	// dst when the epilogue does; col is still kept whole.
	chunk := streamRows(p)
	forRange(p.N*p.OutH(), 1, func(lo, hi int) {
		for r := lo; r < hi; r += chunk {
			re := min(r+chunk, hi)
			d := dst[r*ow*f : re*ow*f]
			convChunk(d, x, kernel, p, f, col[r*ow*k:], r, re)
			ep.apply(d, f, r*ow*f)
		}
	})
}

// Conv2DBackwardDataTo writes into dx (NHWC, (N, H, W, C)) the gradient of
// the loss with respect to the input of Conv2DTo, given dy (NHWC, (N, OutH,
// OutW, f)), the gradient with respect to its output: the im2col matrix
// gradient dcol = dy·kernelᵀ is scattered back (col2im) and accumulated into
// dx, which is zeroed first. col is scratch of length p.ColLen(). dx must not
// alias dy, kernel or col.
//
// It panics with ErrShape on the same conditions as Conv2DTo (dx in the
// place of x, dy in the place of dst).
func Conv2DBackwardDataTo(dx, dy, kernel []float32, p Window, f int, col []float32) {
	checkConv(p, f, len(dx), len(kernel), len(dy), len(col))
	rows, k, in := p.OutH()*p.OutW(), p.KH*p.KW*p.C, p.H*p.W*p.C
	forRange(p.N, 1, func(lo, hi int) {
		q := p
		q.N = hi - lo
		c := col[lo*rows*k : hi*rows*k]
		Gemm(false, true, q.N*rows, k, f, 1, dy[lo*rows*f:hi*rows*f], f, kernel, f, 0, c, k)
		d := dx[lo*in : hi*in]
		clear(d)
		col2im(d, c, q)
	})
}

// Conv2DBackwardFilterTo writes into dw ((KH, KW, C, f)) the gradient of the
// loss with respect to the kernel of Conv2DTo, given its NHWC input x and dy
// (NHWC, (N, OutH, OutW, f)), the gradient with respect to its output:
// dw = colᵀ·dy with col = im2col(x). col is scratch of length p.ColLen(). dw
// must not alias x, dy or col.
//
// It panics with ErrShape on the same conditions as Conv2DTo (dw in the place
// of kernel, dy in the place of dst).
func Conv2DBackwardFilterTo(dw, x, dy []float32, p Window, f int, col []float32) {
	checkConv(p, f, len(x), len(dw), len(dy), len(col))
	rows, k, in := p.OutH()*p.OutW(), p.KH*p.KW*p.C, p.H*p.W*p.C
	forRange(p.N, 1, func(lo, hi int) {
		q := p
		q.N = hi - lo
		if transposedCol(p) {
			im2colT(col[lo*rows*k:hi*rows*k], x[lo*in:hi*in], q)
		} else {
			im2col(col[lo*rows*k:hi*rows*k], x[lo*in:hi*in], q)
		}
	})
	Conv2DBackwardFilterFromColTo(dw, dy, p, f, col)
}

// Conv2DBackwardFilterFromColTo is Conv2DBackwardFilterTo for a col that
// already holds the im2col matrix of x, as Conv2DTo leaves it (transposed
// for one input channel): it skips the im2col.
// It panics with ErrShape if len(dw), len(dy) or len(col) do not match p.
func Conv2DBackwardFilterFromColTo(dw, dy []float32, p Window, f int, col []float32) {
	checkConv(p, f, p.InLen(), len(dw), len(dy), len(col))
	rows, k := p.OutH()*p.OutW(), p.KH*p.KW*p.C
	reduceParts(dw, p.N, 1, func(buf []float32, lo, hi int) {
		c, mq := col[lo*rows*k:hi*rows*k], (hi-lo)*rows
		if transposedCol(p) {
			Gemm(false, false, k, f, mq, 1, c, mq, dy[lo*rows*f:hi*rows*f], f, 0, buf, f)
			return
		}
		Gemm(true, false, k, f, mq, 1, c, k, dy[lo*rows*f:hi*rows*f], f, 0, buf, f)
	})
}

// streamChunkBytes bounds the im2col chunk of one worker in
// Conv2DStreamTo, so that it is still in cache when the product reads it.
const streamChunkBytes = 2 << 20

// streamRows is the number of output rows (n, oy) per chunk: what fits in
// streamChunkBytes, but at least 512 matrix rows so the products stay
// efficient.
func streamRows(p Window) int {
	ow := p.OutW()
	return max(1, streamChunkBytes/(4*ow*p.KH*p.KW*p.C), (512+ow-1)/ow)
}

// splitColumns reports whether a product of m rows by f filters is better
// shared among the workers by filters than by rows: when each worker's
// rows would be too few for the BLAS's register blocking to be efficient
// and there are filters enough for every worker.
func splitColumns(m, f int) bool {
	return workers > 1 && m < 64*workers && f >= 64*workers
}

// gemmColumns computes dst (m, f) = a (m, k) · kernel (k, f), the workers
// taking blocks of the f columns (multiples of 16).
func gemmColumns(m, f, k int, a, kernel, dst []float32) {
	blocks := (f + 15) / 16
	forRange(blocks, 1, func(lo, hi int) {
		j0, j1 := lo*16, min(hi*16, f)
		Gemm(false, false, m, j1-j0, k, 1, a, k, kernel[j0:], f, 0, dst[j0:], f)
	})
}

// gemmShared computes dst (m, f) = a (m, k) · kernel (k, f), the workers
// taking blocks of columns when splitColumns says so, else ranges of rows.
func gemmShared(m, f, k int, a, kernel, dst []float32) {
	if splitColumns(m, f) {
		gemmColumns(m, f, k, a, kernel, dst)
		return
	}
	forRange(m, 1, func(lo, hi int) {
		Gemm(false, false, hi-lo, f, k, 1, a[lo*k:hi*k], k, kernel, f, 0, dst[lo*f:hi*f], f)
	})
}

// epilogueChunk is the values of output that a pointwise convolution
// multiplies at a time before its epilogue runs over them in cache.
var epilogueChunk = 1 << 15

// pointwiseTo computes dst (m, f) = x (m, k) · kernel (k, f) and its
// epilogue. With an epilogue, each worker multiplies its rows in chunks
// (whole 14-row tiles of the microkernel) and runs the epilogue on each
// while it is in cache; otherwise, or when the workers share the columns,
// as gemmShared.
func pointwiseTo(dst, x, kernel []float32, m, f, k int, ep Epilogue) {
	if ep.none() || splitColumns(m, f) {
		gemmShared(m, f, k, x, kernel, dst)
		ep.applyRows(dst, f)
		return
	}
	chunk := max(14, epilogueChunk/f/14*14)
	forRange(m, 1, func(lo, hi int) {
		for r := lo; r < hi; r += chunk {
			re := min(r+chunk, hi)
			d := dst[r*f : re*f]
			Gemm(false, false, re-r, f, k, 1, x[r*k:re*k], k, kernel, f, 0, d, f)
			ep.apply(d, f, r*f)
		}
	})
}

// singlePixel reports whether p maps a 1x1 input to a 1x1 output through
// padding (a 3x3 "same" convolution late in a network on small images):
// one tap of the kernel, (PadTop, PadLeft), sees the pixel.
func singlePixel(p Window) bool {
	return p.H == 1 && p.W == 1 && p.OutH() == 1 && p.OutW() == 1 && p.PadTop < p.KH && p.PadLeft < p.KW && !pointwise(p)
}

// pointwise reports whether p is a 1x1 window of stride 1 without padding,
// whose im2col matrix is the input itself.
func pointwise(p Window) bool {
	return p.KH == 1 && p.KW == 1 && p.SH == 1 && p.SW == 1 && p.PadTop == 0 && p.PadLeft == 0 && p.PadBottom == 0 && p.PadRight == 0
}

// StreamScratchLen is the scratch length Conv2DStreamTo needs: one im2col
// chunk per worker (none for a pointwise convolution).
func (p Window) StreamScratchLen() int {
	if pointwise(p) || singlePixel(p) {
		return 0 // the input is the matrix
	}
	return Workers() * min(streamRows(p), p.N*p.OutH()) * p.OutW() * p.KH * p.KW * p.C
}

// Conv2DStreamTo computes the same convolution as Conv2DTo without keeping
// the whole im2col matrix: each worker gathers a few output rows at a time
// into its chunk of scratch (p.StreamScratchLen() values) and multiplies it
// at once, while it is in cache. Use it when the kernel's gradient will not
// need the im2col matrix (inference). The epilogue ep runs on each chunk
// of dst's rows after its product. dst must not alias x, kernel or
// scratch. It panics with ErrShape on the conditions of Conv2DTo, scratch
// in the place of col.
func Conv2DStreamTo(dst, x, kernel []float32, p Window, f int, scratch []float32, ep Epilogue) {
	if len(scratch) != p.StreamScratchLen() {
		panic(ErrShape)
	}
	checkConv(p, f, len(x), len(kernel), len(dst), p.ColLen())
	ep.check(f, len(dst))
	rows, ow, k := p.N*p.OutH(), p.OutW(), p.KH*p.KW*p.C
	if singlePixel(p) {
		// A 1x1 map padded to its one output pixel: only the kernel's tap
		// over the pixel sees data, the product of x (N, C) by that tap's
		// (C, f) slice, the other taps multiplying padding.
		tap := kernel[(p.PadTop*p.KW+p.PadLeft)*p.C*f : (p.PadTop*p.KW+p.PadLeft+1)*p.C*f]
		gemmShared(p.N, f, p.C, x, tap, dst)
		ep.applyRows(dst, f)
		return
	}
	if pointwise(p) {
		// A 1x1 convolution of stride 1 without padding is one product of
		// x itself, (N*H*W, C), by the kernel: no gathering.
		pointwiseTo(dst, x, kernel, rows*ow, f, k, ep)
		return
	}
	chunk := min(streamRows(p), rows)
	if chunk == rows && splitColumns(rows*ow, f) {
		// Few output pixels (a small map late in a network) and many
		// filters: the whole im2col matrix fits in one chunk, and the
		// workers share the filters rather than the few rows.
		c := scratch[:rows*ow*k]
		forRange(rows, 1, func(lo, hi int) { im2colRows(c[lo*ow*k:hi*ow*k], x, p, lo, hi) })
		gemmColumns(rows*ow, f, k, c, kernel, dst)
		ep.applyRows(dst, f)
		return
	}
	per := chunk * ow * k
	w := min(workers, rows)
	// Parts are assigned to workers explicitly so that each owns one chunk
	// of scratch.
	forRange(w, 1, func(lo, hi int) {
		for wi := lo; wi < hi; wi++ {
			c := scratch[wi*per : (wi+1)*per]
			r0, r1 := wi*rows/w, (wi+1)*rows/w
			for r := r0; r < r1; r += chunk {
				re := min(r+chunk, r1)
				d := dst[r*ow*f : re*ow*f]
				convChunkStream(d, x, kernel, p, f, c, r, re)
				ep.apply(d, f, r*ow*f)
			}
		}
	})
}

// convChunkStream is convChunk for callers that do not keep the im2col
// matrix (inference): the implicit GEMM when implicitConv allows it, with
// col untouched.
func convChunkStream(y, x, kernel []float32, p Window, f int, col []float32, r, re int) {
	if ker := implicitConv(p, f); ker != nil {
		convImplicit(ker, y, x, kernel, p, f, r, re)
		return
	}
	convChunk(y, x, kernel, p, f, col, r, re)
}

// convChunk computes into y the convolution's output rows [r, re), counted
// over (n, oy), gathering their im2col matrix into the front of col
// (transposed for one input channel, see im2colTRows), on the calling
// goroutine.
func convChunk(y, x, kernel []float32, p Window, f int, col []float32, r, re int) {
	m, k := (re-r)*p.OutW(), p.KH*p.KW*p.C
	cc := col[:m*k]
	if transposedCol(p) {
		im2colTRows(cc, x, p, r, re)
		Gemm(true, false, m, f, k, 1, cc, m, kernel, f, 0, y, f)
		return
	}
	im2colRows(cc, x, p, r, re)
	Gemm(false, false, m, f, k, 1, cc, k, kernel, f, 0, y, f)
}

// Epilogue is what a convolution does to its output after the product, on
// each block of output rows as soon as it is computed, while the block is
// still in cache, in this order: add Bias (one value per filter; nil for
// none); normalize each filter's values as an inference batch
// normalization, (y-Mean)*Scale + Shift (Scale = gamma/sqrt(var+epsilon),
// see BatchNormScaleTo; Shift = beta; all three nil for none); add
// Residual (one value per output value, the whole output's layout; nil for
// none: a residual connection); then take max(·, 0) if Relu is set, and
// bound the values to Clamp's interval if it is set. The
// zero Epilogue leaves the product as it is. The results are those of
// BiasAddTo, BatchNormTo, SumTo, ReluTo and ClampTo applied afterwards, bit for
// bit. The convolutions panic with ErrShape if Bias, Mean, Scale or Shift
// is neither nil nor of one value per filter (the last three are set
// together), or Residual neither nil nor of the output's length.
type Epilogue struct {
	Bias               []float32
	Mean, Scale, Shift []float32
	Residual           []float32
	Relu               bool
	// Clamp, if set, bounds the values last to [Clamp[0], Clamp[1]] as
	// ClampTo does (ReLU6 is the clamp to [0, 6]).
	Clamp *[2]float32
}

// none reports whether e leaves the product as it is.
func (e Epilogue) none() bool {
	return e.Bias == nil && e.Mean == nil && e.Residual == nil && !e.Relu && e.Clamp == nil
}

// check panics with ErrShape unless the epilogue fits f filters and an
// output of n values.
func (e Epilogue) check(f, n int) {
	if e.Bias != nil && len(e.Bias) != f {
		panic(ErrShape)
	}
	if (e.Mean != nil || e.Scale != nil || e.Shift != nil) && (len(e.Mean) != f || len(e.Scale) != f || len(e.Shift) != f) {
		panic(ErrShape)
	}
	if e.Residual != nil && len(e.Residual) != n {
		panic(ErrShape)
	}
}

// apply runs the epilogue over y, whole rows of f values starting at
// output value off, on the calling goroutine.
func (e Epilogue) apply(y []float32, f, off int) {
	e.applyOps(y, f, off)
	if e.Clamp != nil {
		clamp(y, y, e.Clamp[0], e.Clamp[1])
	}
}

// applyOps is apply but for the clamp.
func (e Epilogue) applyOps(y []float32, f, off int) {
	if e.Mean == nil && e.Residual == nil {
		switch {
		case e.Bias != nil && e.Relu:
			biasRelu(y, y, e.Bias)
		case e.Bias != nil:
			biasAdd(y, y, e.Bias)
		case e.Relu:
			relu(y, y)
		}
		return
	}
	if e.Bias != nil {
		biasAdd(y, y, e.Bias)
	}
	var r []float32
	if e.Residual != nil {
		r = e.Residual[off : off+len(y)]
	}
	epilogueRows(y, f, e.Mean, e.Scale, e.Shift, r, e.Relu)
}

// applyRows runs the epilogue over y, the whole output of rows of f
// values, the workers sharing the rows.
func (e Epilogue) applyRows(y []float32, f int) {
	if e.none() {
		return
	}
	forRange(len(y)/f, 1<<14/f+1, func(lo, hi int) { e.apply(y[lo*f:hi*f], f, lo*f) })
}
