package hdf5

// Keras 1 and 2 weight files (save_weights, the published
// keras.applications files, and the model_weights group of a whole-model
// file) list their layers in the attribute layer_names of the weights
// group, and each layer group its weights in the attribute weight_names,
// both arrays of byte strings. These two read them.

// KerasLayerNames returns the layer_names attribute of a Keras weights
// group (a weights file's root, or a model file's model_weights).
func KerasLayerNames(g *Group) ([]string, error) {
	a, err := g.Attr("layer_names")
	if err != nil {
		return nil, err
	}
	return a.Strings()
}

// KerasWeightNames returns a Keras layer group's weight_names, nil for a
// layer without weights (Keras writes the empty list as an empty float64
// array).
func KerasWeightNames(g *Group) ([]string, error) {
	a, err := g.Attr("weight_names")
	if err != nil {
		return nil, err
	}
	if a.Len() == 0 {
		return nil, nil
	}
	return a.Strings()
}
