package engine

import (
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/capa-ml/capa/internal/kernels"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Helpers shared by Capa's Gorgonia ops (op_*.go).

// opTraits gives an op Gorgonia's analysis answers that hold for all of
// Capa's ops: they return a fresh value (or write the buffer they are
// given), call nothing external and never overwrite an input.
type opTraits struct{}

// ReturnsPtr is false: the output is never one of the inputs.
func (opTraits) ReturnsPtr() bool { return false }

// CallsExtern is false: Capa's ops run on the CPU.
func (opTraits) CallsExtern() bool { return false }

// OverwritesInput is -1: no input is overwritten.
func (opTraits) OverwritesInput() int { return -1 }

// OverwritesPrealloc is true: UsePreallocDo writes every value of its
// buffer (see PreallocOverwriter).
func (opTraits) OverwritesPrealloc() bool { return true }

// opFloat32 returns an error unless every node is float32.
func opFloat32(name string, nodes ...*G.Node) error {
	for i, n := range nodes {
		if dt := n.Dtype(); dt != tensor.Float32 {
			return fmt.Errorf("graph: %s: input %d (%v) is %v, only float32 is supported", name, i, n.Shape(), dt)
		}
	}
	return nil
}

// opCheckWindow validates strides (positive) and padding (non-negative).
func opCheckWindow(name string, strides [2]int, padding [4]int) error {
	if strides[0] < 1 || strides[1] < 1 {
		return fmt.Errorf("graph: %s: strides must be positive, got %v", name, strides)
	}
	for _, v := range padding {
		if v < 0 {
			return fmt.Errorf("graph: %s: padding (top, bottom, left, right) must be non-negative, got %v", name, padding)
		}
	}
	return nil
}

// opFits returns an error unless the window p fits the padded input.
// ks is the kernel (or pool) shape, for the message.
func opFits(op G.Op, p kernels.Window, xs, ks tensor.Shape) error {
	if p.KH < 1 || p.KW < 1 || p.SH < 1 || p.SW < 1 {
		return fmt.Errorf("graph: %v: window %dx%d and strides (%d, %d) must be positive", op, p.KH, p.KW, p.SH, p.SW)
	}
	if p.H+p.PadTop+p.PadBottom < p.KH || p.W+p.PadLeft+p.PadRight < p.KW {
		return fmt.Errorf("graph: %v: a %dx%d window (%v) does not fit input %v padded to %dx%d",
			op, p.KH, p.KW, ks, xs, p.H+p.PadTop+p.PadBottom, p.W+p.PadLeft+p.PadRight)
	}
	for _, d := range xs {
		if d < 1 {
			return fmt.Errorf("graph: %v: input shape %v has an empty dimension", op, xs)
		}
	}
	return nil
}

// opShapes checks the arity and returns the input shapes.
func opShapes(op G.Op, in []G.DimSizer) ([]tensor.Shape, error) {
	if len(in) != op.Arity() {
		return nil, fmt.Errorf("graph: %v: got %d inputs, want %d", op, len(in), op.Arity())
	}
	ss, err := G.DimSizersToShapes(in)
	if err != nil {
		return nil, fmt.Errorf("graph: %v: %w", op, err)
	}
	return ss, nil
}

// opInputs checks the arity and returns the inputs as contiguous float32
// dense tensors.
func opInputs(op G.Op, in []G.Value) ([]*tensor.Dense, error) {
	if len(in) != op.Arity() {
		return nil, fmt.Errorf("graph: %v: got %d inputs, want %d", op, len(in), op.Arity())
	}
	d := make([]*tensor.Dense, len(in))
	for i, v := range in {
		t, ok := v.(*tensor.Dense)
		if !ok || t.Dtype() != tensor.Float32 {
			return nil, fmt.Errorf("graph: %v: input %d is %T, want a float32 *tensor.Dense", op, i, v)
		}
		if t.RequiresIterator() || !t.IsNativelyAccessible() {
			return nil, fmt.Errorf("graph: %v: input %d (%v) is not a contiguous dense tensor", op, i, t.Shape())
		}
		d[i] = t
	}
	return d, nil
}

// valueShapes returns the shapes of the values d.
func valueShapes(d []*tensor.Dense) []tensor.Shape {
	ss := make([]tensor.Shape, len(d))
	for i, v := range d {
		ss[i] = v.Shape()
	}
	return ss
}

// nodeShapes returns the shapes of the nodes ns.
func nodeShapes(ns []*G.Node) []tensor.Shape {
	ss := make([]tensor.Shape, len(ns))
	for i, n := range ns {
		ss[i] = n.Shape()
	}
	return ss
}

// opOutput returns prealloc if it is a contiguous float32 dense tensor of
// shape s, a new tensor if prealloc is nil, and an error otherwise (the tape
// machine then falls back to Do).
func opOutput(op G.Op, prealloc G.Value, s tensor.Shape) (*tensor.Dense, error) {
	if prealloc == nil {
		return tensor.New(tensor.WithShape(s.Clone()...), tensor.Of(tensor.Float32)), nil
	}
	p, ok := prealloc.(*tensor.Dense)
	if !ok || p.Dtype() != tensor.Float32 || !p.Shape().Eq(s) || p.RequiresIterator() || !p.IsNativelyAccessible() {
		return nil, fmt.Errorf("graph: %v: preallocated %T %v cannot hold a float32 %v", op, prealloc, G.TypeOf(prealloc), s)
	}
	return p, nil
}

// opF32 returns the data of a contiguous float32 dense tensor, exactly
// Shape().TotalSize() long.
func opF32(t *tensor.Dense) []float32 { return t.Data().([]float32)[:t.Shape().TotalSize()] }

// opHash is Gorgonia's simpleHash: FNV-32a of WriteHash.
func opHash(op interface{ WriteHash(hash.Hash) }) uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}

// firstShape is the InferShape of ops whose output has the shape of their
// first input.
func firstShape(op G.Op, in []G.DimSizer) (tensor.Shape, error) {
	ss, err := opShapes(op, in)
	if err != nil {
		return nil, err
	}
	return ss[0].Clone(), nil
}

// opInput checks the arity of in and returns in[i] as a contiguous float32
// dense tensor.
func opInput(op G.Op, in []G.Value, i int) (*tensor.Dense, error) {
	d, err := opInputs(op, in)
	if err != nil {
		return nil, err
	}
	return d[i], nil
}
