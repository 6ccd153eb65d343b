package engine

import (
	"fmt"
	"hash"

	"github.com/capa-ml/capa/internal/kernels"
	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Softmax returns the softmax of each row of x, a float32 (batch, classes)
// matrix. Capa has its own op because Gorgonia v0.9.18's SoftMax and
// LogSoftMax hash alike, so a graph holding both merges them into one node.
func Softmax(x *G.Node) (*G.Node, error) {
	if err := opFloat32("Softmax", x); err != nil {
		return nil, err
	}
	if x.Dims() != 2 {
		return nil, fmt.Errorf("graph: Softmax needs a (batch, classes) matrix, got shape %v", x.Shape())
	}
	return G.ApplyOp(&softmaxOp{}, x)
}

// SoftmaxCrossEntropy returns the mean over the batch of the cross-entropy
// between softmax(logits) and target, both float32 (batch, classes): a
// scalar. It is computed from the logits, stable for any values, and its
// gradient with respect to the logits is (softmax(logits)·Σtarget -
// target)/batch, Σtarget the row's sum (1 for a distribution; a weighted
// sample's target row sums to its weight). The target gets no gradient.
func SoftmaxCrossEntropy(logits, target *G.Node) (*G.Node, error) {
	if err := opFloat32("SoftmaxCrossEntropy", logits, target); err != nil {
		return nil, err
	}
	if logits.Dims() != 2 || !logits.Shape().Eq(target.Shape()) {
		return nil, fmt.Errorf("graph: SoftmaxCrossEntropy needs (batch, classes) logits and targets of the same shape, got %v and %v", logits.Shape(), target.Shape())
	}
	return G.ApplyOp(&xentOp{probs: new([]float32)}, logits, target)
}

type softmaxOp struct {
	opTraits
}

func (op *softmaxOp) Arity() int { return 1 }
func (op *softmaxOp) Type() hm.Type {
	t := G.TensorType{Dims: 2, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t)
}
func (op *softmaxOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return firstShape(op, in)
}
func (op *softmaxOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }

// UsePreallocDo writes the softmax into prealloc when it fits.
func (op *softmaxOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	d, err := opInputs(op, in)
	if err != nil {
		return nil, err
	}
	out, err := opOutput(op, prealloc, d[0].Shape())
	if err != nil {
		return nil, err
	}
	kernels.SoftmaxTo(opF32(out), opF32(d[0]), d[0].Shape()[1])
	return out, nil
}
func (op *softmaxOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "capa.Softmax") }
func (op *softmaxOp) Hashcode() uint32      { return opHash(op) }
func (op *softmaxOp) String() string        { return "Softmax" }
func (op *softmaxOp) DiffWRT(int) []bool    { return []bool{true} }

// SymDiff applies softmaxDiffOp(y, dy).
func (op *softmaxOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&softmaxDiffOp{}, output, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx}, nil
}

// softmaxDiffOp computes y ⊙ (dy - Σ dy⊙y) from y and dy.
type softmaxDiffOp struct {
	opTraits
}

func (op *softmaxDiffOp) Arity() int { return 2 }
func (op *softmaxDiffOp) Type() hm.Type {
	t := G.TensorType{Dims: 2, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t, t)
}
func (op *softmaxDiffOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return firstShape(op, in)
}
func (op *softmaxDiffOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }
func (op *softmaxDiffOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	d, err := opInputs(op, in)
	if err != nil {
		return nil, err
	}
	out, err := opOutput(op, prealloc, d[0].Shape())
	if err != nil {
		return nil, err
	}
	kernels.SoftmaxBackwardTo(opF32(out), opF32(d[0]), opF32(d[1]), d[0].Shape()[1])
	return out, nil
}
func (op *softmaxDiffOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "capa.SoftmaxDiff") }
func (op *softmaxDiffOp) Hashcode() uint32      { return opHash(op) }
func (op *softmaxDiffOp) String() string        { return "SoftmaxDiff" }

// xentOp is the fused softmax cross-entropy. Its forward pass keeps the
// probabilities for the backward pass (one op per graph node; not safe for
// concurrent Do).
type xentOp struct {
	opTraits
	probs *[]float32
}

func (op *xentOp) Arity() int { return 2 }
func (op *xentOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	t := G.TensorType{Dims: 2, Of: a}
	return hm.NewFnType(t, t, a)
}
func (op *xentOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if _, err := opShapes(op, in); err != nil {
		return nil, err
	}
	return tensor.ScalarShape(), nil
}
func (op *xentOp) Do(in ...G.Value) (G.Value, error) {
	d, err := opInputs(op, in)
	if err != nil {
		return nil, err
	}
	z, t := opF32(d[0]), opF32(d[1])
	if len(*op.probs) != len(z) {
		*op.probs = make([]float32, len(z))
	}
	loss := kernels.SoftmaxCrossEntropy(*op.probs, z, t, d[0].Shape()[1])
	return G.NewF32(float32(loss)), nil
}
func (op *xentOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "capa.SoftmaxCrossEntropy{%p}", op.probs)
}
func (op *xentOp) Hashcode() uint32   { return opHash(op) }
func (op *xentOp) String() string     { return "SoftmaxCrossEntropy" }
func (op *xentOp) DiffWRT(int) []bool { return []bool{true, false} }

// SymDiff gives the logits the gradient (probs - target)·g/batch; the
// target none.
func (op *xentOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dz, err := G.ApplyOp(&xentDiffOp{fwd: op}, inputs[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dz, nil}, nil
}

// xentDiffOp computes the logits' gradient from the target and the
// upstream scalar gradient, with the forward pass's probabilities.
type xentDiffOp struct {
	opTraits
	fwd *xentOp
}

func (op *xentDiffOp) Arity() int { return 2 }
func (op *xentDiffOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	t := G.TensorType{Dims: 2, Of: a}
	return hm.NewFnType(t, a, t)
}
func (op *xentDiffOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return firstShape(op, in)
}
func (op *xentDiffOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }
func (op *xentDiffOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("graph: %v: got %d inputs, want 2", op, len(in))
	}
	t, ok := in[0].(*tensor.Dense)
	if !ok || t.Dtype() != tensor.Float32 {
		return nil, fmt.Errorf("graph: %v: target is %T, want float32", op, in[0])
	}
	g, ok := in[1].(*G.F32)
	if !ok {
		return nil, fmt.Errorf("graph: %v: upstream gradient is %T, want a float32 scalar", op, in[1])
	}
	probs := *op.fwd.probs
	if len(probs) != t.Shape().TotalSize() {
		return nil, fmt.Errorf("graph: %v: the forward pass has not run", op)
	}
	out, err := opOutput(op, prealloc, t.Shape())
	if err != nil {
		return nil, err
	}
	kernels.SoftmaxCrossEntropyBackwardTo(opF32(out), probs, opF32(t), t.Shape()[1], float32(*g))
	return out, nil
}
func (op *xentDiffOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "capa.SoftmaxCrossEntropyDiff{%p}", op.fwd.probs)
}
func (op *xentDiffOp) Hashcode() uint32 { return opHash(op) }
func (op *xentDiffOp) String() string   { return "SoftmaxCrossEntropyDiff" }
