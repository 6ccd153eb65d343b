package kernels

// This file holds bilinear resizing of NHWC maps with half-pixel centers,
// as Keras's UpSampling2D(interpolation="bilinear") (tf.image.resize) and
// PyTorch's interpolate(mode="bilinear", align_corners=False) compute it.

// Bilinear is a resize of (N, H, W, C) maps to (N, OH, OW, C).
type Bilinear struct {
	N, H, W, C, OH, OW int
}

// taps returns, for each output index along an axis of in → out, the two
// source indices and the weight of the second: source coordinate
// (o+0.5)*in/out - 0.5, clamped at 0.
func taps(in, out int) (lo, hi []int, w []float32) {
	lo, hi, w = make([]int, out), make([]int, out), make([]float32, out)
	scale := float64(in) / float64(out)
	for o := range out {
		s := max((float64(o)+0.5)*scale-0.5, 0)
		l := min(int(s), in-1)
		lo[o], hi[o], w[o] = l, min(l+1, in-1), float32(s-float64(l))
	}
	return lo, hi, w
}

func (b Bilinear) check(xLen, yLen int) {
	if b.N <= 0 || b.H <= 0 || b.W <= 0 || b.C <= 0 || b.OH <= 0 || b.OW <= 0 ||
		xLen != b.N*b.H*b.W*b.C || yLen != b.N*b.OH*b.OW*b.C {
		panic(ErrShape)
	}
}

// ResizeTo writes the bilinear resize of x into y.
func (b Bilinear) ResizeTo(y, x []float32) {
	b.check(len(x), len(y))
	y0, y1, wy := taps(b.H, b.OH)
	x0, x1, wx := taps(b.W, b.OW)
	c := b.C
	for n := range b.N {
		xn := x[n*b.H*b.W*c:]
		for oy := range b.OH {
			r0, r1, fy := xn[y0[oy]*b.W*c:], xn[y1[oy]*b.W*c:], wy[oy]
			for ox := range b.OW {
				a, bb, fx := x0[ox]*c, x1[ox]*c, wx[ox]
				dst := y[((n*b.OH+oy)*b.OW+ox)*c:][:c]
				for j := range dst {
					top := r0[a+j] + fx*(r0[bb+j]-r0[a+j])
					bot := r1[a+j] + fx*(r1[bb+j]-r1[a+j])
					dst[j] = top + fy*(bot-top)
				}
			}
		}
	}
}

// ResizeGradTo writes into dx the gradient of ResizeTo's input given dy,
// the gradient of its output: each output's gradient is shared among its
// four sources by their weights.
func (b Bilinear) ResizeGradTo(dx, dy []float32) {
	b.check(len(dx), len(dy))
	clear(dx)
	y0, y1, wy := taps(b.H, b.OH)
	x0, x1, wx := taps(b.W, b.OW)
	c := b.C
	for n := range b.N {
		dn := dx[n*b.H*b.W*c:]
		for oy := range b.OH {
			r0, r1, fy := dn[y0[oy]*b.W*c:], dn[y1[oy]*b.W*c:], wy[oy]
			for ox := range b.OW {
				a, bb, fx := x0[ox]*c, x1[ox]*c, wx[ox]
				g := dy[((n*b.OH+oy)*b.OW+ox)*c:][:c]
				for j, v := range g {
					top, bot := v*(1-fy), v*fy
					r0[a+j] += top * (1 - fx)
					r0[bb+j] += top * fx
					r1[a+j] += bot * (1 - fx)
					r1[bb+j] += bot * fx
				}
			}
		}
	}
}
