package engine

import (
	"errors"
	"fmt"
	"hash"
	"math/rand/v2"
	"sync/atomic"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/capa-ml/capa/internal/kernels"
)

// InvertedDropout applies inverted dropout (Keras's Dropout in training) to
// x, a float32 tensor of any shape: y = x*mask/(1-rate), where every run of
// the op (each Do) draws a fresh Bernoulli keep-mask, keep probability
// 1-rate, from rng, one rng.Float64 per element in row-major order, so the
// same rng state gives the same masks. The gradient is dy*mask/(1-rate) with
// the mask of the most recent forward run: run the forward and backward
// passes of a step in the same machine run, as a TapeMachine does.
//
// Side effects and aliasing: the op advances rng on every run and is not
// safe for concurrent use (nor is *rand.Rand). The output never aliases x.
//
// rate must be in [0, 1); x must be float32; rng must not be nil. With rate
// 0, InvertedDropout returns x itself and adds no node. Every call creates a
// distinct op: two dropout nodes on the same input with the same rate are
// not merged by Gorgonia's hash-consing, so each draws its own mask. The op
// always drops: a layer in inference mode should not call it.
func InvertedDropout(x *G.Node, rate float64, rng *rand.Rand) (*G.Node, error) {
	if x == nil {
		return nil, errors.New("graph: InvertedDropout: nil input node")
	}
	if !(rate >= 0 && rate < 1) {
		return nil, fmt.Errorf("graph: InvertedDropout: rate must be in [0, 1), got %v", rate)
	}
	if rng == nil {
		return nil, errors.New("graph: InvertedDropout: nil *rand.Rand")
	}
	if dt := x.Dtype(); dt != tensor.Float32 {
		return nil, fmt.Errorf("graph: InvertedDropout: input %v has dtype %v, want float32", x.Name(), dt)
	}
	if rate == 0 {
		return x, nil
	}
	op := &dropoutOp{rate: rate, rng: rng, id: dropoutIDs.Add(1)}
	y, err := G.ApplyOp(op, x)
	if err != nil {
		return nil, fmt.Errorf("graph: InvertedDropout(rate %v) on %v: %w", rate, x.Shape(), err)
	}
	return y, nil
}

// dropoutIDs numbers dropout ops so that WriteHash differs between them.
var dropoutIDs atomic.Uint64

// dropoutOp is y = x*mask. mask holds 0 or 1/(1-rate) and is redrawn by
// every Do unless frozen; the diff op reads it.
type dropoutOp struct {
	opTraits

	rate   float64
	rng    *rand.Rand
	id     uint64
	mask   []float32 // allocated by the first Do; len = x's size
	frozen bool      // tests: keep the mask once drawn
}

// freezeMask makes later runs reuse the current mask (drawing one on the
// next Do if none exists), so the op is a fixed function of x for finite
// differences. freezeMask(false) resumes drawing.
func (op *dropoutOp) freezeMask(on bool) { op.frozen = on }

func (op *dropoutOp) Arity() int { return 1 }

// Type is a → a.
func (op *dropoutOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a)
}

func (op *dropoutOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("graph: dropout: expected a tensor.Shape, got %T", in[0])
	}
	return s.Clone(), nil
}

func (op *dropoutOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "capa.Dropout{rate %v id %d}", op.rate, op.id)
}
func (op *dropoutOp) Hashcode() uint32 { return opHash(op) }
func (op *dropoutOp) String() string   { return fmt.Sprintf("Dropout{%v #%d}", op.rate, op.id) }

func (op *dropoutOp) Do(in ...G.Value) (G.Value, error) {
	x, err := opInput(op, in, 0)
	if err != nil {
		return nil, err
	}
	out := tensor.New(tensor.WithShape(x.Shape().Clone()...), tensor.Of(tensor.Float32))
	op.do(out.Float32s(), x.Float32s())
	return out, nil
}

// UsePreallocDo writes into prealloc when it is a float32 tensor of x's
// shape; otherwise it returns an error and the tape machine falls back to Do.
func (op *dropoutOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	x, err := opInput(op, in, 0)
	if err != nil {
		return nil, err
	}
	p, err := opOutput(op, prealloc, x.Shape())
	if err != nil {
		return nil, err
	}
	op.do(p.Float32s(), x.Float32s())
	return p, nil
}

func (op *dropoutOp) do(dst, x []float32) {
	if len(op.mask) != len(x) {
		op.mask = make([]float32, len(x))
		kernels.DropoutMaskTo(op.mask, op.rate, op.rng)
	} else if !op.frozen {
		kernels.DropoutMaskTo(op.mask, op.rate, op.rng)
	}
	kernels.DropoutApplyTo(dst, x, op.mask)
}

func (op *dropoutOp) DiffWRT(inputs int) []bool { return []bool{true} }

// SymDiff returns dx = dy*mask. The diff node also reads y, not for its
// value but so that the forward op (which draws the mask) runs first.
func (op *dropoutOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if len(inputs) != 1 {
		return nil, fmt.Errorf("graph: dropout: SymDiff got %d inputs, want 1", len(inputs))
	}
	dx, err := G.ApplyOp(&dropoutDiffOp{fwd: op}, output, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx}, nil
}

// dropoutDiffOp is (y, dy) → dy*mask with the forward op's current mask.
type dropoutDiffOp struct {
	opTraits
	fwd *dropoutOp
}

func (op *dropoutDiffOp) Arity() int { return 2 }

// Type is a → a → a.
func (op *dropoutDiffOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a, a)
}

func (op *dropoutDiffOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return op.fwd.InferShape(in[1])
}

func (op *dropoutDiffOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "capa.DropoutGrad{rate %v id %d}", op.fwd.rate, op.fwd.id)
}
func (op *dropoutDiffOp) Hashcode() uint32 { return opHash(op) }
func (op *dropoutDiffOp) String() string {
	return fmt.Sprintf("DropoutGrad{%v #%d}", op.fwd.rate, op.fwd.id)
}

func (op *dropoutDiffOp) Do(in ...G.Value) (G.Value, error) {
	dy, err := op.check(in)
	if err != nil {
		return nil, err
	}
	out := tensor.New(tensor.WithShape(dy.Shape().Clone()...), tensor.Of(tensor.Float32))
	kernels.DropoutApplyTo(out.Float32s(), dy.Float32s(), op.fwd.mask)
	return out, nil
}

func (op *dropoutDiffOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	dy, err := op.check(in)
	if err != nil {
		return nil, err
	}
	p, err := opOutput(op, prealloc, dy.Shape())
	if err != nil {
		return nil, err
	}
	kernels.DropoutApplyTo(p.Float32s(), dy.Float32s(), op.fwd.mask)
	return p, nil
}

func (op *dropoutDiffOp) check(in []G.Value) (*tensor.Dense, error) {
	dy, err := opInput(op, in, 1)
	if err != nil {
		return nil, err
	}
	if len(op.fwd.mask) != dy.Shape().TotalSize() {
		return nil, fmt.Errorf("graph: %v: no mask for %v: the forward op has not run", op, dy.Shape())
	}
	return dy, nil
}
