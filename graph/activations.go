package graph

import (
	"fmt"
)

// layerOutputsBatch is the batch size LayerOutputs runs at.
const layerOutputsBatch = 32

// LayerOutputs runs the model in inference mode on n samples stored one
// after the other in x (NHWC, n*InputShape().Size() values) and returns
// every layer's output, as Keras's Model(inputs, [l.output for l in
// model.layers]) does: out[i] is the output of Layers()[i], n samples of
// shape LayerOutputShape(i) one after the other (channels-last). The
// result holds every layer's activations of every sample, so keep n small
// for big models (the course's CNN: about 84 KB per sample).
//
// Dropout is inactive and BatchNormalization uses its moving statistics,
// as in Predict, whose output equals out[len(out)-1].
func (m *Model) LayerOutputs(x []float32, n int) ([][]float32, error) {
	if m.input == nil {
		return nil, fmt.Errorf("graph: model %q has no Input", m.Name)
	}
	if n < 0 {
		return nil, fmt.Errorf("graph: LayerOutputs: n must not be negative, got %d", n)
	}
	in := m.input.Size()
	if len(x)%in != 0 || len(x)/in != n {
		return nil, fmt.Errorf("graph: LayerOutputs: %d input values for %d samples of shape %v: want %d", len(x), n, m.input, n*in)
	}
	out := make([][]float32, len(m.layers))
	sizes := make([]int, len(m.layers))
	for i := range m.layers {
		sizes[i] = m.shapes[i].Size()
		out[i] = make([]float32, n*sizes[i])
	}
	runners := map[int]*Runner{}
	for s := 0; s < n; s += layerOutputsBatch {
		b := min(layerOutputsBatch, n-s)
		r, ok := runners[b]
		if !ok {
			gr, err := m.Graph(b, false)
			if err != nil {
				return nil, err
			}
			if r, err = NewRunner(gr, gr.Outputs...); err != nil {
				return nil, err
			}
			runners[b] = r
		}
		if err := r.Run(x[s*in : (s+b)*in]); err != nil {
			return nil, err
		}
		for i, node := range r.Outputs {
			v, err := r.Value(node)
			if err != nil {
				return nil, fmt.Errorf("graph: LayerOutputs: layer %q: %w", m.layers[i].base().Name, err)
			}
			d, ok := v.Data().([]float32)
			if !ok || len(d) != b*sizes[i] {
				return nil, fmt.Errorf("graph: LayerOutputs: layer %q computed %v of shape %v, want %d float32 values", m.layers[i].base().Name, v.Dtype(), v.Shape(), b*sizes[i])
			}
			copy(out[i][s*sizes[i]:], d)
		}
	}
	return out, nil
}

// LayerIndex returns the position in Layers() of the layer with the given
// name, for indexing LayerOutputs and LayerOutputShape.
func (m *Model) LayerIndex(name string) (int, error) {
	for i, l := range m.layers {
		if l.base().Name == name {
			return i, nil
		}
	}
	names := make([]string, len(m.layers))
	for i, l := range m.layers {
		names[i] = l.base().Name
	}
	return -1, fmt.Errorf("graph: model %q has no layer %q (its layers: %v)", m.Name, name, names)
}
