package engine

import (
	"fmt"
	"hash"

	"github.com/capa-ml/capa/internal/kernels"
	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BiasAdd returns x + bias with the 1-D bias broadcast along the last axis
// of x (the channels of an NHWC tensor, the units of an (N, units) matrix).
// x must have rank >= 2 and len(bias) must equal its last dimension; both
// must be float32. Gradients flow to x (the output gradient itself) and to
// bias (the output gradient summed over all but the last axis).
func BiasAdd(x, bias *G.Node) (*G.Node, error) {
	if err := opFloat32("BiasAdd", x, bias); err != nil {
		return nil, err
	}
	if x.Dims() < 2 {
		return nil, fmt.Errorf("graph: BiasAdd: x must have rank >= 2, got shape %v", x.Shape())
	}
	y, err := G.ApplyOp(&biasAddOp{rank: x.Dims()}, x, bias)
	if err != nil {
		return nil, fmt.Errorf("graph: BiasAdd of x %v and bias %v: %w", x.Shape(), bias.Shape(), err)
	}
	return y, nil
}

// biasAddOp adds a 1-D bias along the last axis of a rank-`rank` tensor.
type biasAddOp struct {
	opTraits
	rank int
}

func (op *biasAddOp) Arity() int { return 2 }

// Type is a → b → a with a of rank op.rank and b of rank 1.
func (op *biasAddOp) Type() hm.Type {
	e := hm.TypeVariable('a')
	t := G.TensorType{Dims: op.rank, Of: e}
	return hm.NewFnType(t, G.TensorType{Dims: 1, Of: e}, t)
}

// check validates the shapes of x and bias.
func (op *biasAddOp) check(xs, bs tensor.Shape) error {
	if len(xs) != op.rank || len(xs) < 2 {
		return fmt.Errorf("graph: %v: x must have rank %d (>= 2), got shape %v", op, op.rank, xs)
	}
	if len(bs) != 1 || bs[0] != xs[len(xs)-1] {
		return fmt.Errorf("graph: %v: bias must be 1-D of length %d (the last axis of x %v), got shape %v", op, xs[len(xs)-1], xs, bs)
	}
	return nil
}

func (op *biasAddOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	ss, err := opShapes(op, in)
	if err != nil {
		return nil, err
	}
	if err := op.check(ss[0], ss[1]); err != nil {
		return nil, err
	}
	return ss[0].Clone(), nil
}

func (op *biasAddOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }

// UsePreallocDo writes x + bias into prealloc when it is a float32 tensor of
// the shape of x, otherwise into a new tensor.
func (op *biasAddOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	d, err := opInputs(op, in)
	if err != nil {
		return nil, err
	}
	if err := op.check(d[0].Shape(), d[1].Shape()); err != nil {
		return nil, err
	}
	out, err := opOutput(op, prealloc, d[0].Shape())
	if err != nil {
		return nil, err
	}
	kernels.BiasAddTo(opF32(out), opF32(d[0]), opF32(d[1]))
	return out, nil
}

func (op *biasAddOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "capa.BiasAdd{r%d}", op.rank) }
func (op *biasAddOp) Hashcode() uint32      { return opHash(op) }
func (op *biasAddOp) String() string        { return fmt.Sprintf("BiasAdd{rank %d}", op.rank) }

// DiffWRT: differentiable with respect to x and bias.
func (op *biasAddOp) DiffWRT(int) []bool { return []bool{true, true} }

// SymDiff returns grad itself for x and biasGradOp(grad) for bias.
func (op *biasAddOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if len(inputs) != 2 {
		return nil, fmt.Errorf("graph: %v: SymDiff got %d inputs, want 2", op, len(inputs))
	}
	db, err := G.ApplyOp(&biasGradOp{rank: op.rank}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{grad, db}, nil
}

// biasGradOp sums a rank-`rank` tensor over all but its last axis.
type biasGradOp struct {
	opTraits
	rank int
}

func (op *biasGradOp) Arity() int { return 1 }

// Type is a → b with a of rank op.rank and b of rank 1.
func (op *biasGradOp) Type() hm.Type {
	e := hm.TypeVariable('a')
	return hm.NewFnType(G.TensorType{Dims: op.rank, Of: e}, G.TensorType{Dims: 1, Of: e})
}

func (op *biasGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	ss, err := opShapes(op, in)
	if err != nil {
		return nil, err
	}
	if len(ss[0]) != op.rank || op.rank < 2 {
		return nil, fmt.Errorf("graph: %v: gradient must have rank %d, got shape %v", op, op.rank, ss[0])
	}
	return tensor.Shape{ss[0][op.rank-1]}, nil
}

func (op *biasGradOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }

// UsePreallocDo writes the bias gradient into prealloc when it is a float32
// vector of the right length, otherwise into a new tensor.
func (op *biasGradOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	d, err := opInputs(op, in)
	if err != nil {
		return nil, err
	}
	s := d[0].Shape()
	if len(s) != op.rank {
		return nil, fmt.Errorf("graph: %v: gradient must have rank %d, got shape %v", op, op.rank, s)
	}
	out, err := opOutput(op, prealloc, tensor.Shape{s[len(s)-1]})
	if err != nil {
		return nil, err
	}
	kernels.BiasGradTo(opF32(out), opF32(d[0]))
	return out, nil
}

func (op *biasGradOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "capa.BiasGrad{r%d}", op.rank) }
func (op *biasGradOp) Hashcode() uint32      { return opHash(op) }
func (op *biasGradOp) String() string        { return fmt.Sprintf("BiasGrad{rank %d}", op.rank) }
