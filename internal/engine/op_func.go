package engine

import (
	"errors"
	"fmt"
	"hash"
	"sync/atomic"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Func is an op given by its functions on float32 slices: the way to add
// an op whose forward and gradients are plain loops (or kernels), without
// writing a Gorgonia op type. Apply makes a node of it.
//
// The slices are the tensors' row-major data; shapes are the inputs'
// shapes, batch dimension first. Every function must write every element
// of its destination (which may hold stale values).
type Func struct {
	// Name identifies the op and its parameters in messages ("PReLU",
	// "Conv2DTranspose{s[2 2]}").
	Name string
	// Shape is the output's shape for the inputs' shapes, or an error
	// naming what is wrong.
	Shape func(in []tensor.Shape) (tensor.Shape, error)
	// Forward writes the output y.
	Forward func(y []float32, x [][]float32, in []tensor.Shape)
	// Grad[i] writes into dx the gradient of input i, given the inputs, the
	// output y and its gradient dy; a nil entry (or a missing one) makes
	// the op not differentiable with respect to input i.
	Grad []func(dx []float32, x [][]float32, in []tensor.Shape, y, dy []float32)

	sum   bool        // Sum's: the Executor may fuse it into a convolution's epilogue
	clamp *[2]float32 // a clamp (UnaryFunc.Clamp): fusible the same way
	// depthwise is a DepthwiseConv2D's window: the batch normalization
	// after it may be fused into it.
	depthwise *depthwiseConv
}

// funcIDs numbers Func ops: two applications never merge (an op may keep
// state between its forward and its gradients, such as a random mask).
var funcIDs atomic.Uint64

// Apply applies f to the float32 nodes xs. The forward runs before its
// gradients in a step (they read its output), so state that Forward
// leaves (a mask) is what they see; one node must not run concurrently.
func Apply(f *Func, xs ...*G.Node) (*G.Node, error) {
	if f == nil || f.Name == "" || f.Shape == nil || f.Forward == nil {
		return nil, errors.New("graph: engine.Apply: a Func needs a name, Shape and Forward")
	}
	if len(xs) == 0 {
		return nil, fmt.Errorf("graph: %s: no inputs", f.Name)
	}
	if err := opFloat32(f.Name, xs...); err != nil {
		return nil, err
	}
	shapes := make([]tensor.Shape, len(xs))
	ranks := make([]int, len(xs))
	for i, x := range xs {
		shapes[i], ranks[i] = x.Shape(), x.Dims()
	}
	out, err := f.Shape(shapes)
	if err != nil {
		return nil, fmt.Errorf("graph: %s: %w", f.Name, err)
	}
	op := &funcOp{f: f, ranks: ranks, outRank: len(out), id: funcIDs.Add(1)}
	return G.ApplyOp(op, xs...)
}

// funcOp is a Func's forward op.
type funcOp struct {
	opTraits
	f       *Func
	ranks   []int
	outRank int
	id      uint64
}

func (op *funcOp) Arity() int { return len(op.ranks) }

// Type is one rank-r tensor type per input, then the output's.
func (op *funcOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	ts := make([]hm.Type, 0, len(op.ranks)+1)
	for _, r := range op.ranks {
		ts = append(ts, tensorType(r, a))
	}
	return hm.NewFnType(append(ts, tensorType(op.outRank, a))...)
}

// tensorType is a rank-r tensor of a (a scalar for rank 0).
func tensorType(r int, a hm.TypeVariable) hm.Type {
	if r == 0 {
		return a
	}
	return G.TensorType{Dims: r, Of: a}
}

func (op *funcOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	ss, err := opShapes(op, in)
	if err != nil {
		return nil, err
	}
	return op.f.Shape(ss)
}

func (op *funcOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }

// UsePreallocDo runs Forward into prealloc when it fits.
func (op *funcOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	xs, ss, err := funcInputs(op, in)
	if err != nil {
		return nil, err
	}
	s, err := op.f.Shape(ss)
	if err != nil {
		return nil, fmt.Errorf("graph: %s: %w", op.f.Name, err)
	}
	out, err := opOutput(op, prealloc, s)
	if err != nil {
		return nil, err
	}
	op.f.Forward(opF32(out), xs, ss)
	return out, nil
}

// funcInputs returns the inputs' data and shapes.
func funcInputs(op G.Op, in []G.Value) ([][]float32, []tensor.Shape, error) {
	d, err := opInputs(op, in)
	if err != nil {
		return nil, nil, err
	}
	xs := make([][]float32, len(d))
	ss := make([]tensor.Shape, len(d))
	for i, t := range d {
		xs[i], ss[i] = opF32(t), t.Shape()
	}
	return xs, ss, nil
}

func (op *funcOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "capa.Func{%s #%d}", op.f.Name, op.id) }
func (op *funcOp) Hashcode() uint32      { return opHash(op) }
func (op *funcOp) String() string        { return op.f.Name }

// DiffWRT is true for the inputs that have a Grad.
func (op *funcOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	for i := range d {
		d[i] = i < len(op.f.Grad) && op.f.Grad[i] != nil
	}
	return d
}

// SymDiff applies one funcGradOp per differentiable input, each on
// (inputs..., y, dy).
func (op *funcOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if len(inputs) != len(op.ranks) {
		return nil, fmt.Errorf("graph: %s: SymDiff got %d inputs, want %d", op.f.Name, len(inputs), len(op.ranks))
	}
	args := append(append(G.Nodes{}, inputs...), output, grad)
	ds := make(G.Nodes, len(inputs))
	for i := range inputs {
		if i >= len(op.f.Grad) || op.f.Grad[i] == nil {
			continue
		}
		d, err := G.ApplyOp(&funcGradOp{fwd: op, wrt: i}, args...)
		if err != nil {
			return nil, err
		}
		ds[i] = d
	}
	return ds, nil
}

// funcGradOp is the gradient of a Func with respect to input wrt.
type funcGradOp struct {
	opTraits
	fwd *funcOp
	wrt int
}

func (op *funcGradOp) Arity() int { return len(op.fwd.ranks) + 2 }

func (op *funcGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	ts := make([]hm.Type, 0, len(op.fwd.ranks)+3)
	for _, r := range op.fwd.ranks {
		ts = append(ts, tensorType(r, a))
	}
	y := tensorType(op.fwd.outRank, a)
	return hm.NewFnType(append(ts, y, y, tensorType(op.fwd.ranks[op.wrt], a))...)
}

func (op *funcGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	ss, err := opShapes(op, in)
	if err != nil {
		return nil, err
	}
	return ss[op.wrt].Clone(), nil
}

func (op *funcGradOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }

func (op *funcGradOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	xs, ss, err := funcInputs(op, in)
	if err != nil {
		return nil, err
	}
	n := len(op.fwd.ranks)
	out, err := opOutput(op, prealloc, ss[op.wrt])
	if err != nil {
		return nil, err
	}
	op.fwd.f.Grad[op.wrt](opF32(out), xs[:n], ss[:n], xs[n], xs[n+1])
	return out, nil
}

func (op *funcGradOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "capa.FuncGrad{%s #%d wrt %d}", op.fwd.f.Name, op.fwd.id, op.wrt)
}
func (op *funcGradOp) Hashcode() uint32 { return opHash(op) }
func (op *funcGradOp) String() string   { return fmt.Sprintf("%s'%d", op.fwd.f.Name, op.wrt) }

// The gradient ops are not themselves differentiable.
func (op *funcGradOp) DiffWRT(n int) []bool { return make([]bool, n) }
func (op *funcGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("graph: %v is not differentiable", op)
}
