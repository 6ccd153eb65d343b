package engine

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

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

func naiveBiasAdd(x, b []float32) []float64 {
	out := make([]float64, len(x))
	for i := range x {
		out[i] = float64(x[i]) + float64(b[i%len(b)])
	}
	return out
}

// ---- shared test helpers ----

// kopRunForward builds out = build(inputs) in a new graph, runs it and returns
// the output's data and shape.
func kopRunForward(t *testing.T, build func(g *G.ExprGraph, in []*G.Node) (*G.Node, error), inputs ...*tensor.Dense) ([]float32, tensor.Shape) {
	t.Helper()
	g := G.NewGraph()
	nodes := make([]*G.Node, len(inputs))
	for i, v := range inputs {
		nodes[i] = G.NodeFromAny(g, v, G.WithName(string(rune('a'+i))))
	}
	out, err := build(g, nodes)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatalf("run: %v", err)
	}
	v := out.Value().(*tensor.Dense)
	return append([]float32(nil), v.Data().([]float32)...), v.Shape().Clone()
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

func kopData(d *tensor.Dense) []float32 { return d.Data().([]float32) }

// distinct returns a tensor holding a random permutation of well-separated
// values (steps of 0.1), so that max pooling has no ties and the
// finite-difference steps of gradcheck never change a winner.
func kopDistinct(seed uint64, shape ...int) *tensor.Dense {
	t := tensor.New(tensor.WithShape(shape...), tensor.Of(tensor.Float32))
	d := kopData(t)
	rng := rand.New(rand.NewPCG(seed, 3))
	for i, j := range rng.Perm(len(d)) {
		d[i] = float32(j)*0.1 - float32(len(d))*0.05
	}
	return t
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

// kopSamePad is Keras's "same" padding (top, bottom, left, right) of an (h, w)
// input, written out independently of kernels.Padding.
func kopSamePad(h, w, kh, kw int, strides [2]int) [4]int {
	one := func(in, k, s int) (int, int) {
		out := (in + s - 1) / s
		tot := max((out-1)*s+k-in, 0)
		return tot / 2, tot - tot/2
	}
	t, b := one(h, kh, strides[0])
	l, r := one(w, kw, strides[1])
	return [4]int{t, b, l, r}
}
