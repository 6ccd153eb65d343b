package engine

import (
	"fmt"
	"hash"

	"github.com/capa-ml/capa/internal/kernels"
	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Conv2DBiasRelu returns max(Convolution2D(x, kernel) + bias, 0), bias
// (F,) broadcast along the filters: a Conv2D layer with its bias and a
// "relu" activation as one op. The bias and the ReLU run on each block of
// output rows just after its product, while it is in cache (see
// kernels.Epilogue), instead of in a second pass over the whole output; the
// values are bit for bit those of Convolution2D followed by BiasRelu.
// Gradients flow to x, kernel and bias. The errors are Convolution2D's and
// BiasRelu's.
func Conv2DBiasRelu(x, kernel, bias *G.Node, strides [2]int, padding [4]int) (*G.Node, error) {
	if err := opFloat32("Conv2DBiasRelu", x, kernel, bias); err != nil {
		return nil, err
	}
	if err := opCheckWindow("Conv2DBiasRelu", strides, padding); err != nil {
		return nil, err
	}
	op := &conv2dBiasReluOp{conv2dOp{strides: strides, pad: padding, scratch: new(convScratch)}}
	y, err := G.ApplyOp(op, x, kernel, bias)
	if err != nil {
		return nil, fmt.Errorf("graph: Conv2DBiasRelu of x %v with kernel %v and bias %v: %w", x.Shape(), kernel.Shape(), bias.Shape(), err)
	}
	return y, nil
}

// conv2dBiasReluOp is the convolution with the bias and ReLU as its
// epilogue: inputs x (N, H, W, C), kernel (KH, KW, C, F) and bias (F,),
// output (N, OH, OW, F). It shares conv2dOp's window, kernels and
// scratch; not safe for concurrent Do.
type conv2dBiasReluOp struct{ conv2dOp }

func (op *conv2dBiasReluOp) Arity() int { return 3 }

// Type is a → b → c → a with a a rank-4 and c a rank-1 tensor type.
func (op *conv2dBiasReluOp) Type() hm.Type {
	t := G.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	b := G.TensorType{Dims: 1, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t, b, t)
}

// window validates x and kernel as Convolution2D does and the bias against
// the filters.
func (op *conv2dBiasReluOp) window(xs, ks, bs tensor.Shape) (kernels.Window, int, error) {
	p, f, err := op.conv2dOp.window(xs, ks)
	if err != nil {
		return p, f, err
	}
	if len(bs) != 1 || bs[0] != f {
		return p, f, fmt.Errorf("graph: %v: bias must be 1-D of length %d (the kernel %v's filters), got shape %v", op, f, ks, bs)
	}
	return p, f, nil
}

func (op *conv2dBiasReluOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	ss, err := opShapes(op, in)
	if err != nil {
		return nil, err
	}
	p, f, err := op.window(ss[0], ss[1], ss[2])
	if err != nil {
		return nil, err
	}
	return tensor.Shape{p.N, p.OutH(), p.OutW(), f}, nil
}

func (op *conv2dBiasReluOp) Do(in ...G.Value) (G.Value, error) {
	return op.UsePreallocDo(nil, in...)
}

// UsePreallocDo writes the result into prealloc when it is a float32 tensor
// of the output shape, otherwise into a new tensor.
func (op *conv2dBiasReluOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	d, err := opInputs(op, in)
	if err != nil {
		return nil, err
	}
	p, f, err := op.window(d[0].Shape(), d[1].Shape(), d[2].Shape())
	if err != nil {
		return nil, err
	}
	out, err := opOutput(op, prealloc, tensor.Shape{p.N, p.OutH(), p.OutW(), f})
	if err != nil {
		return nil, err
	}
	op.run(opF32(out), opF32(d[0]), opF32(d[1]), p, f, kernels.Epilogue{Bias: opF32(d[2]), Relu: true})
	return out, nil
}

func (op *conv2dBiasReluOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "capa.Conv2DBiasRelu{s%v p%v}", op.strides, op.pad)
}
func (op *conv2dBiasReluOp) Hashcode() uint32 { return opHash(op) }
func (op *conv2dBiasReluOp) String() string {
	return fmt.Sprintf("Conv2DBiasRelu{strides %v, padding %v}", op.strides, op.pad)
}

// DiffWRT: the op is differentiable with respect to x, kernel and bias.
func (op *conv2dBiasReluOp) DiffWRT(int) []bool { return []bool{true, true, true} }

// SymDiff builds the ReLU's and the bias's gradients from the output as
// BiasRelu does (dz = dy·[y > 0] and its sum), then the convolution's
// gradients of x and kernel from dz.
func (op *conv2dBiasReluOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if len(inputs) != 3 {
		return nil, fmt.Errorf("graph: %v: SymDiff got %d inputs, want 3", op, len(inputs))
	}
	dz, db, err := biasReluGrads(4, output, grad)
	if err != nil {
		return nil, err
	}
	g, err := op.conv2dOp.SymDiff(inputs[:2], output, dz)
	if err != nil {
		return nil, err
	}
	return G.Nodes{g[0], g[1], db}, nil
}
