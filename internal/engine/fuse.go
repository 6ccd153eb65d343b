package engine

import (
	"fmt"
	"hash"

	"github.com/capa-ml/capa/internal/kernels"
	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// This file holds the Executor's fusion of a max pooling whose input is a
// convolution's output that nothing else reads (an inference graph: in
// training the pooling's gradient reads it too) runs as one step, the
// convolution pooled chunk by chunk in cache (kernels.Conv2DMaxPoolTo).
// The graph is unchanged; only the plan of its run differs, and the values
// are the same (bit for bit with Capa's sgemm; to float32 rounding where
// OpenBLAS takes thin products).

// fuse plans the Executor's fusions: convolutions with their batch
// normalization (fuse_norm.go), then convolutions with their max pooling.
func (ex *Executor) fuse(outputs []*G.Node) {
	ex.fuseConvNorm(outputs)
	ex.fuseConvPool(outputs)
}

// planUses returns, for ex's plan, how many steps (and requested outputs)
// read each node and which step computes it.
func (ex *Executor) planUses(outputs []*G.Node) (uses, producer map[*G.Node]int) {
	uses, producer = map[*G.Node]int{}, map[*G.Node]int{}
	for i, st := range ex.steps {
		for _, c := range st.in {
			uses[c]++
		}
		producer[st.n] = i
	}
	for _, o := range outputs {
		uses[o]++
	}
	return uses, producer
}

// dropSteps removes the steps whose indices are in drop from the plan.
func (ex *Executor) dropSteps(drop map[int]bool) {
	if len(drop) == 0 {
		return
	}
	kept := ex.steps[:0]
	for i, st := range ex.steps {
		if !drop[i] {
			kept = append(kept, st)
		}
	}
	ex.steps = kept
}

// fuseConvPool replaces, in ex's plan, each max pooling step that reads
// only the output of a convolution step read by nothing else and not
// requested in outputs with a convPoolOp step, and drops the convolution's
// step. The fused convolution's value is then not kept (Value says so).
func (ex *Executor) fuseConvPool(outputs []*G.Node) {
	uses, producer := ex.planUses(outputs)
	drop := map[int]bool{}
	for j := range ex.steps {
		st := &ex.steps[j]
		pool, ok := st.op.(*poolOp)
		if !ok || !pool.max || pool.scratch.needArgmax || len(st.in) != 1 || uses[st.in[0]] != 1 {
			continue
		}
		i, ok := producer[st.in[0]]
		if !ok {
			continue
		}
		op := newConvPoolOp(ex.steps[i], pool)
		if op == nil {
			continue
		}
		if ex.fused == nil {
			ex.fused = map[*G.Node]*G.Node{}
		}
		ex.fused[st.in[0]] = st.n
		st.op, st.pre, st.in = op, op, ex.steps[i].in
		st.args = make([]G.Value, len(st.in))
		drop[i] = true
	}
	ex.dropSteps(drop)
}

// newConvPoolOp returns the fused step of the convolution step cs and the
// max pooling pool of its output, or nil if cs is not a convolution
// (Convolution2D or Conv2DBiasRelu) run by the streamed kernel that the
// pooling's window lets kernels.Conv2DMaxPoolTo fuse.
func newConvPoolOp(cs xstep, pool *poolOp) *convPoolOp {
	var op convPoolOp
	switch c := cs.op.(type) {
	case *conv2dOp:
		op.conv = c
	case *conv2dBiasReluOp:
		op.conv, op.biasRelu = &c.conv2dOp, true
	default:
		return nil
	}
	if op.conv.scratch.needCol {
		return nil // the kernel's gradient reads the im2col matrix
	}
	op.pool = pool
	if _, _, _, err := op.windows(nodeShapes(cs.in)); err != nil {
		return nil
	}
	return &op
}

// convPoolOp runs a convolution, its bias and ReLU if biasRelu, and the max
// pooling of the result, as one step of an Executor: inputs x, kernel and
// (with biasRelu) bias; output the pooling's. It uses the convolution op's
// scratch; not safe for concurrent Do.
type convPoolOp struct {
	opTraits

	conv     *conv2dOp
	biasRelu bool
	pool     *poolOp
}

// windows validates the inputs' shapes as the two ops do and returns the
// convolution's window, its filters and the pooling's window, or an error
// if they do not fuse.
func (op *convPoolOp) windows(ss []tensor.Shape) (p kernels.Window, f int, q kernels.Window, err error) {
	if len(ss) != op.Arity() {
		return p, f, q, fmt.Errorf("graph: %v: %d inputs, want %d", op, len(ss), op.Arity())
	}
	if op.biasRelu {
		p, f, err = (&conv2dBiasReluOp{*op.conv}).window(ss[0], ss[1], ss[2])
	} else {
		p, f, err = op.conv.window(ss[0], ss[1])
	}
	if err != nil {
		return p, f, q, err
	}
	if q, err = op.pool.window(tensor.Shape{p.N, p.OutH(), p.OutW(), f}); err != nil {
		return p, f, q, err
	}
	if !kernels.ConvPoolFuses(p, f, q) {
		return p, f, q, fmt.Errorf("graph: %v: the convolution over %+v and the pooling over %+v do not fuse", op, p, q)
	}
	return p, f, q, nil
}

func (op *convPoolOp) Arity() int {
	if op.biasRelu {
		return 3
	}
	return 2
}

// Type is a → a (→ b) → a, b rank 1: the convolution's inputs to the
// pooling's output.
func (op *convPoolOp) Type() hm.Type {
	t := G.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	if op.biasRelu {
		return hm.NewFnType(t, t, G.TensorType{Dims: 1, Of: hm.TypeVariable('a')}, t)
	}
	return hm.NewFnType(t, t, t)
}

func (op *convPoolOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	ss, err := opShapes(op, in)
	if err != nil {
		return nil, err
	}
	_, f, q, err := op.windows(ss)
	if err != nil {
		return nil, err
	}
	return tensor.Shape{q.N, q.OutH(), q.OutW(), f}, nil
}

func (op *convPoolOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }

// UsePreallocDo writes the pooled output into prealloc when it fits.
func (op *convPoolOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	d, err := opInputs(op, in)
	if err != nil {
		return nil, err
	}
	p, f, q, err := op.windows(valueShapes(d))
	if err != nil {
		return nil, err
	}
	out, err := opOutput(op, prealloc, tensor.Shape{q.N, q.OutH(), q.OutW(), f})
	if err != nil {
		return nil, err
	}
	var ep kernels.Epilogue
	if op.biasRelu {
		ep = kernels.Epilogue{Bias: opF32(d[2]), Relu: true}
	}
	s := op.conv.scratch
	s.path = pathStreamPool
	kernels.Conv2DMaxPoolTo(opF32(out), opF32(d[0]), opF32(d[1]), p, f, q, ep, s.getStream(p.ConvPoolScratchLen(f, q)))
	return out, nil
}

func (op *convPoolOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "capa.ConvPool{relu %v s%v p%v k%v s%v}", op.biasRelu, op.conv.strides, op.conv.pad, op.pool.pool, op.pool.strides)
}
func (op *convPoolOp) Hashcode() uint32 { return opHash(op) }
func (op *convPoolOp) String() string {
	return fmt.Sprintf("%v+%v", op.conv, op.pool)
}
