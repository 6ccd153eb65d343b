// Package naiveref holds the naive references the tests of graph and
// internal/engine check the kernel-backed ops against: direct loops over NHWC
// tensors with float64 accumulation, written from the definitions only. It is
// imported by tests only.
package naiveref

import "math"

// Win is a pooling or convolution window over an (N, H, W, C) input.
type Win struct {
	N, H, W, C     int
	KH, KW, SH, SW int
	Pad            [4]int // top, bottom, left, right
}

// NewWin describes a kh x kw window over an input of shape xs.
func NewWin(xs []int, kh, kw int, strides [2]int, pad [4]int) Win {
	return Win{xs[0], xs[1], xs[2], xs[3], kh, kw, strides[0], strides[1], pad}
}

// OH is the output height.
func (p Win) OH() int { return (p.H+p.Pad[0]+p.Pad[1]-p.KH)/p.SH + 1 }

// OW is the output width.
func (p Win) OW() int { return (p.W+p.Pad[2]+p.Pad[3]-p.KW)/p.SW + 1 }

// at returns the index of x[n, iy, ix, ch] and whether it is inside the image.
// At is the flat index of input element (n, iy, ix, ch), false in the padding.
func (p Win) At(n, iy, ix, ch int) (int, bool) {
	if iy < 0 || iy >= p.H || ix < 0 || ix >= p.W {
		return 0, false
	}
	return ((n*p.H+iy)*p.W+ix)*p.C + ch, true
}

// Conv2D is the convolution of x (N, H, W, C) with k (KH, KW, C, F).
func Conv2D(x, k []float32, xs, ks []int, strides [2]int, pad [4]int) []float64 {
	p := NewWin(xs, ks[0], ks[1], strides, pad)
	f := ks[3]
	out := make([]float64, p.N*p.OH()*p.OW()*f)
	for n := 0; n < p.N; n++ {
		for oy := 0; oy < p.OH(); oy++ {
			for ox := 0; ox < p.OW(); ox++ {
				for j := 0; j < f; j++ {
					var s float64
					for ky := 0; ky < p.KH; ky++ {
						for kx := 0; kx < p.KW; kx++ {
							for ch := 0; ch < p.C; ch++ {
								if i, ok := p.At(n, oy*p.SH-pad[0]+ky, ox*p.SW-pad[2]+kx, ch); ok {
									s += float64(x[i]) * float64(k[((ky*p.KW+kx)*p.C+ch)*f+j])
								}
							}
						}
					}
					out[((n*p.OH()+oy)*p.OW()+ox)*f+j] = s
				}
			}
		}
	}
	return out
}

// naivePool2D is max or average pooling over the real cells of each window.
// Pool2D is max (isMax) or average pooling of x (N, H, W, C).
func Pool2D(x []float32, xs []int, isMax bool, pool, strides [2]int, pad [4]int) []float64 {
	p := NewWin(xs, pool[0], pool[1], strides, pad)
	out := make([]float64, p.N*p.OH()*p.OW()*p.C)
	for n := 0; n < p.N; n++ {
		for oy := 0; oy < p.OH(); oy++ {
			for ox := 0; ox < p.OW(); ox++ {
				for ch := 0; ch < p.C; ch++ {
					best, sum, cnt := math.Inf(-1), 0.0, 0
					for ky := 0; ky < p.KH; ky++ {
						for kx := 0; kx < p.KW; kx++ {
							if i, ok := p.At(n, oy*p.SH-pad[0]+ky, ox*p.SW-pad[2]+kx, ch); ok {
								best = math.Max(best, float64(x[i]))
								sum += float64(x[i])
								cnt++
							}
						}
					}
					v := sum / float64(cnt)
					if isMax {
						v = best
					}
					out[((n*p.OH()+oy)*p.OW()+ox)*p.C+ch] = v
				}
			}
		}
	}
	return out
}
