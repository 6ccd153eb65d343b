package engine

import (
	"fmt"
	"hash"

	"github.com/capa-ml/capa/internal/kernels"
	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// MatMul returns the matrix product a·b of float32 matrices a (m, k) and b
// (k, n), with the transposes folded into the GEMM calls of its gradients
// (da = dy·bᵀ, db = aᵀ·dy) instead of materialized.
func MatMul(a, b *G.Node) (*G.Node, error) {
	if err := opFloat32("MatMul", a, b); err != nil {
		return nil, err
	}
	if a.Dims() != 2 || b.Dims() != 2 || a.Shape()[1] != b.Shape()[0] {
		return nil, fmt.Errorf("graph: MatMul needs (m, k) and (k, n) matrices, got %v and %v", a.Shape(), b.Shape())
	}
	return G.ApplyOp(&matMulOp{}, a, b)
}

// matMulOp computes op(a)·op(b) where op transposes when tA or tB is set.
type matMulOp struct {
	opTraits
	tA, tB bool
}

func (op *matMulOp) dims(as, bs tensor.Shape) (m, n, k int, err error) {
	if len(as) != 2 || len(bs) != 2 {
		return 0, 0, 0, fmt.Errorf("graph: %v needs matrices, got %v and %v", op, as, bs)
	}
	m, k = as[0], as[1]
	if op.tA {
		m, k = k, m
	}
	k2, n := bs[0], bs[1]
	if op.tB {
		k2, n = n, k2
	}
	if k != k2 {
		return 0, 0, 0, fmt.Errorf("graph: %v: inner dimensions differ: %v and %v", op, as, bs)
	}
	return m, n, k, nil
}

func (op *matMulOp) Arity() int { return 2 }
func (op *matMulOp) Type() hm.Type {
	t := G.TensorType{Dims: 2, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t, t)
}
func (op *matMulOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	ss, err := opShapes(op, in)
	if err != nil {
		return nil, err
	}
	m, n, _, err := op.dims(ss[0], ss[1])
	if err != nil {
		return nil, err
	}
	return tensor.Shape{m, n}, nil
}
func (op *matMulOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }

// UsePreallocDo writes the product into prealloc when it fits.
func (op *matMulOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	d, err := opInputs(op, in)
	if err != nil {
		return nil, err
	}
	as, bs := d[0].Shape(), d[1].Shape()
	m, n, k, err := op.dims(as, bs)
	if err != nil {
		return nil, err
	}
	out, err := opOutput(op, prealloc, tensor.Shape{m, n})
	if err != nil {
		return nil, err
	}
	kernels.Gemm(op.tA, op.tB, m, n, k, 1, opF32(d[0]), as[1], opF32(d[1]), bs[1], 0, opF32(out), n)
	return out, nil
}
func (op *matMulOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "capa.MatMul{%v %v}", op.tA, op.tB) }
func (op *matMulOp) Hashcode() uint32      { return opHash(op) }
func (op *matMulOp) String() string {
	return fmt.Sprintf("MatMul{tA %v, tB %v}", op.tA, op.tB)
}
func (op *matMulOp) DiffWRT(int) []bool { return []bool{true, true} }

// SymDiff of y = a·b (no transposes): da = dy·bᵀ, db = aᵀ·dy.
func (op *matMulOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if op.tA || op.tB {
		return nil, fmt.Errorf("graph: %v: gradients of transposed products are not needed and not implemented", op)
	}
	da, err := G.ApplyOp(&matMulOp{tB: true}, grad, inputs[1])
	if err != nil {
		return nil, err
	}
	db, err := G.ApplyOp(&matMulOp{tA: true}, inputs[0], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{da, db}, nil
}
