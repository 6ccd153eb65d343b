package graph

import (
	"math"
	"strings"
	"testing"
)

// The naive references and assertions of the layer tests: a copy of the
// part of internal/engine's naive_test.go that the layer tests use (test
// files are not shared across packages).

// Naive references for the kernel-backed ops: direct loops over NHWC
// tensors, float64 accumulation, written from the definitions only.

type kopNaiveWin struct {
	n, h, w, c     int
	kh, kw, sh, sw int
	pad            [4]int // top, bottom, left, right
}

func newKopNaiveWin(xs []int, kh, kw int, strides [2]int, pad [4]int) kopNaiveWin {
	return kopNaiveWin{xs[0], xs[1], xs[2], xs[3], kh, kw, strides[0], strides[1], pad}
}

func (p kopNaiveWin) oh() int { return (p.h+p.pad[0]+p.pad[1]-p.kh)/p.sh + 1 }
func (p kopNaiveWin) ow() int { return (p.w+p.pad[2]+p.pad[3]-p.kw)/p.sw + 1 }

// at returns the index of x[n, iy, ix, ch] and whether it is inside the image.
func (p kopNaiveWin) at(n, iy, ix, ch int) (int, bool) {
	if iy < 0 || iy >= p.h || ix < 0 || ix >= p.w {
		return 0, false
	}
	return ((n*p.h+iy)*p.w+ix)*p.c + ch, true
}

func naiveConv2D(x, k []float32, xs, ks []int, strides [2]int, pad [4]int) []float64 {
	p := newKopNaiveWin(xs, ks[0], ks[1], strides, pad)
	f := ks[3]
	out := make([]float64, p.n*p.oh()*p.ow()*f)
	for n := 0; n < p.n; n++ {
		for oy := 0; oy < p.oh(); oy++ {
			for ox := 0; ox < p.ow(); ox++ {
				for j := 0; j < f; j++ {
					var s float64
					for ky := 0; ky < p.kh; ky++ {
						for kx := 0; kx < p.kw; kx++ {
							for ch := 0; ch < p.c; ch++ {
								if i, ok := p.at(n, oy*p.sh-pad[0]+ky, ox*p.sw-pad[2]+kx, ch); ok {
									s += float64(x[i]) * float64(k[((ky*p.kw+kx)*p.c+ch)*f+j])
								}
							}
						}
					}
					out[((n*p.oh()+oy)*p.ow()+ox)*f+j] = s
				}
			}
		}
	}
	return out
}

// naivePool2D is max or average pooling over the real cells of each window.
func naivePool2D(x []float32, xs []int, isMax bool, pool, strides [2]int, pad [4]int) []float64 {
	p := newKopNaiveWin(xs, pool[0], pool[1], strides, pad)
	out := make([]float64, p.n*p.oh()*p.ow()*p.c)
	for n := 0; n < p.n; n++ {
		for oy := 0; oy < p.oh(); oy++ {
			for ox := 0; ox < p.ow(); ox++ {
				for ch := 0; ch < p.c; ch++ {
					best, sum, cnt := math.Inf(-1), 0.0, 0
					for ky := 0; ky < p.kh; ky++ {
						for kx := 0; kx < p.kw; kx++ {
							if i, ok := p.at(n, oy*p.sh-pad[0]+ky, ox*p.sw-pad[2]+kx, ch); ok {
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
					out[((n*p.oh()+oy)*p.ow()+ox)*p.c+ch] = v
				}
			}
		}
	}
	return out
}

func kopAssertNear(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= tol*(1+math.Abs(want[i]))) {
			t.Fatalf("%s: [%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

// kopWantErr fails unless err is non-nil and mentions every fragment.
func kopWantErr(t *testing.T, what string, err error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error", what)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Fatalf("%s: error %q does not mention %q", what, err, f)
		}
	}
}
