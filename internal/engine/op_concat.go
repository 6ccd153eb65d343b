package engine

import (
	"errors"
	"fmt"
	"hash"

	"github.com/capa-ml/capa/internal/kernels"
	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Concat joins float32 nodes of the same rank along axis (the batch axis
// is 0); the other dimensions must agree. Its gradient slices the output's
// gradient back into one piece per input. It replaces gorgonia.Concat,
// whose gradient analysis (v0.9.18) calls the first input of a
// concatenation of matrices non-differentiable.
func Concat(axis int, xs ...*G.Node) (*G.Node, error) {
	if len(xs) < 1 {
		return nil, errors.New("graph: Concat: no input")
	}
	if err := opFloat32("Concat", xs...); err != nil {
		return nil, err
	}
	s0 := xs[0].Shape()
	if axis < 0 || axis >= s0.Dims() {
		return nil, fmt.Errorf("graph: Concat: axis %d out of range for shape %v", axis, s0)
	}
	op := &concatOp{axis: axis, rank: s0.Dims()}
	for _, x := range xs {
		s := x.Shape()
		if s.Dims() != s0.Dims() {
			return nil, fmt.Errorf("graph: Concat: shapes %v and %v", s0, s)
		}
		for i := range s {
			if i != axis && s[i] != s0[i] {
				return nil, fmt.Errorf("graph: Concat along %d: shapes %v and %v", axis, s0, s)
			}
		}
		op.sizes = append(op.sizes, s[axis])
	}
	return G.ApplyOp(op, xs...)
}

type concatOp struct {
	opTraits
	axis, rank int
	sizes      []int // each input's size along axis
}

func (op *concatOp) Arity() int { return len(op.sizes) }
func (op *concatOp) Type() hm.Type {
	t := G.TensorType{Dims: op.rank, Of: hm.TypeVariable('a')}
	ts := make([]hm.Type, len(op.sizes)+1)
	for i := range ts {
		ts[i] = t
	}
	return hm.NewFnType(ts...)
}
func (op *concatOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	ss, err := opShapes(op, in)
	if err != nil {
		return nil, err
	}
	out := ss[0].Clone()
	out[op.axis] = 0
	for _, s := range ss {
		out[op.axis] += s[op.axis]
	}
	return out, nil
}

// blocks returns the number of outer blocks and the size of one inner
// unit (the product of the dimensions after axis) of shape s.
func (op *concatOp) blocks(s tensor.Shape) (outer, inner int) {
	outer, inner = 1, 1
	for i, d := range s {
		if i < op.axis {
			outer *= d
		} else if i > op.axis {
			inner *= d
		}
	}
	return outer, inner
}

func (op *concatOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }

// UsePreallocDo writes the concatenation into prealloc when it fits.
func (op *concatOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	d, err := opInputs(op, in)
	if err != nil {
		return nil, err
	}
	s := d[0].Shape().Clone()
	s[op.axis] = 0
	for _, x := range d {
		s[op.axis] += x.Shape()[op.axis]
	}
	out, err := opOutput(op, prealloc, s)
	if err != nil {
		return nil, err
	}
	outer, inner := op.blocks(s)
	srcs := make([][]float32, len(d))
	chunks := make([]int, len(d))
	for i, x := range d {
		srcs[i], chunks[i] = opF32(x), x.Shape()[op.axis]*inner
	}
	kernels.ConcatTo(opF32(out), srcs, outer, chunks)
	return out, nil
}
func (op *concatOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "capa.Concat{a%d,r%d,%v}", op.axis, op.rank, op.sizes)
}
func (op *concatOp) Hashcode() uint32 { return opHash(op) }
func (op *concatOp) String() string   { return fmt.Sprintf("Concat(axis=%d)", op.axis) }
func (op *concatOp) DiffWRT(n int) []bool {
	out := make([]bool, n)
	for i := range out {
		out[i] = true
	}
	return out
}

// SymDiff slices the gradient into one piece per input.
func (op *concatOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	out := make(G.Nodes, len(inputs))
	offset := 0
	for i, size := range op.sizes {
		s := &sliceOp{axis: op.axis, rank: op.rank, offset: offset, size: size}
		offset += size
		var err error
		if out[i], err = G.ApplyOp(s, grad); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// sliceOp takes size entries from offset along axis: the gradient of one
// input of a concatenation.
type sliceOp struct {
	opTraits
	axis, rank, offset, size int
}

func (op *sliceOp) Arity() int { return 1 }
func (op *sliceOp) Type() hm.Type {
	t := G.TensorType{Dims: op.rank, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t)
}
func (op *sliceOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	ss, err := opShapes(op, in)
	if err != nil {
		return nil, err
	}
	out := ss[0].Clone()
	out[op.axis] = op.size
	return out, nil
}
func (op *sliceOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }

// UsePreallocDo writes the slice into prealloc when it fits.
func (op *sliceOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	d, err := opInputs(op, in)
	if err != nil {
		return nil, err
	}
	s := d[0].Shape().Clone()
	total := s[op.axis]
	s[op.axis] = op.size
	out, err := opOutput(op, prealloc, s)
	if err != nil {
		return nil, err
	}
	c := concatOp{axis: op.axis}
	outer, inner := c.blocks(s)
	kernels.SliceTo(opF32(out), opF32(d[0]), outer, total*inner, op.offset*inner, op.size*inner)
	return out, nil
}
func (op *sliceOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "capa.Slice{a%d,r%d,%d,%d}", op.axis, op.rank, op.offset, op.size)
}
func (op *sliceOp) Hashcode() uint32 { return opHash(op) }
func (op *sliceOp) String() string {
	return fmt.Sprintf("Slice(axis=%d, %d:%d)", op.axis, op.offset, op.offset+op.size)
}
