package engine

import (
	"fmt"
	"math/rand/v2"

	"github.com/capa-ml/capa/internal/kernels"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// This file holds the ops written as Funcs: each is its shape rule, its
// kernel call and its gradients' kernel calls.

// PReLU is y = x for x > 0 and alpha*x otherwise, with alpha of the
// sample's shape except along the shared axes (1-based sample axes, as
// Keras's shared_axes), where it has size 1 and is broadcast.
func PReLU(x, alpha *G.Node) (*G.Node, error) {
	xs, as := x.Shape(), alpha.Shape()
	if len(xs) != len(as)+1 {
		return nil, fmt.Errorf("graph: PReLU: alpha %v does not match input %v", as, xs)
	}
	idx := make([]int32, xs[1:].TotalSize())
	// Element i of a sample, as a multi-index over xs[1:], maps to alpha's
	// index with the broadcast axes read as 0.
	for i := range idx {
		rest, k, stride := i, 0, 1
		for d := len(as) - 1; d >= 0; d-- {
			xi := rest % xs[d+1]
			rest /= xs[d+1]
			if as[d] != 1 {
				if as[d] != xs[d+1] {
					return nil, fmt.Errorf("graph: PReLU: alpha %v does not match input %v", as, xs)
				}
				k += xi * stride
			}
			stride *= as[d]
		}
		idx[i] = int32(k)
	}
	return Apply(&Func{
		Name: "PReLU",
		Shape: func(in []tensor.Shape) (tensor.Shape, error) {
			if in[0][1:].TotalSize() != len(idx) {
				return nil, fmt.Errorf("input %v, built for samples of %v", in[0], xs[1:])
			}
			return in[0].Clone(), nil
		},
		Forward: func(y []float32, x [][]float32, _ []tensor.Shape) { kernels.PReLUTo(y, x[0], x[1], idx) },
		Grad: []func(dx []float32, x [][]float32, _ []tensor.Shape, y, dy []float32){
			func(dx []float32, x [][]float32, _ []tensor.Shape, _, dy []float32) {
				kernels.PReLUGradTo(dx, dy, x[0], x[1], idx)
			},
			func(da []float32, x [][]float32, _ []tensor.Shape, _, dy []float32) {
				kernels.PReLUAlphaGradTo(da, dy, x[0], idx)
			},
		},
	}, x, alpha)
}

// LayerNorm normalizes x over its last axis, then scales by gamma and adds
// beta (each of the last axis's size; either may be nil).
func LayerNorm(x, gamma, beta *G.Node, epsilon float64) (*G.Node, error) {
	xs := x.Shape()
	c := xs[len(xs)-1]
	nodes := []*G.Node{x}
	gi, bi := -1, -1
	for _, p := range []struct {
		n *G.Node
		i *int
	}{{gamma, &gi}, {beta, &bi}} {
		if p.n != nil {
			if !p.n.Shape().Eq(tensor.Shape{c}) {
				return nil, fmt.Errorf("graph: LayerNorm: parameter %v, want (%d)", p.n.Shape(), c)
			}
			*p.i = len(nodes)
			nodes = append(nodes, p.n)
		}
	}
	arg := func(x [][]float32, i int) []float32 {
		if i < 0 {
			return nil
		}
		return x[i]
	}
	grads := make([]func([]float32, [][]float32, []tensor.Shape, []float32, []float32), len(nodes))
	grads[0] = func(dx []float32, x [][]float32, _ []tensor.Shape, _, dy []float32) {
		kernels.LayerNormGradTo(dx, dy, x[0], arg(x, gi), c, epsilon)
	}
	if gi > 0 {
		grads[gi] = func(dg []float32, x [][]float32, _ []tensor.Shape, _, dy []float32) {
			kernels.LayerNormParamGradTo(dg, nil, dy, x[0], c, epsilon)
		}
	}
	if bi > 0 {
		grads[bi] = func(db []float32, x [][]float32, _ []tensor.Shape, _, dy []float32) {
			kernels.LayerNormParamGradTo(nil, db, dy, x[0], c, epsilon)
		}
	}
	return Apply(&Func{
		Name:  fmt.Sprintf("LayerNorm{eps %g}", epsilon),
		Shape: func(in []tensor.Shape) (tensor.Shape, error) { return in[0].Clone(), nil },
		Forward: func(y []float32, x [][]float32, _ []tensor.Shape) {
			kernels.LayerNormTo(y, x[0], arg(x, gi), arg(x, bi), c, epsilon)
		},
		Grad: grads,
	}, nodes...)
}

// passGrad is the gradient of an input that reaches the output unchanged:
// dy itself.
func passGrad(dx []float32, _ [][]float32, _ []tensor.Shape, _, dy []float32) { copy(dx, dy) }

// Sum adds tensors of one shape element by element, left to right (the
// residual connection, Keras's Add), in one op that writes into its
// preallocated output: Gorgonia's Add clones its first input at every run.
// Each input's gradient is dy.
func Sum(xs ...*G.Node) (*G.Node, error) {
	grads := make([]func([]float32, [][]float32, []tensor.Shape, []float32, []float32), len(xs))
	for i := range grads {
		grads[i] = passGrad
	}
	return Apply(&Func{
		Name: "Sum",
		Shape: func(in []tensor.Shape) (tensor.Shape, error) {
			for _, s := range in[1:] {
				if !s.Eq(in[0]) {
					return nil, fmt.Errorf("shapes %v and %v differ", in[0], s)
				}
			}
			return in[0].Clone(), nil
		},
		Forward: func(y []float32, x [][]float32, _ []tensor.Shape) { kernels.SumTo(y, x) },
		Grad:    grads,
		sum:     true,
	}, xs...)
}

// GaussianNoise adds stddev times standard normal noise from rng to x,
// fresh at every run; its gradient is dy.
func GaussianNoise(x *G.Node, stddev float64, rng *rand.Rand) (*G.Node, error) {
	return Apply(&Func{
		Name:    fmt.Sprintf("GaussianNoise{%g}", stddev),
		Shape:   func(in []tensor.Shape) (tensor.Shape, error) { return in[0].Clone(), nil },
		Forward: func(y []float32, x [][]float32, _ []tensor.Shape) { kernels.GaussianNoiseTo(y, x[0], stddev, rng) },
		Grad: []func([]float32, [][]float32, []tensor.Shape, []float32, []float32){
			passGrad,
		},
	}, x)
}

// SpatialDropout drops whole channels of the NHWC batch x, each with
// probability rate, scaling the kept ones by 1/(1-rate), with a fresh mask
// from rng at every run; the gradient uses the run's mask.
func SpatialDropout(x *G.Node, rate float64, rng *rand.Rand) (*G.Node, error) {
	if x.Dims() != 4 {
		return nil, fmt.Errorf("graph: SpatialDropout: input %v, want (N, H, W, C)", x.Shape())
	}
	var mask []float32
	return Apply(&Func{
		Name:  fmt.Sprintf("SpatialDropout{%g}", rate),
		Shape: func(in []tensor.Shape) (tensor.Shape, error) { return in[0].Clone(), nil },
		Forward: func(y []float32, x [][]float32, s []tensor.Shape) {
			if cap(mask) < len(y) {
				mask = make([]float32, len(y))
			}
			mask = mask[:len(y)]
			kernels.SpatialDropoutMaskTo(mask, s[0][0], s[0][1]*s[0][2], s[0][3], rate, rng)
			kernels.DropoutApplyTo(y, x[0], mask)
		},
		Grad: []func([]float32, [][]float32, []tensor.Shape, []float32, []float32){
			func(dx []float32, _ [][]float32, _ []tensor.Shape, _, dy []float32) {
				kernels.DropoutApplyTo(dx, dy, mask)
			},
		},
	}, x)
}

// ResizeBilinear resizes the NHWC batch x to (N, oh, ow, C) with
// half-pixel centers (Keras's bilinear UpSampling2D).
func ResizeBilinear(x *G.Node, oh, ow int) (*G.Node, error) {
	if x.Dims() != 4 {
		return nil, fmt.Errorf("graph: ResizeBilinear: input %v, want (N, H, W, C)", x.Shape())
	}
	plan := func(s tensor.Shape) kernels.Bilinear {
		return kernels.Bilinear{N: s[0], H: s[1], W: s[2], C: s[3], OH: oh, OW: ow}
	}
	return Apply(&Func{
		Name: fmt.Sprintf("ResizeBilinear{%dx%d}", oh, ow),
		Shape: func(in []tensor.Shape) (tensor.Shape, error) {
			return tensor.Shape{in[0][0], oh, ow, in[0][3]}, nil
		},
		Forward: func(y []float32, x [][]float32, s []tensor.Shape) { plan(s[0]).ResizeTo(y, x[0]) },
		Grad: []func([]float32, [][]float32, []tensor.Shape, []float32, []float32){
			func(dx []float32, _ [][]float32, s []tensor.Shape, _, dy []float32) { plan(s[0]).ResizeGradTo(dx, dy) },
		},
	}, x)
}

// Conv2DTranspose is the transposed convolution of the NHWC batch x (N, H,
// W, Cin) with kernel (KH, KW, F, Cin), Keras's layout: the gradient of a
// convolution of an (N, out[0], out[1], F) map with the same kernel,
// strides and padding (top, bottom, left, right) with respect to its
// input. Output positions no window covers are 0.
func Conv2DTranspose(x, kernel *G.Node, out [2]int, strides [2]int, padding [4]int) (*G.Node, error) {
	if x.Dims() != 4 || kernel.Dims() != 4 {
		return nil, fmt.Errorf("graph: Conv2DTranspose: input %v and kernel %v, want (N, H, W, C) and (KH, KW, F, C)", x.Shape(), kernel.Shape())
	}
	win := func(xs, ks tensor.Shape) (kernels.Window, error) {
		p := kernels.Window{N: xs[0], H: out[0], W: out[1], C: ks[2], KH: ks[0], KW: ks[1], SH: strides[0], SW: strides[1],
			PadTop: padding[0], PadBottom: padding[1], PadLeft: padding[2], PadRight: padding[3]}
		if xs[3] != ks[3] {
			return p, fmt.Errorf("input %v has %d channels, kernel %v expects %d", xs, xs[3], ks, ks[3])
		}
		if p.OutH() != xs[1] || p.OutW() != xs[2] {
			return p, fmt.Errorf("a %v output does not convolve back to the input %v", out, xs)
		}
		return p, nil
	}
	if _, err := win(x.Shape(), kernel.Shape()); err != nil {
		return nil, fmt.Errorf("graph: Conv2DTranspose: %w", err)
	}
	var col []float32
	scratch := func(p kernels.Window) []float32 {
		if cap(col) < p.ColLen() {
			col = make([]float32, p.ColLen())
		}
		return col[:p.ColLen()]
	}
	return Apply(&Func{
		Name: fmt.Sprintf("Conv2DTranspose{out %v, strides %v, padding %v}", out, strides, padding),
		Shape: func(in []tensor.Shape) (tensor.Shape, error) {
			p, err := win(in[0], in[1])
			if err != nil {
				return nil, err
			}
			return tensor.Shape{p.N, out[0], out[1], p.C}, nil
		},
		Forward: func(y []float32, x [][]float32, s []tensor.Shape) {
			p, _ := win(s[0], s[1])
			kernels.Conv2DBackwardDataTo(y, x[0], x[1], p, s[1][3], scratch(p))
		},
		Grad: []func([]float32, [][]float32, []tensor.Shape, []float32, []float32){
			func(dx []float32, x [][]float32, s []tensor.Shape, _, dy []float32) {
				p, _ := win(s[0], s[1])
				kernels.Conv2DTo(dx, dy, x[1], p, s[1][3], scratch(p), kernels.Epilogue{})
			},
			func(dk []float32, x [][]float32, s []tensor.Shape, _, dy []float32) {
				p, _ := win(s[0], s[1])
				kernels.Conv2DBackwardFilterTo(dk, dy, x[0], p, s[1][3], scratch(p))
			},
		},
	}, x, kernel)
}

// DilateKernel spreads a (KH, KW, C, F) kernel over ((KH-1)*d[0]+1,
// (KW-1)*d[1]+1, C, F) with zeros between its taps, so that an ordinary
// convolution with it is the dilated convolution with the original.
func DilateKernel(k *G.Node, d [2]int) (*G.Node, error) {
	ks := k.Shape()
	if len(ks) != 4 || d[0] < 1 || d[1] < 1 {
		return nil, fmt.Errorf("graph: DilateKernel: kernel %v, dilation %v", ks, d)
	}
	kh, kw, cf := ks[0], ks[1], ks[2]*ks[3]
	eh, ew := (kh-1)*d[0]+1, (kw-1)*d[1]+1
	at := func(ky, kx int) int { return ((ky*d[0])*ew + kx*d[1]) * cf }
	return Apply(&Func{
		Name: fmt.Sprintf("DilateKernel{%v}", d),
		Shape: func(in []tensor.Shape) (tensor.Shape, error) {
			return tensor.Shape{eh, ew, in[0][2], in[0][3]}, nil
		},
		Forward: func(y []float32, x [][]float32, _ []tensor.Shape) {
			clear(y)
			for ky := range kh {
				for kx := range kw {
					copy(y[at(ky, kx):at(ky, kx)+cf], x[0][(ky*kw+kx)*cf:])
				}
			}
		},
		Grad: []func([]float32, [][]float32, []tensor.Shape, []float32, []float32){
			func(dx []float32, _ [][]float32, _ []tensor.Shape, _, dy []float32) {
				for ky := range kh {
					for kx := range kw {
						copy(dx[(ky*kw+kx)*cf:(ky*kw+kx+1)*cf], dy[at(ky, kx):])
					}
				}
			},
		},
	}, k)
}

// SliceLast is x[..., lo:hi], a slice of the last axis.
func SliceLast(x *G.Node, lo, hi int) (*G.Node, error) {
	xs := x.Shape()
	c := xs[len(xs)-1]
	if lo < 0 || hi > c || lo >= hi {
		return nil, fmt.Errorf("graph: SliceLast: [%d:%d] of %v", lo, hi, xs)
	}
	w := hi - lo
	return Apply(&Func{
		Name: fmt.Sprintf("SliceLast{%d:%d}", lo, hi),
		Shape: func(in []tensor.Shape) (tensor.Shape, error) {
			s := in[0].Clone()
			s[len(s)-1] = w
			return s, nil
		},
		Forward: func(y []float32, x [][]float32, _ []tensor.Shape) {
			for r := range len(y) / w {
				copy(y[r*w:(r+1)*w], x[0][r*c+lo:])
			}
		},
		Grad: []func([]float32, [][]float32, []tensor.Shape, []float32, []float32){
			func(dx []float32, _ [][]float32, _ []tensor.Shape, _, dy []float32) {
				clear(dx)
				for r := range len(dy) / w {
					copy(dx[r*c+lo:r*c+hi], dy[r*w:(r+1)*w])
				}
			},
		},
	}, x)
}

// Permute reorders the sample axes of x: output sample axis i is input
// sample axis dims[i]-1 (1-based, as Keras's Permute).
func Permute(x *G.Node, dims []int) (*G.Node, error) {
	xs := x.Shape()
	r := len(xs) - 1
	if len(dims) != r {
		return nil, fmt.Errorf("graph: Permute: dims %v for samples of %v", dims, xs[1:])
	}
	seen := make([]bool, r)
	for _, d := range dims {
		if d < 1 || d > r || seen[d-1] {
			return nil, fmt.Errorf("graph: Permute: dims %v is not a permutation of 1..%d", dims, r)
		}
		seen[d-1] = true
	}
	// src[i] is the input index (within a sample) of output element i.
	in := xs[1:]
	outShape := make(tensor.Shape, r)
	for i, d := range dims {
		outShape[i] = in[d-1]
	}
	inStride := make([]int, r)
	s := 1
	for a := r - 1; a >= 0; a-- {
		inStride[a] = s
		s *= in[a]
	}
	src := make([]int32, s)
	for i := range src {
		rest, k := i, 0
		for a := r - 1; a >= 0; a-- {
			k += (rest % outShape[a]) * inStride[dims[a]-1]
			rest /= outShape[a]
		}
		src[i] = int32(k)
	}
	return Apply(&Func{
		Name: fmt.Sprintf("Permute{%v}", dims),
		Shape: func(ins []tensor.Shape) (tensor.Shape, error) {
			return append(tensor.Shape{ins[0][0]}, outShape...), nil
		},
		Forward: func(y []float32, x [][]float32, _ []tensor.Shape) {
			for o := 0; o < len(y); o += len(src) {
				ys, xs := y[o:o+len(src)], x[0][o:o+len(src)]
				for i, k := range src {
					ys[i] = xs[k]
				}
			}
		},
		Grad: []func([]float32, [][]float32, []tensor.Shape, []float32, []float32){
			func(dx []float32, _ [][]float32, _ []tensor.Shape, _, dy []float32) {
				for o := 0; o < len(dy); o += len(src) {
					dys, dxs := dy[o:o+len(src)], dx[o:o+len(src)]
					for i, k := range src {
						dxs[k] = dys[i]
					}
				}
			},
		},
	}, x)
}
