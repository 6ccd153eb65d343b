package engine

import (
	"fmt"
	"hash"

	"github.com/capa-ml/capa/internal/kernels"
	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Pad2D pads x (N, H, W, C) with zeros: pad is (top, bottom, left,
// right). Its gradient crops. Keras's ZeroPadding2D.
func Pad2D(x *G.Node, pad [4]int) (*G.Node, error) { return layout(x, layoutPad, pad) }

// Crop2D removes pad (top, bottom, left, right) rows and columns from x
// (N, H, W, C). Its gradient pads. Keras's Cropping2D.
func Crop2D(x *G.Node, crop [4]int) (*G.Node, error) { return layout(x, layoutCrop, crop) }

// UpSample2D repeats each pixel of x (N, H, W, C) size[0] times down and
// size[1] times across (Keras's UpSampling2D, "nearest"). Its gradient sums
// each block.
func UpSample2D(x *G.Node, size [2]int) (*G.Node, error) {
	return layout(x, layoutUp, [4]int{size[0], size[1]})
}

type layoutKind int

const (
	layoutPad layoutKind = iota
	layoutCrop
	layoutUp
	layoutUpBack
)

func layout(x *G.Node, k layoutKind, p [4]int) (*G.Node, error) {
	if err := opFloat32("layout", x); err != nil {
		return nil, err
	}
	op := &layoutOp{kind: k, p: p}
	s := x.Shape()
	if s.Dims() != 4 {
		return nil, fmt.Errorf("graph: %v needs (N, H, W, C), got %v", op, s)
	}
	if _, err := op.out(s); err != nil {
		return nil, err
	}
	return G.ApplyOp(op, x)
}

type layoutOp struct {
	opTraits
	kind layoutKind
	p    [4]int
}

func (op *layoutOp) out(s tensor.Shape) (tensor.Shape, error) {
	o := s.Clone()
	p := op.p
	switch op.kind {
	case layoutPad:
		o[1], o[2] = s[1]+p[0]+p[1], s[2]+p[2]+p[3]
	case layoutCrop:
		o[1], o[2] = s[1]-p[0]-p[1], s[2]-p[2]-p[3]
	case layoutUp:
		o[1], o[2] = s[1]*p[0], s[2]*p[1]
	case layoutUpBack:
		o[1], o[2] = s[1]/p[0], s[2]/p[1]
	}
	for _, v := range p {
		if v < 0 {
			return nil, fmt.Errorf("graph: %v: negative size", op)
		}
	}
	if o[1] < 1 || o[2] < 1 || (op.kind >= layoutUp && (p[0] < 1 || p[1] < 1)) {
		return nil, fmt.Errorf("graph: %v on %v leaves nothing", op, s)
	}
	return o, nil
}

func (op *layoutOp) Arity() int { return 1 }
func (op *layoutOp) Type() hm.Type {
	t := G.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t)
}
func (op *layoutOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	ss, err := opShapes(op, in)
	if err != nil {
		return nil, err
	}
	return op.out(ss[0])
}
func (op *layoutOp) Do(in ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, in...) }

// UsePreallocDo writes the result into prealloc when it fits.
func (op *layoutOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	d, err := opInputs(op, in)
	if err != nil {
		return nil, err
	}
	s := d[0].Shape()
	os, err := op.out(s)
	if err != nil {
		return nil, err
	}
	out, err := opOutput(op, prealloc, os)
	if err != nil {
		return nil, err
	}
	y, x, p := opF32(out), opF32(d[0]), op.p
	switch op.kind {
	case layoutPad:
		kernels.Pad2DTo(y, x, s[0], s[1], s[2], s[3], p[0], p[1], p[2], p[3])
	case layoutCrop:
		kernels.Crop2DTo(y, x, s[0], s[1], s[2], s[3], p[0], p[1], p[2], p[3])
	case layoutUp:
		kernels.UpsampleNearestTo(y, x, s[0], s[1], s[2], s[3], p[0], p[1])
	case layoutUpBack:
		kernels.UpsampleNearestBackTo(y, x, s[0], os[1], os[2], s[3], p[0], p[1])
	}
	return out, nil
}
func (op *layoutOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "capa.Layout{%d,%v}", op.kind, op.p) }
func (op *layoutOp) Hashcode() uint32      { return opHash(op) }
func (op *layoutOp) String() string {
	return [...]string{"Pad2D", "Crop2D", "UpSample2D", "UpSample2DBack"}[op.kind] + fmt.Sprint(op.p)
}
func (op *layoutOp) DiffWRT(int) []bool { return []bool{true} }

// SymDiff: padding and cropping undo each other; upsampling sums blocks.
func (op *layoutOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	back := &layoutOp{p: op.p}
	switch op.kind {
	case layoutPad:
		back.kind = layoutCrop
	case layoutCrop:
		back.kind = layoutPad
	case layoutUp:
		back.kind = layoutUpBack
	default:
		return nil, fmt.Errorf("graph: %v has no gradient", op)
	}
	dx, err := G.ApplyOp(back, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx}, nil
}
