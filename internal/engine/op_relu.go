package engine

import (
	"fmt"
	"hash"

	"github.com/capa-ml/capa/internal/kernels"
	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Relu returns max(x, 0) elementwise for a float32 tensor of any shape. Its
// gradient is dy where the output is positive and 0 elsewhere (0 at 0, as
// in Keras). One op forward and one backward, where Gorgonia's Rectify
// builds a comparison and a product.
func Relu(x *G.Node) (*G.Node, error) {
	if err := opFloat32("Relu", x); err != nil {
		return nil, err
	}
	return G.ApplyOp(&reluOp{rank: x.Dims()}, x)
}

type reluOp struct {
	opTraits
	rank int
}

func (op *reluOp) Arity() int { return 1 }
func (op *reluOp) Type() hm.Type {
	t := G.TensorType{Dims: op.rank, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t)
}
func (op *reluOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return firstShape(op, in)
}
func (op *reluOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }

// UsePreallocDo writes max(x, 0) into prealloc when it fits.
func (op *reluOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	d, err := opInputs(op, in)
	if err != nil {
		return nil, err
	}
	out, err := opOutput(op, prealloc, d[0].Shape())
	if err != nil {
		return nil, err
	}
	kernels.ReluTo(opF32(out), opF32(d[0]))
	return out, nil
}
func (op *reluOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "capa.Relu{r%d}", op.rank) }
func (op *reluOp) Hashcode() uint32      { return opHash(op) }
func (op *reluOp) String() string        { return "Relu" }
func (op *reluOp) DiffWRT(int) []bool    { return []bool{true} }

// SymDiff applies reluDiffOp(y, dy).
func (op *reluOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&reluDiffOp{rank: op.rank}, output, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx}, nil
}

// reluDiffOp computes dy·[y > 0] from the output y and its gradient dy.
type reluDiffOp struct {
	opTraits
	rank int
}

func (op *reluDiffOp) Arity() int { return 2 }
func (op *reluDiffOp) Type() hm.Type {
	t := G.TensorType{Dims: op.rank, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t, t)
}
func (op *reluDiffOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return firstShape(op, in)
}
func (op *reluDiffOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }
func (op *reluDiffOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	d, err := opInputs(op, in)
	if err != nil {
		return nil, err
	}
	out, err := opOutput(op, prealloc, d[0].Shape())
	if err != nil {
		return nil, err
	}
	kernels.ReluBackwardTo(opF32(out), opF32(d[0]), opF32(d[1]))
	return out, nil
}
func (op *reluDiffOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "capa.ReluDiff{r%d}", op.rank) }
func (op *reluDiffOp) Hashcode() uint32      { return opHash(op) }
func (op *reluDiffOp) String() string        { return "ReluDiff" }
