package kernels

// Depthwise convolution (Keras's DepthwiseConv2D), NHWC: every input
// channel c is convolved with its own dm filters, kernel (KH, KW, C, dm),
// giving output channels c*dm + m. Direct loops over the window, the
// channels innermost (contiguous in NHWC and in the kernel): the work is
// KH*KW multiply-adds per output, bound by memory, not by a GEMM.

// DepthwiseTo computes y (N, OutH, OutW, C*dm) from x and kernel, the
// output rows (n, i) shared among the workers.
func DepthwiseTo(y, x, kernel []float32, p Window, dm int) {
	DepthwiseEpilogueTo(y, x, kernel, p, dm, Epilogue{})
}

// DepthwiseEpilogueTo is DepthwiseTo followed by the epilogue ep over its
// C*dm output channels (at inference: a batch normalization and ReLU6),
// run on each output row while it is in cache: the values of DepthwiseTo
// and then BiasAddTo, BatchNormTo, SumTo, ReluTo and ClampTo, bit for bit.
// It panics with ErrShape if ep does not fit the output (see Epilogue).
func DepthwiseEpilogueTo(y, x, kernel []float32, p Window, dm int, ep Epilogue) {
	oh, ow, c := p.OutH(), p.OutW(), p.C
	oc := c * dm
	ep.check(oc, p.N*oh*ow*oc)
	if dm == 1 && useSIMD && c >= 8 {
		depthwiseTaps(y, x, kernel, p, ep)
		return
	}
	defer ep.applyRows(y[:p.N*oh*ow*oc], oc)
	clear(y[:p.N*oh*ow*oc])
	forRange(p.N*oh, 1, func(lo, hi int) {
		for row := lo; row < hi; row++ {
			n, i := row/oh, row%oh
			for j := 0; j < ow; j++ {
				out := y[((n*oh+i)*ow+j)*oc : ((n*oh+i)*ow+j+1)*oc]
				for a := 0; a < p.KH; a++ {
					r := i*p.SH - p.PadTop + a
					if r < 0 || r >= p.H {
						continue
					}
					for b := 0; b < p.KW; b++ {
						s := j*p.SW - p.PadLeft + b
						if s < 0 || s >= p.W {
							continue
						}
						in := x[((n*p.H+r)*p.W+s)*c : ((n*p.H+r)*p.W+s+1)*c]
						k := kernel[(a*p.KW+b)*oc : (a*p.KW+b+1)*oc]
						if dm == 1 {
							mulAdd(out, in, k)
							continue
						}
						for ch, v := range in {
							for m := 0; m < dm; m++ {
								out[ch*dm+m] += v * k[ch*dm+m]
							}
						}
					}
				}
			}
		}
	})
}

// depthwiseTaps is DepthwiseTo for one filter per channel with the AVX2
// kernel: for each output pixel, its window's taps inside the input are
// listed and depthwiseTapsAVX2 sums them in registers, 32 channels at a
// time, storing each output once (mulAdd read and wrote the pixel's output
// at every tap, after clearing it). The sums are in the same order, with
// the same roundings: the values are DepthwiseTo's, bit for bit. The
// epilogue runs on each output row as soon as it is summed.
func depthwiseTaps(y, x, kernel []float32, p Window, ep Epilogue) {
	oh, ow, c := p.OutH(), p.OutW(), p.C
	c8 := c &^ 7
	forRange(p.N*oh, 1, func(lo, hi int) {
		offs := make([]int, 2*p.KH*p.KW)
		for row := lo; row < hi; row++ {
			n, i := row/oh, row%oh
			for j := 0; j < ow; j++ {
				o := ((n*oh+i)*ow + j) * c
				out := y[o : o+c]
				taps := 0
				for a := 0; a < p.KH; a++ {
					r := i*p.SH - p.PadTop + a
					if r < 0 || r >= p.H {
						continue
					}
					for b := 0; b < p.KW; b++ {
						s := j*p.SW - p.PadLeft + b
						if s < 0 || s >= p.W {
							continue
						}
						offs[2*taps] = 4 * ((n*p.H+r)*p.W + s) * c
						offs[2*taps+1] = 4 * (a*p.KW + b) * c
						taps++
					}
				}
				if taps == 0 {
					clear(out)
					continue
				}
				depthwiseTapsAVX2(&out[0], &x[0], &kernel[0], &offs[0], taps, c8)
				for ch := c8; ch < c; ch++ {
					var v float32
					for t := 0; t < taps; t++ {
						v += x[offs[2*t]/4+ch] * kernel[offs[2*t+1]/4+ch]
					}
					out[ch] = v
				}
			}
			if !ep.none() {
				o := (n*oh + i) * ow * c
				ep.apply(y[o:o+ow*c], c, o)
			}
		}
	})
}

// DepthwiseBackwardTo computes the gradients dx (like x) and dk (like
// kernel) from dy (like y); either may be nil to skip it.
func DepthwiseBackwardTo(dx, dk, dy, x, kernel []float32, p Window, dm int) {
	oh, ow, c := p.OutH(), p.OutW(), p.C
	oc := c * dm
	if dx != nil {
		clear(dx[:p.InLen()])
	}
	if dk != nil {
		clear(dk[:p.KH*p.KW*oc])
	}
	for n := 0; n < p.N; n++ {
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				g := dy[((n*oh+i)*ow+j)*oc : ((n*oh+i)*ow+j+1)*oc]
				for a := 0; a < p.KH; a++ {
					r := i*p.SH - p.PadTop + a
					if r < 0 || r >= p.H {
						continue
					}
					for b := 0; b < p.KW; b++ {
						s := j*p.SW - p.PadLeft + b
						if s < 0 || s >= p.W {
							continue
						}
						o := ((n*p.H+r)*p.W + s) * c
						ko := (a*p.KW + b) * oc
						for ch := 0; ch < c; ch++ {
							for m := 0; m < dm; m++ {
								gv := g[ch*dm+m]
								if dx != nil {
									dx[o+ch] += gv * kernel[ko+ch*dm+m]
								}
								if dk != nil {
									dk[ko+ch*dm+m] += gv * x[o+ch]
								}
							}
						}
					}
				}
			}
		}
	}
}
