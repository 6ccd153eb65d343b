package engine

import (
	"fmt"
	"hash"

	"github.com/capa-ml/capa/internal/kernels"
	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// MaxPool2D returns the maximum of each pool[0]×pool[1] window of x, NHWC
// (N, H, W, C), per channel: an NHWC node (N, OH, OW, C) with
// OH = (H+top+bottom-pool[0])/strides[0] + 1 and OW likewise. padding is
// (top, bottom, left, right); padded cells never win (Keras semantics). x
// must be float32.
//
// It returns an error naming the values received when the pool size or a
// stride is not positive, a padding is negative, x is not a float32 rank-4
// node or the window does not fit the padded input. The gradient goes to the
// winning cell of each window (the first one on ties); the gradient op
// recomputes the winners from x.
//
// The op keeps scratch buffers between runs, shared with its gradient op, so
// one node's ops must not run concurrently.
func MaxPool2D(x *G.Node, pool, strides [2]int, padding [4]int) (*G.Node, error) {
	return pool2D("MaxPool2D", true, x, pool, strides, padding)
}

// AvgPool2D returns the mean of each pool[0]×pool[1] window of x, NHWC
// (N, H, W, C), per channel: an NHWC node (N, OH, OW, C), shaped as for
// MaxPool2D. Each mean divides by the number of real (non-padded) cells of
// its window, like TensorFlow's "same" and PyTorch's
// count_include_pad=False. Errors as for MaxPool2D.
func AvgPool2D(x *G.Node, pool, strides [2]int, padding [4]int) (*G.Node, error) {
	return pool2D("AvgPool2D", false, x, pool, strides, padding)
}

func pool2D(name string, isMax bool, x *G.Node, pool, strides [2]int, padding [4]int) (*G.Node, error) {
	if err := opFloat32(name, x); err != nil {
		return nil, err
	}
	if pool[0] < 1 || pool[1] < 1 {
		return nil, fmt.Errorf("graph: %s: pool size must be positive, got %v", name, pool)
	}
	if err := opCheckWindow(name, strides, padding); err != nil {
		return nil, err
	}
	op := &poolOp{max: isMax, pool: pool, strides: strides, pad: padding, scratch: new(poolScratch)}
	y, err := G.ApplyOp(op, x)
	if err != nil {
		return nil, fmt.Errorf("graph: %s of x %v: %w", name, x.Shape(), err)
	}
	return y, nil
}

// poolScratch holds the winners of a max pooling, recorded by the forward
// op for its gradient op.
type poolScratch struct {
	argmax []int32
	// needArgmax is set when the gradient op is made (SymDiff): until then
	// (inference graphs) the forward records no winners.
	needArgmax bool
}

func (s *poolScratch) get(n int) ([]int32, []float32) {
	if cap(s.argmax) < n {
		s.argmax = make([]int32, n)
	}
	return s.argmax[:n], nil
}

// poolOp is max or average pooling: input x (N, H, W, C), output
// (N, OH, OW, C). Not safe for concurrent Do.
type poolOp struct {
	opTraits

	max     bool
	pool    [2]int
	strides [2]int
	pad     [4]int // top, bottom, left, right
	scratch *poolScratch
}

func (op *poolOp) name() string {
	if op.max {
		return "MaxPool2D"
	}
	return "AvgPool2D"
}

// window validates the shape of x and returns the pooling window.
func (op *poolOp) window(xs tensor.Shape) (kernels.Window, error) {
	if len(xs) != 4 {
		return kernels.Window{}, fmt.Errorf("graph: %v: x must be (N, H, W, C), got shape %v", op, xs)
	}
	p := kernels.Window{
		N: xs[0], H: xs[1], W: xs[2], C: xs[3], KH: op.pool[0], KW: op.pool[1],
		SH: op.strides[0], SW: op.strides[1],
		PadTop: op.pad[0], PadBottom: op.pad[1], PadLeft: op.pad[2], PadRight: op.pad[3],
	}
	if err := opFits(op, p, xs, tensor.Shape{op.pool[0], op.pool[1]}); err != nil {
		return kernels.Window{}, err
	}
	return p, nil
}

func (op *poolOp) Arity() int { return 1 }

// Type is a → a with a a rank-4 tensor type.
func (op *poolOp) Type() hm.Type {
	t := G.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t)
}

func (op *poolOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	ss, err := opShapes(op, in)
	if err != nil {
		return nil, err
	}
	p, err := op.window(ss[0])
	if err != nil {
		return nil, err
	}
	return tensor.Shape{p.N, p.OutH(), p.OutW(), p.C}, nil
}

func (op *poolOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }

// UsePreallocDo writes the pooled x into prealloc when it is a float32
// tensor of the output shape, otherwise into a new tensor.
func (op *poolOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	d, err := opInputs(op, in)
	if err != nil {
		return nil, err
	}
	p, err := op.window(d[0].Shape())
	if err != nil {
		return nil, err
	}
	out, err := opOutput(op, prealloc, tensor.Shape{p.N, p.OutH(), p.OutW(), p.C})
	if err != nil {
		return nil, err
	}
	switch {
	case op.max && !op.scratch.needArgmax:
		kernels.MaxPoolValuesTo(opF32(out), opF32(d[0]), p)
	case op.max:
		argmax, _ := op.scratch.get(p.OutLen())
		kernels.MaxPoolTo(opF32(out), opF32(d[0]), p, argmax)
	default:
		kernels.AvgPoolTo(opF32(out), opF32(d[0]), p)
	}
	return out, nil
}

func (op *poolOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "capa.%s{k%v s%v p%v}", op.name(), op.pool, op.strides, op.pad)
}
func (op *poolOp) Hashcode() uint32 { return opHash(op) }
func (op *poolOp) String() string {
	return fmt.Sprintf("%s{pool %v, strides %v, padding %v}", op.name(), op.pool, op.strides, op.pad)
}

// DiffWRT: pooling is differentiable with respect to x.
func (op *poolOp) DiffWRT(int) []bool { return []bool{true} }

// SymDiff returns the gradient node of x, computed from (x, y, grad). The
// forward output y is an input so that the forward op always runs first:
// max pooling's gradient uses the winners it recorded.
func (op *poolOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if len(inputs) != 1 {
		return nil, fmt.Errorf("graph: %v: SymDiff got %d inputs, want 1", op, len(inputs))
	}
	op.scratch.needArgmax = true // from now on the forward records the winners
	dx, err := G.ApplyOp(&poolDiffOp{poolOp: *op}, inputs[0], output, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx}, nil
}

// poolDiffOp computes dx (the shape of x) from (x, y, dy), y being the
// forward output. For max pooling it uses the winners recorded by the
// forward op, which ran on the same x in the same run (y depends on it). It
// shares the forward op's scratch; not safe for concurrent Do.
type poolDiffOp struct{ poolOp }

func (op *poolDiffOp) Arity() int { return 3 }

// Type is a → a → a → a with a a rank-4 tensor type.
func (op *poolDiffOp) Type() hm.Type {
	t := G.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t, t, t)
}

func (op *poolDiffOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	ss, err := opShapes(op, in)
	if err != nil {
		return nil, err
	}
	if _, err := op.check(ss[0], ss[2]); err != nil {
		return nil, err
	}
	if !ss[1].Eq(ss[2]) {
		return nil, fmt.Errorf("graph: %v: forward output %v and its gradient %v differ in shape", op, ss[1], ss[2])
	}
	return ss[0].Clone(), nil
}

func (op *poolDiffOp) check(xs, dys tensor.Shape) (kernels.Window, error) {
	p, err := op.window(xs)
	if err != nil {
		return p, err
	}
	if want := (tensor.Shape{p.N, p.OutH(), p.OutW(), p.C}); !dys.Eq(want) {
		return p, fmt.Errorf("graph: %v: output gradient has shape %v, want %v", op, dys, want)
	}
	return p, nil
}

func (op *poolDiffOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }

// UsePreallocDo writes dx into prealloc when it is a float32 tensor of the
// shape of x, otherwise into a new tensor.
func (op *poolDiffOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	d, err := opInputs(op, in)
	if err != nil {
		return nil, err
	}
	p, err := op.check(d[0].Shape(), d[2].Shape())
	if err != nil {
		return nil, err
	}
	out, err := opOutput(op, prealloc, d[0].Shape())
	if err != nil {
		return nil, err
	}
	if op.max {
		argmax, _ := op.scratch.get(p.OutLen())
		kernels.MaxPoolBackwardTo(opF32(out), opF32(d[2]), argmax, p)
	} else {
		kernels.AvgPoolBackwardTo(opF32(out), opF32(d[2]), p)
	}
	return out, nil
}

func (op *poolDiffOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "capa.%sDiff{k%v s%v p%v}", op.name(), op.pool, op.strides, op.pad)
}
func (op *poolDiffOp) Hashcode() uint32 { return opHash(op) }
func (op *poolDiffOp) String() string {
	return fmt.Sprintf("%sDiff{pool %v, strides %v, padding %v}", op.name(), op.pool, op.strides, op.pad)
}

// The gradient op is not itself differentiable.
func (op *poolDiffOp) DiffWRT(n int) []bool { return make([]bool, n) }
func (op *poolDiffOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("graph: %v is not differentiable", op)
}
