package graph

import "fmt"

// Data is a set of samples for Fit and Evaluate: N inputs stored one after
// the other in X (NHWC, float32), and their labels in Y (LabelSize values
// per sample: one class index for sparse losses).
type Data struct {
	X []float32
	Y []float32
	N int
}

func (d Data) check(inSize, labelSize int, what string) error {
	if d.N < 1 {
		return fmt.Errorf("graph: %s data has no samples", what)
	}
	if len(d.X) != d.N*inSize {
		return fmt.Errorf("graph: %s data: %d input values for %d samples of %d", what, len(d.X), d.N, inSize)
	}
	if len(d.Y) != d.N*labelSize {
		return fmt.Errorf("graph: %s data: %d label values for %d samples of %d", what, len(d.Y), d.N, labelSize)
	}
	return nil
}

// split returns the first and last parts of d, the last holding the given
// fraction of samples (Keras's validation_split takes the last samples,
// before any shuffling).
func (d Data) split(fraction float64, inSize, labelSize int) (Data, Data) {
	nv := int(float64(d.N) * fraction)
	nt := d.N - nv
	return Data{X: d.X[:nt*inSize], Y: d.Y[:nt*labelSize], N: nt},
		Data{X: d.X[nt*inSize:], Y: d.Y[nt*labelSize:], N: nv}
}
