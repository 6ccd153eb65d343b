package engine

import (
	"fmt"
	"hash"

	"github.com/capa-ml/capa/internal/kernels"
	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// DepthwiseConv2D convolves each channel of x (N, H, W, C) with its own
// filters, kernel (KH, KW, C, dm): an (N, OH, OW, C*dm) node whose channel
// c*dm + m is input channel c through filter m (Keras's DepthwiseConv2D,
// depth_multiplier dm). padding is (top, bottom, left, right). A direct
// kernel (kernels.DepthwiseTo), forward and backward; gradients flow to x
// and to kernel.
func DepthwiseConv2D(x, kernel *G.Node, strides [2]int, padding [4]int) (*G.Node, error) {
	if err := opFloat32("DepthwiseConv2D", x, kernel); err != nil {
		return nil, err
	}
	if err := opCheckWindow("DepthwiseConv2D", strides, padding); err != nil {
		return nil, err
	}
	xs, ks := x.Shape(), kernel.Shape()
	if xs.Dims() != 4 || ks.Dims() != 4 || ks[2] != xs[3] {
		return nil, fmt.Errorf("graph: DepthwiseConv2D needs x (N, H, W, C) and kernel (KH, KW, C, dm), got %v and %v", xs, ks)
	}
	op := &depthwiseOp{strides: strides, pad: padding}
	if _, err := op.window(xs, ks); err != nil {
		return nil, err
	}
	return G.ApplyOp(op, x, kernel)
}

type depthwiseOp struct {
	opTraits
	strides [2]int
	pad     [4]int
}

func (op *depthwiseOp) window(xs, ks tensor.Shape) (kernels.Window, error) {
	p := kernels.Window{N: xs[0], H: xs[1], W: xs[2], C: xs[3], KH: ks[0], KW: ks[1], SH: op.strides[0], SW: op.strides[1],
		PadTop: op.pad[0], PadBottom: op.pad[1], PadLeft: op.pad[2], PadRight: op.pad[3]}
	return p, opFits(op, p, xs, ks)
}

func (op *depthwiseOp) Arity() int { return 2 }
func (op *depthwiseOp) Type() hm.Type {
	t := G.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t, t)
}
func (op *depthwiseOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	ss, err := opShapes(op, in)
	if err != nil {
		return nil, err
	}
	p, err := op.window(ss[0], ss[1])
	if err != nil {
		return nil, err
	}
	return tensor.Shape{p.N, p.OutH(), p.OutW(), p.C * ss[1][3]}, nil
}
func (op *depthwiseOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }

// UsePreallocDo writes the convolution into prealloc when it fits.
func (op *depthwiseOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	d, err := opInputs(op, in)
	if err != nil {
		return nil, err
	}
	xs, ks := d[0].Shape(), d[1].Shape()
	p, err := op.window(xs, ks)
	if err != nil {
		return nil, err
	}
	out, err := opOutput(op, prealloc, tensor.Shape{p.N, p.OutH(), p.OutW(), p.C * ks[3]})
	if err != nil {
		return nil, err
	}
	kernels.DepthwiseTo(opF32(out), opF32(d[0]), opF32(d[1]), p, ks[3])
	return out, nil
}
func (op *depthwiseOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "capa.Depthwise{%v,%v}", op.strides, op.pad)
}
func (op *depthwiseOp) Hashcode() uint32 { return opHash(op) }
func (op *depthwiseOp) String() string {
	return fmt.Sprintf("DepthwiseConv2D{%v,%v}", op.strides, op.pad)
}
func (op *depthwiseOp) DiffWRT(int) []bool { return []bool{true, true} }

// SymDiff builds the gradients of x and of the kernel.
func (op *depthwiseOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&depthwiseBackOp{depthwiseOp: *op, wrtKernel: false}, grad, inputs[0], inputs[1])
	if err != nil {
		return nil, err
	}
	dk, err := G.ApplyOp(&depthwiseBackOp{depthwiseOp: *op, wrtKernel: true}, grad, inputs[0], inputs[1])
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dk}, nil
}

// depthwiseBackOp computes, from (dy, x, kernel), the gradient of x or of
// the kernel.
type depthwiseBackOp struct {
	depthwiseOp
	wrtKernel bool
}

func (op *depthwiseBackOp) Arity() int { return 3 }
func (op *depthwiseBackOp) Type() hm.Type {
	t := G.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t, t, t)
}
func (op *depthwiseBackOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	ss, err := opShapes(op, in)
	if err != nil {
		return nil, err
	}
	if op.wrtKernel {
		return ss[2].Clone(), nil
	}
	return ss[1].Clone(), nil
}
func (op *depthwiseBackOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }
func (op *depthwiseBackOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	d, err := opInputs(op, in)
	if err != nil {
		return nil, err
	}
	xs, ks := d[1].Shape(), d[2].Shape()
	p, err := op.window(xs, ks)
	if err != nil {
		return nil, err
	}
	s := xs
	if op.wrtKernel {
		s = ks
	}
	out, err := opOutput(op, prealloc, s)
	if err != nil {
		return nil, err
	}
	if op.wrtKernel {
		kernels.DepthwiseBackwardTo(nil, opF32(out), opF32(d[0]), opF32(d[1]), opF32(d[2]), p, ks[3])
	} else {
		kernels.DepthwiseBackwardTo(opF32(out), nil, opF32(d[0]), opF32(d[1]), opF32(d[2]), p, ks[3])
	}
	return out, nil
}
func (op *depthwiseBackOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "capa.DepthwiseBack{%v,%v,%v}", op.strides, op.pad, op.wrtKernel)
}
func (op *depthwiseBackOp) Hashcode() uint32 { return opHash(op) }
func (op *depthwiseBackOp) String() string {
	return fmt.Sprintf("DepthwiseConv2DBack{kernel %v}", op.wrtKernel)
}
