package engine

import (
	"errors"
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// GlobalAvgPool2D averages each channel of x, an (N, H, W, C) float32
// tensor (channels-last), over its H*W positions and returns an (N, C) node:
// Keras's GlobalAveragePooling2D with keepdims false.
//
// It is a composite, gorgonia.Mean over axes 1 and 2, whose forward pass
// and gradient were checked in Gorgonia v0.9.18 (Gorgonia's own
// GlobalAveragePool2D is NCHW and has no gradient). The output is a new
// tensor; x is not modified. It returns an error if x is not a 4-D float32
// node with nonzero sizes.
func GlobalAvgPool2D(x *G.Node) (*G.Node, error) {
	if x == nil {
		return nil, errors.New("graph: GlobalAvgPool2D: nil input node")
	}
	s := x.Shape()
	if s.Dims() != 4 || s.TotalSize() == 0 {
		return nil, fmt.Errorf("graph: GlobalAvgPool2D: input shape %v, want (N, H, W, C) with nonzero sizes", s)
	}
	if dt := x.Dtype(); dt != tensor.Float32 {
		return nil, fmt.Errorf("graph: GlobalAvgPool2D: input %v has dtype %v, want float32", x.Name(), dt)
	}
	y, err := G.Mean(x, 1, 2)
	if err != nil {
		return nil, fmt.Errorf("graph: GlobalAvgPool2D on %v: %w", s, err)
	}
	return y, nil
}
