package engine

import (
	"fmt"
	"hash"

	"github.com/capa-ml/capa/internal/kernels"
	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BiasRelu returns max(x + bias, 0), the bias broadcast along x's last axis:
// BiasAdd followed by Relu in one op, so the data is read once forward and
// once backward (where the bias gradient is summed while the ReLU's mask is
// applied). Conv2D and Dense use it for their default bias with a "relu"
// activation.
func BiasRelu(x, bias *G.Node) (*G.Node, error) {
	if err := opFloat32("BiasRelu", x, bias); err != nil {
		return nil, err
	}
	if x.Dims() < 2 {
		return nil, fmt.Errorf("graph: BiasRelu: x must have rank >= 2, got shape %v", x.Shape())
	}
	op := &biasReluOp{biasAddOp{rank: x.Dims()}}
	y, err := G.ApplyOp(op, x, bias)
	if err != nil {
		return nil, fmt.Errorf("graph: BiasRelu of x %v and bias %v: %w", x.Shape(), bias.Shape(), err)
	}
	return y, nil
}

// biasReluOp shares biasAddOp's type and shape checks.
type biasReluOp struct{ biasAddOp }

func (op *biasReluOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }

// UsePreallocDo writes max(x + bias, 0) into prealloc when it fits.
func (op *biasReluOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
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
	kernels.BiasReluTo(opF32(out), opF32(d[0]), opF32(d[1]))
	return out, nil
}

func (op *biasReluOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "capa.BiasRelu{r%d}", op.rank) }
func (op *biasReluOp) Hashcode() uint32      { return opHash(op) }
func (op *biasReluOp) String() string        { return fmt.Sprintf("BiasRelu{rank %d}", op.rank) }

// SymDiff computes both gradients with one biasReluDiffOp of (y, dy), whose
// output packs dx; the bias gradient is read from it by biasReluDBOp.
func (op *biasReluOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if len(inputs) != 2 {
		return nil, fmt.Errorf("graph: %v: SymDiff got %d inputs, want 2", op, len(inputs))
	}
	dx, db, err := biasReluGrads(op.rank, output, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, db}, nil
}

// biasReluGrads builds the gradients of y = max(x + bias, 0) of the given
// rank from y and its gradient dy: dx from one biasReluDiffOp, which sums
// the bias gradient in the same pass, and db from a biasReluDBOp reading it.
func biasReluGrads(rank int, y, dy *G.Node) (dx, db *G.Node, err error) {
	diff := &biasReluDiffOp{rank: rank, db: new([]float32)}
	if dx, err = G.ApplyOp(diff, y, dy); err != nil {
		return nil, nil, err
	}
	if db, err = G.ApplyOp(&biasReluDBOp{diff: diff}, dx); err != nil {
		return nil, nil, err
	}
	return dx, db, nil
}

// biasReluDiffOp computes dx = dy·[y > 0] from (y, dy) and, in the same
// pass, the bias gradient, which it keeps for biasReluDBOp (whose input is
// dx, so it runs after). Not safe for concurrent Do.
type biasReluDiffOp struct {
	opTraits

	rank int
	db   *[]float32
}

func (op *biasReluDiffOp) Arity() int { return 2 }
func (op *biasReluDiffOp) Type() hm.Type {
	t := G.TensorType{Dims: op.rank, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t, t)
}
func (op *biasReluDiffOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	ss, err := opShapes(op, in)
	if err != nil {
		return nil, err
	}
	if !ss[0].Eq(ss[1]) {
		return nil, fmt.Errorf("graph: %v: output %v and its gradient %v differ in shape", op, ss[0], ss[1])
	}
	return ss[0].Clone(), nil
}
func (op *biasReluDiffOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }
func (op *biasReluDiffOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	d, err := opInputs(op, in)
	if err != nil {
		return nil, err
	}
	s := d[0].Shape()
	out, err := opOutput(op, prealloc, s)
	if err != nil {
		return nil, err
	}
	f := s[len(s)-1]
	if len(*op.db) != f {
		*op.db = make([]float32, f)
	}
	kernels.BiasReluBackwardTo(opF32(out), *op.db, opF32(d[0]), opF32(d[1]))
	return out, nil
}
func (op *biasReluDiffOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "capa.BiasReluDiff{r%d %p}", op.rank, op.db)
}
func (op *biasReluDiffOp) Hashcode() uint32 { return opHash(op) }
func (op *biasReluDiffOp) String() string   { return fmt.Sprintf("BiasReluDiff{rank %d}", op.rank) }

// biasReluDBOp returns the bias gradient computed by its biasReluDiffOp;
// its input is that op's output, only to order it after it.
type biasReluDBOp struct {
	opTraits
	diff *biasReluDiffOp
}

func (op *biasReluDBOp) Arity() int { return 1 }
func (op *biasReluDBOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(G.TensorType{Dims: op.diff.rank, Of: a}, G.TensorType{Dims: 1, Of: a})
}
func (op *biasReluDBOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	ss, err := opShapes(op, in)
	if err != nil {
		return nil, err
	}
	return tensor.Shape{ss[0][len(ss[0])-1]}, nil
}
func (op *biasReluDBOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }
func (op *biasReluDBOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	d, err := opInputs(op, in)
	if err != nil {
		return nil, err
	}
	s := d[0].Shape()
	db := *op.diff.db
	if len(db) != s[len(s)-1] {
		return nil, fmt.Errorf("graph: %v: the gradient op has not run", op)
	}
	out, err := opOutput(op, prealloc, tensor.Shape{len(db)})
	if err != nil {
		return nil, err
	}
	copy(opF32(out), db)
	return out, nil
}
func (op *biasReluDBOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "capa.BiasReluDB{%p}", op.diff.db)
}
func (op *biasReluDBOp) Hashcode() uint32 { return opHash(op) }
func (op *biasReluDBOp) String() string   { return "BiasReluDB" }
