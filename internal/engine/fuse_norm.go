package engine

import (
	"fmt"
	"hash"

	"github.com/capa-ml/capa/internal/kernels"
	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// This file holds the Executor's fusion of a convolution with the
// batch normalization after it (ResNet's and most modern networks'
// Conv2D → BatchNormalization [→ Add] [→ ReLU]): at inference, when the
// normalization uses its moving statistics and nothing else reads the
// values in between, the chain runs as one step whose normalization,
// residual sum and ReLU are the convolution's epilogue (kernels.Epilogue),
// applied to each block of output rows while it is in cache instead of
// in three passes over memory. The graph is unchanged; the values are the
// same, bit for bit.

// fuseConvNorm replaces, in ex's plan, each chain of a Convolution2D step,
// optionally a BiasAdd step, an inference BatchNorm step, optionally a
// Sum step of two inputs and optionally a Relu step or a clamp (ReLU6,
// UnaryFunc.Clamp), each value read only
// by the next step and not requested in outputs, with one convNormOp step
// at the chain's last position. The values inside the chain are then not
// kept (Value says so).
func (ex *Executor) fuseConvNorm(outputs []*G.Node) {
	uses, producer := ex.planUses(outputs)
	consumer := map[*G.Node]int{}
	for i, st := range ex.steps {
		for _, c := range st.in {
			consumer[c] = i
		}
	}
	drop := map[int]bool{}
	// next returns the step that alone reads step i's value, if any and
	// not already fused into another chain.
	next := func(i int) (int, bool) {
		n := ex.steps[i].n
		j, ok := consumer[n]
		return j, ok && uses[n] == 1 && !drop[j]
	}
	for j := range ex.steps {
		bn, ok := ex.steps[j].op.(*bnOp)
		if !ok || bn.training || drop[j] {
			continue
		}
		op := &convNormOp{bn: bn}
		chain := []int{j}
		in := []*G.Node{}
		// Backwards to the convolution, through an optional bias.
		i, ok := producer[ex.steps[j].in[0]]
		if !ok || uses[ex.steps[i].n] != 1 {
			continue
		}
		if _, isBias := ex.steps[i].op.(*biasAddOp); isBias {
			op.bias = true
			in = append(in, ex.steps[i].in[1])
			chain = append(chain, i)
			if i, ok = producer[ex.steps[i].in[0]]; !ok || uses[ex.steps[i].n] != 1 {
				continue
			}
		}
		switch c := ex.steps[i].op.(type) {
		case *conv2dOp:
			if c.scratch.needCol {
				continue
			}
			op.conv = c
		case *funcOp:
			if c.f.depthwise == nil {
				continue
			}
			op.conv = c.f.depthwise
		default:
			continue
		}
		chain = append(chain, i)
		in = append(ex.steps[i].in[:2:2], in...)
		in = append(in, ex.steps[j].in[1], ex.steps[j].in[2]) // gamma, beta
		// Forwards through an optional residual sum and ReLU.
		end := j
		if k, ok := next(end); ok {
			if f, isSum := ex.steps[k].op.(*funcOp); isSum && f.f.sum && len(ex.steps[k].in) == 2 {
				other := ex.steps[k].in[0]
				if other == ex.steps[end].n {
					other = ex.steps[k].in[1]
				}
				op.residual = true
				in = append(in, other)
				end = k
				chain = append(chain, k)
			}
		}
		if k, ok := next(end); ok {
			if _, isRelu := ex.steps[k].op.(*reluOp); isRelu {
				op.relu = true
				end = k
				chain = append(chain, k)
			} else if f, isFunc := ex.steps[k].op.(*funcOp); isFunc && f.f.clamp != nil {
				op.clamp = f.f.clamp
				end = k
				chain = append(chain, k)
			}
		}
		if _, _, err := op.window(nodeShapes(in)); err != nil {
			continue
		}
		op.scale = make([]float32, bn.c)
		if ex.fused == nil {
			ex.fused = map[*G.Node]*G.Node{}
		}
		st := &ex.steps[end]
		for _, c := range chain {
			if c != end {
				ex.fused[ex.steps[c].n] = st.n
				drop[c] = true
			}
		}
		st.op, st.pre, st.in = op, op, in
		st.args = make([]G.Value, len(in))
	}
	ex.dropSteps(drop)
}

// normConv is the convolution of a convNormOp: a Conv2D or a
// DepthwiseConv2D.
type normConv interface {
	// normWindow validates x's and the kernel's shapes and returns the
	// window and the output's channels.
	normWindow(xs, ks tensor.Shape) (kernels.Window, int, error)
	// normRun computes the convolution with the epilogue ep.
	normRun(dst, x, kernel []float32, p kernels.Window, f int, ep kernels.Epilogue)
	ident() string // for WriteHash
	String() string
}

// convNormOp runs a convolution (over x by kernel, without bias), an
// optional BiasAdd, an inference batch normalization, an optional sum with
// another value and an optional ReLU as one step of an Executor: inputs x,
// kernel, [bias], gamma, beta, [residual]; output the chain's. It uses the
// convolution op's scratch; not safe for concurrent Do.
type convNormOp struct {
	opTraits

	conv           normConv
	bias           bool
	bn             *bnOp
	residual, relu bool
	clamp          *[2]float32 // ReLU6's bounds, or nil
	scale          []float32
}

func (op *convNormOp) Arity() int {
	n := 4
	if op.bias {
		n++
	}
	if op.residual {
		n++
	}
	return n
}

// window validates the inputs' shapes as the fused ops do and returns the
// convolution's window and filters.
func (op *convNormOp) window(ss []tensor.Shape) (kernels.Window, int, error) {
	if len(ss) != op.Arity() {
		return kernels.Window{}, 0, fmt.Errorf("graph: %v: %d inputs, want %d", op, len(ss), op.Arity())
	}
	p, f, err := op.conv.normWindow(ss[0], ss[1])
	if err != nil {
		return p, f, err
	}
	if f != op.bn.c {
		return p, f, fmt.Errorf("graph: %v: %d filters, %d normalized channels", op, f, op.bn.c)
	}
	vec := ss[2 : 4+btoi(op.bias)]
	for _, s := range vec {
		if s.TotalSize() != f {
			return p, f, fmt.Errorf("graph: %v: bias, gamma and beta have shapes %v, want %d values", op, vec, f)
		}
	}
	if op.residual {
		if out, r := (tensor.Shape{p.N, p.OutH(), p.OutW(), f}), ss[len(ss)-1]; !r.Eq(out) {
			return p, f, fmt.Errorf("graph: %v: residual %v, output %v", op, r, out)
		}
	}
	return p, f, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Type is one rank-4 tensor for x, kernel (and the residual), rank 1 for
// bias, gamma and beta, to a rank-4 tensor.
func (op *convNormOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	t4, t1 := G.TensorType{Dims: 4, Of: a}, G.TensorType{Dims: 1, Of: a}
	ts := []hm.Type{t4, t4}
	for i := 0; i < 2+btoi(op.bias); i++ {
		ts = append(ts, t1)
	}
	if op.residual {
		ts = append(ts, t4)
	}
	return hm.NewFnType(append(ts, t4)...)
}

func (op *convNormOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	ss, err := opShapes(op, in)
	if err != nil {
		return nil, err
	}
	p, f, err := op.window(ss)
	if err != nil {
		return nil, err
	}
	return tensor.Shape{p.N, p.OutH(), p.OutW(), f}, nil
}

func (op *convNormOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }

// UsePreallocDo writes the chain's output into prealloc when it fits.
func (op *convNormOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	d, err := opInputs(op, in)
	if err != nil {
		return nil, err
	}
	p, f, err := op.window(valueShapes(d))
	if err != nil {
		return nil, err
	}
	out, err := opOutput(op, prealloc, tensor.Shape{p.N, p.OutH(), p.OutW(), f})
	if err != nil {
		return nil, err
	}
	k := 2
	var ep kernels.Epilogue
	if op.bias {
		ep.Bias = opF32(d[k])
		k++
	}
	gamma, beta := opF32(d[k]), opF32(d[k+1])
	mean, invStd := op.bn.stats(nil, false)
	kernels.BatchNormScaleTo(op.scale, gamma, invStd)
	ep.Mean, ep.Scale, ep.Shift = mean, op.scale, beta
	if op.residual {
		ep.Residual = opF32(d[k+2])
	}
	ep.Relu, ep.Clamp = op.relu, op.clamp
	op.conv.normRun(opF32(out), opF32(d[0]), opF32(d[1]), p, f, ep)
	return out, nil
}

func (op *convNormOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "capa.ConvNorm{bias %v res %v relu %v clamp %v %s %s}", op.bias, op.residual, op.relu, op.clampText(), op.conv.ident(), op.bn.ident())
}
func (op *convNormOp) Hashcode() uint32 { return opHash(op) }
func (op *convNormOp) String() string {
	s := op.conv.String()
	if op.bias {
		s += "+BiasAdd"
	}
	s += "+" + op.bn.String()
	if op.residual {
		s += "+Sum"
	}
	if op.relu {
		s += "+Relu"
	}
	if op.clamp != nil {
		s += "+Clamp" + op.clampText()
	}
	return s
}

// clampText writes the clamp's bounds, "[0 6]", or "" for none.
func (op *convNormOp) clampText() string {
	if op.clamp == nil {
		return ""
	}
	return fmt.Sprint(*op.clamp)
}
