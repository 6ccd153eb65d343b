package engine

import (
	"fmt"

	"github.com/capa-ml/capa/internal/kernels"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// DepthwiseConv2D convolves each channel of x (N, H, W, C) with its own
// filters, kernel (KH, KW, C, dm): an (N, OH, OW, C*dm) node whose channel
// c*dm + m is input channel c through filter m (Keras's DepthwiseConv2D,
// depth_multiplier dm). padding is (top, bottom, left, right). A direct
// kernel (kernels.DepthwiseTo), forward and backward; gradients flow to x
// and to kernel. It is an engine.Func.
func DepthwiseConv2D(x, kernel *G.Node, strides [2]int, padding [4]int) (*G.Node, error) {
	if err := opCheckWindow("DepthwiseConv2D", strides, padding); err != nil {
		return nil, err
	}
	name := fmt.Sprintf("DepthwiseConv2D{%v,%v}", strides, padding)
	window := func(xs, ks tensor.Shape) (kernels.Window, error) {
		if xs.Dims() != 4 || ks.Dims() != 4 || ks[2] != xs[3] {
			return kernels.Window{}, fmt.Errorf("needs x (N, H, W, C) and kernel (KH, KW, C, dm), got %v and %v", xs, ks)
		}
		p := kernels.Window{N: xs[0], H: xs[1], W: xs[2], C: xs[3], KH: ks[0], KW: ks[1], SH: strides[0], SW: strides[1],
			PadTop: padding[0], PadBottom: padding[1], PadLeft: padding[2], PadRight: padding[3]}
		if p.OutH() < 1 || p.OutW() < 1 {
			return p, fmt.Errorf("a %dx%d window does not fit x %v with padding %v", ks[0], ks[1], xs, padding)
		}
		return p, nil
	}
	dw := &depthwiseConv{name: name, window: window, strides: strides, padding: padding}
	return Apply(&Func{
		Name:      name,
		depthwise: dw,
		Shape: func(in []tensor.Shape) (tensor.Shape, error) {
			p, err := window(in[0], in[1])
			if err != nil {
				return nil, err
			}
			return tensor.Shape{p.N, p.OutH(), p.OutW(), p.C * in[1][3]}, nil
		},
		Forward: func(y []float32, x [][]float32, s []tensor.Shape) {
			p, _ := window(s[0], s[1])
			kernels.DepthwiseTo(y, x[0], x[1], p, s[1][3])
		},
		Grad: []func([]float32, [][]float32, []tensor.Shape, []float32, []float32){
			func(dx []float32, x [][]float32, s []tensor.Shape, _, dy []float32) {
				p, _ := window(s[0], s[1])
				kernels.DepthwiseBackwardTo(dx, nil, dy, x[0], x[1], p, s[1][3])
			},
			func(dk []float32, x [][]float32, s []tensor.Shape, _, dy []float32) {
				p, _ := window(s[0], s[1])
				kernels.DepthwiseBackwardTo(nil, dk, dy, x[0], x[1], p, s[1][3])
			},
		},
	}, x, kernel)
}

// depthwiseConv is a DepthwiseConv2D's window, for the Executor's fusion
// of the batch normalization after it (fuse_norm.go): it is the fused
// step's normConv.
type depthwiseConv struct {
	name    string
	window  func(xs, ks tensor.Shape) (kernels.Window, error)
	strides [2]int
	padding [4]int
}

func (d *depthwiseConv) normWindow(xs, ks tensor.Shape) (kernels.Window, int, error) {
	p, err := d.window(xs, ks)
	if err != nil {
		return p, 0, fmt.Errorf("graph: %s: %v", d.name, err)
	}
	return p, p.C * ks[3], nil
}

func (d *depthwiseConv) normRun(dst, x, kernel []float32, p kernels.Window, f int, ep kernels.Epilogue) {
	kernels.DepthwiseEpilogueTo(dst, x, kernel, p, f/p.C, ep)
}

func (d *depthwiseConv) ident() string  { return fmt.Sprintf("dw s%v p%v", d.strides, d.padding) }
func (d *depthwiseConv) String() string { return d.name }
