package interchange

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/capa-ml/capa/formats/hdf5"
	"github.com/capa-ml/capa/graph"
)

// ImportKerasH5 reads a whole-model file of Keras 2 (model.save("m.h5"):
// the root attribute model_config holds the model JSON, the group
// model_weights the weights, one group per layer naming its weights in the
// attribute weight_names, "conv2d/kernel:0") and builds it as a Capa model
// with its weights, for the layers Capa has (see ImportTFJS for the
// translation of the configs).
func ImportKerasH5(path string) (*graph.Model, error) {
	f, closer, err := hdf5.OpenFile(path)
	if err != nil {
		return nil, fmt.Errorf("interchange: %w", err)
	}
	defer closer.Close()
	m, err := importKerasH5(f)
	if err != nil {
		return nil, fmt.Errorf("interchange: %s: %w", path, err)
	}
	return m, nil
}

func importKerasH5(f *hdf5.File) (*graph.Model, error) {
	root := f.Root()
	cfg, err := root.Attr("model_config")
	if err != nil {
		return nil, fmt.Errorf("not a Keras 2 model file (no model_config attribute; a weights-only file has none): %w", err)
	}
	s, err := cfg.Strings()
	if err != nil || len(s) != 1 {
		return nil, fmt.Errorf("model_config is not one string: %v", err)
	}
	m, err := kerasModel(json.RawMessage(s[0]))
	if err != nil {
		return nil, err
	}
	g, err := root.Group("model_weights")
	if err != nil {
		return nil, fmt.Errorf("no model_weights group: %w", err)
	}
	names, err := hdf5.KerasLayerNames(g)
	if err != nil {
		return nil, fmt.Errorf("model_weights: layer_names: %w", err)
	}
	set := map[string]bool{}
	for _, name := range names {
		lg, err := g.Group(name)
		if err != nil {
			return nil, fmt.Errorf("layer %q: %w", name, err)
		}
		wnames, err := hdf5.KerasWeightNames(lg)
		if err != nil {
			return nil, fmt.Errorf("layer %q: weight_names: %w", name, err)
		}
		for _, wn := range wnames {
			// "conv2d/kernel:0" is the weight "kernel" of layer conv2d.
			short := strings.TrimSuffix(wn[strings.LastIndexByte(wn, '/')+1:], ":0")
			p, err := m.Param(name + "/" + short)
			if err != nil {
				return nil, fmt.Errorf("layer %q weight %q: not in the model: %w", name, wn, err)
			}
			d, err := lg.Dataset(wn)
			if err != nil {
				return nil, fmt.Errorf("layer %q weight %q: %w", name, wn, err)
			}
			if !graph.Shape(d.Shape()).Equal(p.Shape()) {
				return nil, fmt.Errorf("weight %q has shape %v in the file, %v in the model", wn, d.Shape(), p.Shape())
			}
			if err := d.ReadFloat32To(p.Data()); err != nil {
				return nil, fmt.Errorf("weight %q: %w", wn, err)
			}
			set[p.Name] = true
		}
	}
	for _, p := range m.Params() {
		if !set[p.Name] {
			return nil, fmt.Errorf("the file has no weight for %s", p.Name)
		}
	}
	return m, nil
}
