package engine

import (
	"errors"
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/capa-ml/capa/internal/kernels"
)

// BatchNorm normalizes x per channel, with Keras's BatchNormalization
// semantics over every axis but the last (channels-last: x may be (N, C),
// (N, H, W, C) or any rank >= 2 with channels last; gamma and beta have
// shape (C)):
//
//	y = gamma*(x-mean)/sqrt(var+epsilon) + beta
//
// With training true, mean and var are the statistics of the batch, over
// all axes but the last, with the biased variance (divide by N*H*W), and
// every run of the op (each Do) updates the moving statistics in place:
//
//	moving = moving*momentum + batch*(1-momentum)
//
// as Keras 3 does (keras/src/layers/normalization/batch_normalization.py:
// momentum, 0.99 by default, weights the old value, and the moving variance
// is fed the same biased batch variance, from ops.moments, that normalizes
// the batch; PyTorch would use the unbiased one). With training false, mean
// and var are movingMean and movingVar, read at every run, and nothing is
// written.
//
// Aliasing and side effects: movingMean and movingVar (length C each) are
// kept, not copied: they are meant to be the model's non-trainable weights,
// so the caller sees the updates and may share them with an inference graph.
// They must not be resized, must not alias each other, and a training graph
// must not run concurrently with another graph using them. The output never
// aliases x.
//
// Gradients are defined with respect to x, gamma and beta in both modes; in
// training mode the gradient with respect to x includes the dependence of
// the batch statistics on x. The gradient ops recompute the batch statistics
// from x and never touch the moving statistics.
//
// BatchNorm returns an error naming the shapes when x is not float32 of rank
// >= 2, when gamma or beta is not of shape (C), or when a moving statistic
// does not have length C; and when momentum is not in [0, 1] or epsilon is
// not positive. Distinct moving-statistic slices give distinct ops, so two
// batch-normalization layers on the same input never merge.
func BatchNorm(x, gamma, beta *G.Node, movingMean, movingVar []float32, momentum, epsilon float64, training bool) (*G.Node, error) {
	if x == nil || gamma == nil || beta == nil {
		return nil, errors.New("graph: BatchNorm: nil input node")
	}
	if !(momentum >= 0 && momentum <= 1) {
		return nil, fmt.Errorf("graph: BatchNorm: momentum must be in [0, 1], got %v", momentum)
	}
	if !(epsilon > 0) {
		return nil, fmt.Errorf("graph: BatchNorm: epsilon must be positive, got %v", epsilon)
	}
	xs := x.Shape()
	if xs.Dims() < 2 {
		return nil, fmt.Errorf("graph: BatchNorm: input shape %v: want rank >= 2 with channels last", xs)
	}
	if xs.TotalSize() == 0 {
		return nil, fmt.Errorf("graph: BatchNorm: input shape %v is empty", xs)
	}
	c := xs[xs.Dims()-1]
	for _, n := range []*G.Node{x, gamma, beta} {
		if dt := n.Dtype(); dt != tensor.Float32 {
			return nil, fmt.Errorf("graph: BatchNorm: %v has dtype %v, want float32", n.Name(), dt)
		}
	}
	for _, p := range []struct {
		name string
		n    *G.Node
	}{{"gamma", gamma}, {"beta", beta}} {
		if s := p.n.Shape(); s.Dims() != 1 || s[0] != c {
			return nil, fmt.Errorf("graph: BatchNorm: %s shape %v does not match the %d channels of input shape %v, want (%d)", p.name, s, c, xs, c)
		}
	}
	if len(movingMean) != c || len(movingVar) != c {
		return nil, fmt.Errorf("graph: BatchNorm: moving mean and variance have lengths %d and %d, want %d, the channels of input shape %v", len(movingMean), len(movingVar), c, xs)
	}
	if &movingMean[0] == &movingVar[0] {
		return nil, errors.New("graph: BatchNorm: movingMean and movingVar are the same slice")
	}
	op := &bnOp{
		c: c, dims: xs.Dims(), momentum: momentum, eps: epsilon, training: training,
		movingMean: movingMean, movingVar: movingVar,
		mean: make([]float32, c), variance: make([]float32, c), invStd: make([]float32, c),
	}
	y, err := G.ApplyOp(op, x, gamma, beta)
	if err != nil {
		return nil, fmt.Errorf("graph: BatchNorm on %v: %w", xs, err)
	}
	return y, nil
}

// bnOp is (x, gamma, beta) → y. Scratch slices hold the statistics of the
// last Do.
type bnOp struct {
	opTraits

	c, dims               int // channels, rank of x
	momentum, eps         float64
	training              bool
	movingMean, movingVar []float32
	mean, variance        []float32 // batch statistics (training)
	invStd                []float32
}

// ident identifies the op, moving-statistic slices included, for hashes.
func (op *bnOp) ident() string {
	return fmt.Sprintf("c%d m%v e%v t%v mm%p mv%p", op.c, op.momentum, op.eps, op.training, &op.movingMean[0], &op.movingVar[0])
}

// stats leaves the mean and 1/sqrt(var+eps) to normalize x with in
// op.mean/op.movingMean and op.invStd. In training mode it computes the
// batch statistics and, if update, folds them into the moving ones.
func (op *bnOp) stats(x []float32, update bool) (mean, invStd []float32) {
	if !op.training {
		kernels.InvStdTo(op.invStd, op.movingVar, op.eps)
		return op.movingMean, op.invStd
	}
	kernels.BatchMomentsTo(op.mean, op.variance, x)
	if update {
		kernels.MovingAverageUpdate(op.movingMean, op.mean, op.momentum)
		kernels.MovingAverageUpdate(op.movingVar, op.variance, op.momentum)
	}
	kernels.InvStdTo(op.invStd, op.variance, op.eps)
	return op.mean, op.invStd
}

func (op *bnOp) Arity() int { return 3 }

// Type is Tensor-n a → Vector a → Vector a → Tensor-n a.
func (op *bnOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(tensorT(op.dims, a), tensorT(1, a), tensorT(1, a), tensorT(op.dims, a))
}

func tensorT(dims int, a hm.Type) *G.TensorType { return &G.TensorType{Dims: dims, Of: a} }

func (op *bnOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok || s.Dims() != op.dims || s[op.dims-1] != op.c {
		return nil, fmt.Errorf("graph: %v: input shape %v, want rank %d with %d channels", op, in[0], op.dims, op.c)
	}
	return s.Clone(), nil
}

func (op *bnOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "capa.BatchNorm{%s}", op.ident()) }
func (op *bnOp) Hashcode() uint32      { return opHash(op) }
func (op *bnOp) String() string {
	return fmt.Sprintf("BatchNorm{c%d m%v e%v training=%v}", op.c, op.momentum, op.eps, op.training)
}

func (op *bnOp) Do(in ...G.Value) (G.Value, error) {
	v, err := op.inputs(in)
	if err != nil {
		return nil, err
	}
	out := tensor.New(tensor.WithShape(v[0].Shape().Clone()...), tensor.Of(tensor.Float32))
	op.do(out.Float32s(), v)
	return out, nil
}

// UsePreallocDo writes into prealloc when it is a float32 tensor of x's
// shape; otherwise it returns an error and the tape machine falls back to Do.
func (op *bnOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	v, err := op.inputs(in)
	if err != nil {
		return nil, err
	}
	p, err := opOutput(op, prealloc, v[0].Shape())
	if err != nil {
		return nil, err
	}
	op.do(p.Float32s(), v)
	return p, nil
}

func (op *bnOp) inputs(in []G.Value) ([]*tensor.Dense, error) {
	v := make([]*tensor.Dense, len(in))
	for i := range in {
		d, err := opInput(op, in, i)
		if err != nil {
			return nil, err
		}
		v[i] = d
	}
	if s := v[0].Shape(); s.Dims() != op.dims || s[op.dims-1] != op.c || v[1].Len() != op.c || v[2].Len() != op.c {
		return nil, fmt.Errorf("graph: %v: shapes %v, %v, %v", op, s, v[1].Shape(), v[2].Shape())
	}
	return v, nil
}

func (op *bnOp) do(dst []float32, v []*tensor.Dense) {
	x := v[0].Float32s()
	mean, invStd := op.stats(x, true)
	kernels.BatchNormTo(dst, x, mean, invStd, v[1].Float32s(), v[2].Float32s())
}

func (op *bnOp) DiffWRT(inputs int) []bool { return []bool{true, true, true} }

// SymDiff returns the gradients with respect to x, gamma and beta. dbeta is
// the per-channel sum of dy and dgamma the per-channel sum of dy*xhat; the
// training-mode dx reuses both.
func (op *bnOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if len(inputs) != 3 {
		return nil, fmt.Errorf("graph: %v: SymDiff got %d inputs, want 3", op, len(inputs))
	}
	x, gamma := inputs[0], inputs[1]
	dBeta, err := G.ApplyOp(op.diff(bnWrtBeta), grad)
	if err != nil {
		return nil, err
	}
	dGamma, err := G.ApplyOp(op.diff(bnWrtGamma), x, grad)
	if err != nil {
		return nil, err
	}
	var dx *G.Node
	if op.training {
		dx, err = G.ApplyOp(op.diff(bnWrtX), x, gamma, grad, dGamma, dBeta)
	} else {
		dx, err = G.ApplyOp(op.diff(bnWrtX), gamma, grad)
	}
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dGamma, dBeta}, nil
}

func (op *bnOp) diff(wrt int) *bnDiffOp {
	return &bnDiffOp{fwd: op, wrt: wrt, mean: make([]float32, op.c), variance: make([]float32, op.c), invStd: make([]float32, op.c)}
}

const (
	bnWrtX = iota
	bnWrtGamma
	bnWrtBeta
)

// bnDiffOp computes one of the gradients of a bnOp:
//
//	wrt beta:              (dy) → (C)
//	wrt gamma:             (x, dy) → (C)
//	wrt x, training mode:  (x, gamma, dy, dgamma, dbeta) → shape of x
//	wrt x, inference mode: (gamma, dy) → shape of x
//
// It has its own scratch statistics, so that it never depends on, nor
// changes, the state of the forward op.
type bnDiffOp struct {
	opTraits

	fwd                    *bnOp
	wrt                    int
	mean, variance, invStd []float32
}

// stats is bnOp.stats without the moving-statistics update.
func (op *bnDiffOp) stats(x []float32) (mean, invStd []float32) {
	if !op.fwd.training {
		kernels.InvStdTo(op.invStd, op.fwd.movingVar, op.fwd.eps)
		return op.fwd.movingMean, op.invStd
	}
	kernels.BatchMomentsTo(op.mean, op.variance, x)
	kernels.InvStdTo(op.invStd, op.variance, op.fwd.eps)
	return op.mean, op.invStd
}

func (op *bnDiffOp) Arity() int {
	switch {
	case op.wrt == bnWrtBeta:
		return 1
	case op.wrt == bnWrtGamma:
		return 2
	case op.fwd.training:
		return 5
	default:
		return 2
	}
}

func (op *bnDiffOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	x, v := tensorT(op.fwd.dims, a), tensorT(1, a)
	switch {
	case op.wrt == bnWrtBeta:
		return hm.NewFnType(x, v)
	case op.wrt == bnWrtGamma:
		return hm.NewFnType(x, x, v)
	case op.fwd.training:
		return hm.NewFnType(x, v, x, v, v, x)
	default:
		return hm.NewFnType(v, x, x)
	}
}

// dyIndex is the position of dy among the inputs.
func (op *bnDiffOp) dyIndex() int {
	switch {
	case op.wrt == bnWrtBeta:
		return 0
	case op.wrt == bnWrtX && op.fwd.training:
		return 2
	default:
		return 1
	}
}

func (op *bnDiffOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if op.wrt != bnWrtX {
		return tensor.Shape{op.fwd.c}, nil
	}
	return op.fwd.InferShape(in[op.dyIndex()])
}

func (op *bnDiffOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "capa.BatchNormGrad{wrt %d %s}", op.wrt, op.fwd.ident())
}
func (op *bnDiffOp) Hashcode() uint32 { return opHash(op) }
func (op *bnDiffOp) String() string {
	return fmt.Sprintf("BatchNormGrad{wrt %s c%d training=%v}", [...]string{"x", "gamma", "beta"}[op.wrt], op.fwd.c, op.fwd.training)
}

func (op *bnDiffOp) outShape(v []*tensor.Dense) tensor.Shape {
	if op.wrt != bnWrtX {
		return tensor.Shape{op.fwd.c}
	}
	return v[op.dyIndex()].Shape()
}

func (op *bnDiffOp) Do(in ...G.Value) (G.Value, error) {
	v, err := op.inputs(in)
	if err != nil {
		return nil, err
	}
	out := tensor.New(tensor.WithShape(op.outShape(v).Clone()...), tensor.Of(tensor.Float32))
	op.do(out.Float32s(), v)
	return out, nil
}

func (op *bnDiffOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	v, err := op.inputs(in)
	if err != nil {
		return nil, err
	}
	p, err := opOutput(op, prealloc, op.outShape(v))
	if err != nil {
		return nil, err
	}
	op.do(p.Float32s(), v)
	return p, nil
}

func (op *bnDiffOp) inputs(in []G.Value) ([]*tensor.Dense, error) {
	v := make([]*tensor.Dense, len(in))
	for i := range in {
		d, err := opInput(op, in, i)
		if err != nil {
			return nil, err
		}
		v[i] = d
	}
	if s := v[op.dyIndex()].Shape(); s.Dims() != op.fwd.dims || s[op.fwd.dims-1] != op.fwd.c {
		return nil, fmt.Errorf("graph: %v: gradient shape %v", op, s)
	}
	return v, nil
}

func (op *bnDiffOp) do(dst []float32, v []*tensor.Dense) {
	switch {
	case op.wrt == bnWrtBeta:
		kernels.ChannelSumTo(dst, v[0].Float32s())
	case op.wrt == bnWrtGamma:
		x := v[0].Float32s()
		mean, invStd := op.stats(x)
		kernels.BatchNormGammaGradTo(dst, x, v[1].Float32s(), mean, invStd)
	case op.fwd.training:
		x := v[0].Float32s()
		mean, invStd := op.stats(x)
		kernels.BatchNormInputGradTo(dst, x, v[2].Float32s(), mean, invStd, v[1].Float32s(), v[3].Float32s(), v[4].Float32s())
	default:
		_, invStd := op.stats(nil)
		kernels.ScaleChannelsTo(dst, v[1].Float32s(), v[0].Float32s(), invStd)
	}
}
