package graph

import (
	"fmt"
	"math"
)

// Data is a set of samples for Fit and Evaluate: N inputs stored one after
// the other in X (NHWC, float32), and their labels in Y (LabelSize values
// per sample: one class index for sparse losses). For a model with several
// inputs, Inputs holds one such slice per input, in the model's order, and
// X is left nil (Keras's fit([x1, x2], y)).
//
// Weights, if set, holds one weight per sample (Keras's sample_weight):
// each sample's loss is multiplied by it, and the batch's loss is the sum
// of the weighted losses over the batch size, as Keras reduces it. Only
// losses linear in the target (the cross-entropies of package train, see
// TargetLinear) take weights.
type Data struct {
	X       []float32
	Y       []float32
	N       int
	Inputs  [][]float32
	Weights []float32
}

// input returns the values of input i.
func (d Data) input(i int) []float32 {
	if d.Inputs == nil {
		return d.X
	}
	return d.Inputs[i]
}

// check checks d against a model's per-sample input sizes and label size.
func (d Data) check(inSizes []int, labelSize int, what string) error {
	if d.N < 1 {
		return fmt.Errorf("graph: %s data has no samples", what)
	}
	switch {
	case d.Inputs == nil && len(inSizes) > 1:
		return fmt.Errorf("graph: %s data: the model has %d inputs: give Data.Inputs, one slice per input", what, len(inSizes))
	case d.Inputs != nil && d.X != nil:
		return fmt.Errorf("graph: %s data: give X or Inputs, not both", what)
	case d.Inputs != nil && len(d.Inputs) != len(inSizes):
		return fmt.Errorf("graph: %s data: %d inputs for a model with %d", what, len(d.Inputs), len(inSizes))
	}
	for i, in := range inSizes {
		if x := d.input(i); len(x) != d.N*in {
			if len(inSizes) == 1 {
				return fmt.Errorf("graph: %s data: %d input values for %d samples of %d", what, len(x), d.N, in)
			}
			return fmt.Errorf("graph: %s data: input %d: %d values for %d samples of %d", what, i, len(x), d.N, in)
		}
	}
	if len(d.Y) != d.N*labelSize {
		return fmt.Errorf("graph: %s data: %d label values for %d samples of %d", what, len(d.Y), d.N, labelSize)
	}
	if d.Weights != nil {
		if len(d.Weights) != d.N {
			return fmt.Errorf("graph: %s data: %d sample weights for %d samples", what, len(d.Weights), d.N)
		}
		for i, w := range d.Weights {
			if !(w >= 0) || math.IsInf(float64(w), 0) {
				return fmt.Errorf("graph: %s data: sample weight %d is %v, want a finite non-negative number", what, i, w)
			}
		}
	}
	return nil
}

// split returns the first and last parts of d, the last holding the given
// fraction of samples (Keras's validation_split takes the last samples,
// before any shuffling).
func (d Data) split(fraction float64, inSizes []int, labelSize int) (Data, Data) {
	nv := int(float64(d.N) * fraction)
	nt := d.N - nv
	a := Data{Y: d.Y[:nt*labelSize], N: nt}
	b := Data{Y: d.Y[nt*labelSize:], N: nv}
	if d.Weights != nil {
		a.Weights, b.Weights = d.Weights[:nt], d.Weights[nt:]
	}
	if d.Inputs == nil {
		a.X, b.X = d.X[:nt*inSizes[0]], d.X[nt*inSizes[0]:]
		return a, b
	}
	for i, in := range inSizes {
		a.Inputs = append(a.Inputs, d.Inputs[i][:nt*in])
		b.Inputs = append(b.Inputs, d.Inputs[i][nt*in:])
	}
	return a, b
}

// inputSizes returns the per-sample size of each of the model's inputs.
func (m *Model) inputSizes() []int {
	s := make([]int, len(m.inputs))
	for i, n := range m.inputs {
		s[i] = m.nodes[n].shape.Size()
	}
	return s
}
