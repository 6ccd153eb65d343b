package engine

import (
	"errors"
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// UnaryFunc is an element-wise function with its derivative, for Unary.
type UnaryFunc struct {
	// Name identifies the function and its parameters ("elu(1)"): two
	// UnaryFuncs with the same name must compute the same thing.
	Name string
	// F is the function.
	F func(x float32) float32
	// D is its derivative at x, given y = F(x) (whichever is cheaper).
	D func(x, y float32) float32
}

// Unary applies f element by element to a float32 tensor of any shape, in
// one op forward (y = F(x)) and one backward (dx = dy·D(x, y)): the
// activations that Gorgonia would build from several ops (ELU, GELU,
// swish, hard sigmoid, ...).
func Unary(x *G.Node, f UnaryFunc) (*G.Node, error) {
	if f.F == nil || f.D == nil || f.Name == "" {
		return nil, errors.New("graph: Unary: the function needs a name, F and D")
	}
	if err := opFloat32("Unary "+f.Name, x); err != nil {
		return nil, err
	}
	return G.ApplyOp(&unaryOp{f: f, rank: x.Dims()}, x)
}

type unaryOp struct {
	opTraits
	f    UnaryFunc
	rank int
}

func (op *unaryOp) Arity() int { return 1 }
func (op *unaryOp) Type() hm.Type {
	t := G.TensorType{Dims: op.rank, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t)
}
func (op *unaryOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return firstShape(op, in) }
func (op *unaryOp) Do(in ...G.Value) (G.Value, error)                 { return op.UsePreallocDo(nil, in...) }

// UsePreallocDo writes F(x) into prealloc when it fits.
func (op *unaryOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	d, err := opInputs(op, in)
	if err != nil {
		return nil, err
	}
	out, err := opOutput(op, prealloc, d[0].Shape())
	if err != nil {
		return nil, err
	}
	y, x := opF32(out), opF32(d[0])
	for i, v := range x {
		y[i] = op.f.F(v)
	}
	return out, nil
}
func (op *unaryOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "capa.Unary{%s,r%d}", op.f.Name, op.rank) }
func (op *unaryOp) Hashcode() uint32      { return opHash(op) }
func (op *unaryOp) String() string        { return op.f.Name }
func (op *unaryOp) DiffWRT(int) []bool    { return []bool{true} }

// SymDiff applies unaryDiffOp(x, y, dy).
func (op *unaryOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&unaryDiffOp{f: op.f, rank: op.rank}, inputs[0], output, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx}, nil
}

// unaryDiffOp computes dy·D(x, y).
type unaryDiffOp struct {
	opTraits
	f    UnaryFunc
	rank int
}

func (op *unaryDiffOp) Arity() int { return 3 }
func (op *unaryDiffOp) Type() hm.Type {
	t := G.TensorType{Dims: op.rank, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t, t, t)
}
func (op *unaryDiffOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return firstShape(op, in)
}
func (op *unaryDiffOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }
func (op *unaryDiffOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	d, err := opInputs(op, in)
	if err != nil {
		return nil, err
	}
	out, err := opOutput(op, prealloc, d[0].Shape())
	if err != nil {
		return nil, err
	}
	dx, x, y, dy := opF32(out), opF32(d[0]), opF32(d[1]), opF32(d[2])
	for i := range dx {
		dx[i] = dy[i] * op.f.D(x[i], y[i])
	}
	return out, nil
}
func (op *unaryDiffOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "capa.UnaryDiff{%s,r%d}", op.f.Name, op.rank)
}
func (op *unaryDiffOp) Hashcode() uint32 { return opHash(op) }
func (op *unaryDiffOp) String() string   { return op.f.Name + "'" }
