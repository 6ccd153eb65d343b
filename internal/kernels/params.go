// Package kernels holds Capa's numerical kernels: plain float32 compute on
// slices, with no Gorgonia types. The graph package wraps them in Gorgonia ops.
//
// Layout: images are NHWC (batch, height, width, channels), row-major, so the
// element (n, y, x, c) of a tensor with shape (N, H, W, C) is at index
// ((n*H+y)*W+x)*C+c. Convolution kernels are (KH, KW, Cin, Cout), Keras's
// layout, which read as a (KH*KW*Cin, Cout) matrix.
//
// Conventions (after gonum): the destination comes first, kernels trust their
// input because shapes were validated when the graph was built, and they
// panic with ErrShape on a length mismatch. Functions named ...To overwrite
// dst; functions named ...Add accumulate into it.
package kernels

import "errors"

// ErrShape is the panic value of a kernel given slices of the wrong length.
var ErrShape = errors.New("kernels: slice length does not match the parameters")

// Window describes a 2-D sliding window (convolution or pooling) over an NHWC
// batch: input size, window size, strides and explicit padding on each side.
// Keras's "same" puts the extra row or column at the bottom and right.
type Window struct {
	N, H, W, C        int // input batch, height, width, channels
	KH, KW            int // window height and width
	SH, SW            int // strides
	PadTop, PadBottom int
	PadLeft, PadRight int
}

// OutH is the output height: (H + PadTop + PadBottom - KH)/SH + 1.
func (p Window) OutH() int { return (p.H+p.PadTop+p.PadBottom-p.KH)/p.SH + 1 }

// OutW is the output width: (W + PadLeft + PadRight - KW)/SW + 1.
func (p Window) OutW() int { return (p.W+p.PadLeft+p.PadRight-p.KW)/p.SW + 1 }

// InLen is the number of elements of the input batch.
func (p Window) InLen() int { return p.N * p.H * p.W * p.C }

// Padding returns the padding (before, after) along one axis for Keras's
// "valid" (no padding) or "same" (output size ceil(in/stride), the odd extra
// row or column after) modes.
func Padding(same bool, in, k, stride int) (before, after int) {
	if !same {
		return 0, 0
	}
	out := (in + stride - 1) / stride
	total := (out-1)*stride + k - in
	if total < 0 {
		total = 0
	}
	return total / 2, total - total/2
}

// OutLen is the number of elements of a pooling output, (N, OutH, OutW, C):
// N*OutH*OutW*C.
func (p Window) OutLen() int { return p.N * p.OutH() * p.OutW() * p.C }

// ColLen is the length of the im2col scratch matrix of a convolution over p:
// (N*OutH*OutW) rows of KH*KW*C columns.
func (p Window) ColLen() int { return p.N * p.OutH() * p.OutW() * p.KH * p.KW * p.C }
