package engine

import (
	"fmt"
	"hash"

	"github.com/capa-ml/capa/internal/kernels"
	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Convolution2D returns the 2-D convolution (cross-correlation, as in Keras)
// of x, NHWC (N, H, W, C), with kernel (KH, KW, C, F): an NHWC node
// (N, OH, OW, F) with OH = (H+top+bottom-KH)/strides[0] + 1 and OW likewise.
// padding is (top, bottom, left, right); padded cells read 0. There is no
// bias (see BiasAdd). Both nodes must be float32.
//
// The function is named Convolution2D, not Conv2D, because Conv2D is the
// layer type of package graph, which re-exports this function.
//
// It returns an error naming the values received when a stride is not
// positive, a padding is negative, a dtype is not float32, the ranks are not
// 4, the channels of x and kernel differ or the window does not fit the
// padded input. Gradients flow to x and to kernel.
//
// The op keeps its im2col scratch matrix (N*OH*OW × KH*KW*C floats) between
// runs and shares it with its two gradient ops, so one graph node's ops must
// not run concurrently (a TapeMachine runs them one after the other). When
// no gradient of the kernel is built (inference, or frozen layers before the
// first trainable one), 3x3 convolutions with stride 1 and enough input
// channels run Winograd's algorithm instead of im2col, F(4x4, 3x3) for wide
// layers and F(2x2, 3x3) for the others (see kernels.Conv2DWinogradTo and
// kernels.UseWinograd): the same values to float32 rounding, 2.25 to 4
// times fewer multiplications; the transformed filters are reused while
// the kernel's values are unchanged.
func Convolution2D(x, kernel *G.Node, strides [2]int, padding [4]int) (*G.Node, error) {
	if err := opFloat32("Convolution2D", x, kernel); err != nil {
		return nil, err
	}
	op := &conv2dOp{strides: strides, pad: padding, scratch: new(convScratch)}
	if err := opCheckWindow("Convolution2D", strides, padding); err != nil {
		return nil, err
	}
	y, err := G.ApplyOp(op, x, kernel)
	if err != nil {
		return nil, fmt.Errorf("graph: Convolution2D of x %v with kernel %v: %w", x.Shape(), kernel.Shape(), err)
	}
	return y, nil
}

// convScratch holds the buffers shared by a convolution op and its gradient
// ops: col, the im2col matrix of x, written by the forward op and read by
// the kernel's gradient op; dcol, the gradient op of x's own. needCol is set
// when the kernel's gradient is built (SymDiff): without it (inference, and
// layers frozen before the first trainable one) the forward op needs no
// im2col matrix and uses stream instead, as the scratch of Winograd's
// algorithm for 3x3 windows with stride 1 and enough input channels
// (kernels.UseWinograd), otherwise for im2col chunks.
type convScratch struct {
	col, dcol, stream []float32
	needCol           bool
	path              convPath // the forward kernel of the last run, for tests

	// winoKernel is a copy of the kernel whose Winograd transform stream
	// holds (from offset 0) while winoBase is stream's first element: a
	// run on a kernel with the same bits reuses the transform.
	winoKernel []float32
	winoBase   *float32
	reused     bool // the last Winograd run reused the transform, for tests
}

// winograd runs Winograd's convolution with s.stream as scratch, reusing
// the transformed filters when the kernel's bits have not changed since
// the last run (checked, not assumed: weights change in place during
// training and can be set by users).
func (s *convScratch) winograd(dst, x, kernel []float32, p kernels.Window, f int, ep kernels.Epilogue) {
	buf := s.getStream(p.WinogradScratchLen(f))
	reuse := s.winoBase == &buf[0] && kernels.SameBits(s.winoKernel, kernel)
	kernels.Conv2DWinogradReuseTo(dst, x, kernel, p, f, buf, reuse, ep)
	s.reused = reuse
	if !reuse {
		s.winoKernel = append(s.winoKernel[:0], kernel...)
		s.winoBase = &buf[0]
	}
}

// convPath names a forward convolution kernel.
type convPath uint8

const (
	pathNone       convPath = iota
	pathIm2col              // kernels.Conv2DTo, keeping the im2col matrix
	pathStream              // kernels.Conv2DStreamTo
	pathWinograd            // kernels.Conv2DWinogradTo
	pathStreamPool          // kernels.Conv2DMaxPoolTo, fused with the max pooling after it
)

// String is the kernel's name, as ConvRun reports it.
func (p convPath) String() string {
	switch p {
	case pathIm2col:
		return "im2col"
	case pathStream:
		return "stream"
	case pathWinograd:
		return "winograd"
	case pathStreamPool:
		return "stream+maxpool"
	}
	return "none"
}

// ConvRun reports, for a node made by Convolution2D or Conv2DBiasRelu, the forward kernel
// its last run used ("im2col", "stream", "winograd", "stream+maxpool" when
// an Executor fused it with the max pooling of its output, or "none" before
// the first run) and whether that run reused the Winograd transform of the
// kernel; ok is false for any other node. It is for tests of the layers
// that choose the kernels (package graph's Winograd tests).
func ConvRun(n *G.Node) (path string, reused, ok bool) {
	var s *convScratch
	switch op := n.Op().(type) {
	case *conv2dOp:
		s = op.scratch
	case *conv2dBiasReluOp:
		s = op.scratch
	default:
		return "", false, false
	}
	return s.path.String(), s.reused, true
}

func (s *convScratch) getStream(n int) []float32 {
	if cap(s.stream) < n {
		s.stream = make([]float32, n)
	}
	return s.stream[:n]
}

func (s *convScratch) get(n int) []float32 {
	if cap(s.col) < n {
		s.col = make([]float32, n)
	}
	return s.col[:n]
}

func (s *convScratch) getD(n int) []float32 {
	if cap(s.dcol) < n {
		s.dcol = make([]float32, n)
	}
	return s.dcol[:n]
}

// conv2dOp is the forward convolution: inputs x (N, H, W, C) and kernel
// (KH, KW, C, F), output (N, OH, OW, F). Not safe for concurrent Do.
type conv2dOp struct {
	opTraits

	strides [2]int
	pad     [4]int // top, bottom, left, right
	scratch *convScratch
}

// window validates the shapes of x and kernel and returns the window and the
// number of filters. InferShape and Do both use it.
func (op *conv2dOp) window(xs, ks tensor.Shape) (kernels.Window, int, error) {
	if len(xs) != 4 {
		return kernels.Window{}, 0, fmt.Errorf("graph: %v: x must be (N, H, W, C), got shape %v", op, xs)
	}
	if len(ks) != 4 {
		return kernels.Window{}, 0, fmt.Errorf("graph: %v: kernel must be (KH, KW, C, F), got shape %v", op, ks)
	}
	if xs[3] != ks[2] {
		return kernels.Window{}, 0, fmt.Errorf("graph: %v: x %v has %d channels but kernel %v expects %d", op, xs, xs[3], ks, ks[2])
	}
	p := kernels.Window{
		N: xs[0], H: xs[1], W: xs[2], C: xs[3], KH: ks[0], KW: ks[1],
		SH: op.strides[0], SW: op.strides[1],
		PadTop: op.pad[0], PadBottom: op.pad[1], PadLeft: op.pad[2], PadRight: op.pad[3],
	}
	if err := opFits(op, p, xs, ks); err != nil {
		return kernels.Window{}, 0, err
	}
	if ks[3] < 1 {
		return kernels.Window{}, 0, fmt.Errorf("graph: %v: kernel %v has no filters", op, ks)
	}
	return p, ks[3], nil
}

func (op *conv2dOp) Arity() int { return 2 }

// Type is a → a → a with a a rank-4 tensor type.
func (op *conv2dOp) Type() hm.Type {
	t := G.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t, t)
}

func (op *conv2dOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	ss, err := opShapes(op, in)
	if err != nil {
		return nil, err
	}
	p, f, err := op.window(ss[0], ss[1])
	if err != nil {
		return nil, err
	}
	return tensor.Shape{p.N, p.OutH(), p.OutW(), f}, nil
}

func (op *conv2dOp) Do(in ...G.Value) (G.Value, error) {
	return op.UsePreallocDo(nil, in...)
}

// UsePreallocDo writes the convolution into prealloc when it is a float32
// tensor of the output shape, otherwise into a new tensor.
func (op *conv2dOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	d, err := opInputs(op, in)
	if err != nil {
		return nil, err
	}
	p, f, err := op.window(d[0].Shape(), d[1].Shape())
	if err != nil {
		return nil, err
	}
	out, err := opOutput(op, prealloc, tensor.Shape{p.N, p.OutH(), p.OutW(), f})
	if err != nil {
		return nil, err
	}
	op.run(opF32(out), opF32(d[0]), opF32(d[1]), p, f, kernels.Epilogue{})
	return out, nil
}

// run computes the convolution of x by kernel into dst, then the epilogue,
// with the kernel the scratch calls for: im2col kept whole when the
// kernel's gradient needs it, else Winograd's where it applies, else
// streamed im2col chunks.
func (op *conv2dOp) run(dst, x, kernel []float32, p kernels.Window, f int, ep kernels.Epilogue) {
	switch {
	case op.scratch.needCol:
		op.scratch.path = pathIm2col
		kernels.Conv2DTo(dst, x, kernel, p, f, op.scratch.get(p.ColLen()), ep)
	case kernels.UseWinograd(p, f):
		op.scratch.path = pathWinograd
		op.scratch.winograd(dst, x, kernel, p, f, ep)
	default:
		op.scratch.path = pathStream
		kernels.Conv2DStreamTo(dst, x, kernel, p, f, op.scratch.getStream(p.StreamScratchLen()), ep)
	}
}

func (op *conv2dOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "capa.Conv2D{s%v p%v}", op.strides, op.pad)
}
func (op *conv2dOp) Hashcode() uint32 { return opHash(op) }

// normWindow, normRun and ident make the convolution a normConv.
func (op *conv2dOp) normWindow(xs, ks tensor.Shape) (kernels.Window, int, error) {
	return op.window(xs, ks)
}

func (op *conv2dOp) normRun(dst, x, kernel []float32, p kernels.Window, f int, ep kernels.Epilogue) {
	op.run(dst, x, kernel, p, f, ep)
}

func (op *conv2dOp) ident() string { return fmt.Sprintf("s%v p%v", op.strides, op.pad) }

func (op *conv2dOp) String() string {
	return fmt.Sprintf("Conv2D{strides %v, padding %v}", op.strides, op.pad)
}

// DiffWRT: the convolution is differentiable with respect to x and kernel.
func (op *conv2dOp) DiffWRT(int) []bool { return []bool{true, true} }

// SymDiff returns the gradient nodes of x (conv2dDiffOp wrt 0) and of the
// kernel (wrt 1), both computed from (x, kernel, grad).
func (op *conv2dOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if len(inputs) != 2 {
		return nil, fmt.Errorf("graph: %v: SymDiff got %d inputs, want 2", op, len(inputs))
	}
	dx, err := G.ApplyOp(&conv2dDiffOp{conv2dOp: *op, wrt: 0}, inputs[0], inputs[1], grad)
	if err != nil {
		return nil, err
	}
	// The kernel's gradient reads the im2col matrix left by the forward op:
	// the forward output is an input, so the forward op always runs first.
	op.scratch.needCol = true
	dw, err := G.ApplyOp(&conv2dDiffOp{conv2dOp: *op, wrt: 1}, inputs[0], inputs[1], output, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dw}, nil
}

// conv2dDiffOp computes one gradient of a convolution: wrt 0 gives dx (the
// shape of x) from (x, kernel, dy); wrt 1 gives dkernel (the shape of
// kernel) from (x, kernel, y, dy), reading the forward op's im2col matrix.
// It shares the forward op's scratch; not safe for concurrent Do.
type conv2dDiffOp struct {
	conv2dOp
	wrt int
}

func (op *conv2dDiffOp) Arity() int { return 3 + op.wrt }

// Type is a → a → a (→ a) → a with a a rank-4 tensor type.
func (op *conv2dDiffOp) Type() hm.Type {
	t := G.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	if op.wrt == 1 {
		return hm.NewFnType(t, t, t, t, t)
	}
	return hm.NewFnType(t, t, t, t)
}

func (op *conv2dDiffOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	ss, err := opShapes(op, in)
	if err != nil {
		return nil, err
	}
	if err := op.check(ss[0], ss[1], ss[len(ss)-1]); err != nil {
		return nil, err
	}
	return ss[op.wrt].Clone(), nil
}

// check validates x and kernel as the forward op does and dy against the
// forward output.
func (op *conv2dDiffOp) check(xs, ks, dys tensor.Shape) error {
	p, f, err := op.window(xs, ks)
	if err != nil {
		return err
	}
	if want := (tensor.Shape{p.N, p.OutH(), p.OutW(), f}); !dys.Eq(want) {
		return fmt.Errorf("graph: %v: output gradient has shape %v, want %v", op, dys, want)
	}
	return nil
}

func (op *conv2dDiffOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }

// UsePreallocDo writes the gradient into prealloc when it is a float32
// tensor of the right shape, otherwise into a new tensor.
func (op *conv2dDiffOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	d, err := opInputs(op, in)
	if err != nil {
		return nil, err
	}
	dy := d[len(d)-1]
	if err := op.check(d[0].Shape(), d[1].Shape(), dy.Shape()); err != nil {
		return nil, err
	}
	p, f, _ := op.window(d[0].Shape(), d[1].Shape())
	out, err := opOutput(op, prealloc, d[op.wrt].Shape())
	if err != nil {
		return nil, err
	}
	if op.wrt == 0 {
		kernels.Conv2DBackwardDataTo(opF32(out), opF32(dy), opF32(d[1]), p, f, op.scratch.getD(p.ColLen()))
	} else {
		kernels.Conv2DBackwardFilterFromColTo(opF32(out), opF32(dy), p, f, op.scratch.get(p.ColLen()))
	}
	return out, nil
}

func (op *conv2dDiffOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "capa.Conv2DDiff{wrt%d s%v p%v}", op.wrt, op.strides, op.pad)
}
func (op *conv2dDiffOp) Hashcode() uint32 { return opHash(op) }
func (op *conv2dDiffOp) String() string {
	return fmt.Sprintf("Conv2DDiff{wrt %s, strides %v, padding %v}", [2]string{"x", "kernel"}[op.wrt], op.strides, op.pad)
}

// The gradient ops are not themselves differentiable: DiffWRT and SymDiff
// shadow the forward op's.
func (op *conv2dDiffOp) DiffWRT(n int) []bool { return make([]bool, n) }
func (op *conv2dDiffOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("graph: %v is not differentiable", op)
}
