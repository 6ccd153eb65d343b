package applications

import (
	"errors"
	"fmt"
	"strings"

	"github.com/capa-ml/capa/formats/hdf5"
	"github.com/capa-ml/capa/formats/torchpth"
	"github.com/capa-ml/capa/graph"
)

// ErrWeights is wrapped by the errors of the loaders for a file that does
// not fit the model: a missing, unexpected or misshapen tensor.
var ErrWeights = errors.New("weights do not fit the model")

// LoadTorchvision loads a torchvision state dict (the published .pth files,
// current zip serialization or the legacy one) into a model built by
// TorchResNet18/34/50 or TorchMobileNetV2: each tensor "a.b.c.weight" goes
// to layer a_b_c, convolution weights transposed from (out, in, kh, kw) to
// (kh, kw, in, out), depthwise ones to (kh, kw, C, 1), Linear weights to
// (in, out), BatchNorm's running statistics to the moving mean and
// variance; num_batches_tracked is ignored, and so is the classifier for a
// model without its top. Every weight of the model must be in the file and
// every tensor of the file must fit the model; an error names the tensor
// (the tensors before it are loaded by then: load into a fresh model).
func LoadTorchvision(m *graph.Model, path string) error {
	sd, err := torchpth.OpenFile(path)
	if err != nil {
		return fmt.Errorf("applications: %w", err)
	}
	defer sd.Close()
	layers := map[string]graph.Layer{}
	for _, l := range m.Layers() {
		layers[graph.NameOf(l)] = l
	}
	loaded := map[*graph.Param]bool{}
	for _, key := range sd.Keys() {
		i := strings.LastIndexByte(key, '.')
		if i < 0 {
			return fmt.Errorf("applications: %s: tensor %q is not a module's: %w", path, key, ErrWeights)
		}
		module, what := strings.ReplaceAll(key[:i], ".", "_"), key[i+1:]
		if what == "num_batches_tracked" {
			continue
		}
		l, ok := layers[module]
		if !ok {
			if module == "fc" || strings.HasPrefix(module, "classifier") {
				continue // the top, for a model without it
			}
			return fmt.Errorf("applications: %s: tensor %q has no layer %q in model %q: %w", path, key, module, m.Name, ErrWeights)
		}
		t, err := sd.Tensor(key)
		if err != nil {
			return fmt.Errorf("applications: %s: %w", path, err)
		}
		p, data, err := fromTorch(l, what, t.Shape, t.Float32())
		if err != nil {
			return fmt.Errorf("applications: %s: %s into layer %q: %w", path, key, module, err)
		}
		copy(p.Data(), data)
		loaded[p] = true
	}
	for _, p := range m.Params() {
		if !loaded[p] {
			return fmt.Errorf("applications: %s: no tensor for weight %s of model %q: %w", path, p.Name, m.Name, ErrWeights)
		}
	}
	return nil
}

// fromTorch finds the weight of l a torch tensor "what" of the given shape
// holds and returns it with the data in Capa's layout.
func fromTorch(l graph.Layer, what string, shape []int, w []float32) (*graph.Param, []float32, error) {
	param := func(name string) (*graph.Param, error) {
		for _, p := range graph.ParamsOf(l) {
			if strings.HasSuffix(p.Name, "/"+name) {
				return p, nil
			}
		}
		return nil, fmt.Errorf("the layer (%s) has no weight %q: %w", l.Class(), name, ErrWeights)
	}
	fits := func(p *graph.Param, want []int) error {
		if !graph.Shape(p.Shape()).Equal(want) {
			return fmt.Errorf("shape %v gives %v, the model's %s is %v: %w", shape, want, p.Name, p.Shape(), ErrWeights)
		}
		return nil
	}
	var name string
	switch l.(type) {
	case *graph.Conv2D, *graph.DepthwiseConv2D, *graph.Dense:
		name = map[string]string{"weight": "kernel", "bias": "bias"}[what]
	case *graph.BatchNormalization:
		name = map[string]string{"weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"}[what]
	}
	if name == "" {
		return nil, nil, fmt.Errorf("a %s layer takes no %q: %w", l.Class(), what, ErrWeights)
	}
	if _, dw := l.(*graph.DepthwiseConv2D); dw && name == "kernel" {
		name = "depthwise_kernel"
	}
	p, err := param(name)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case name == "kernel" && len(shape) == 4: // (out, in, kh, kw) -> (kh, kw, in, out)
		out, in, kh, kw := shape[0], shape[1], shape[2], shape[3]
		if err := fits(p, []int{kh, kw, in, out}); err != nil {
			return nil, nil, err
		}
		dst := make([]float32, len(w))
		for o := range out {
			for i := range in {
				for y := range kh {
					for x := range kw {
						dst[((y*kw+x)*in+i)*out+o] = w[((o*in+i)*kh+y)*kw+x]
					}
				}
			}
		}
		return p, dst, nil
	case name == "depthwise_kernel" && len(shape) == 4 && shape[1] == 1: // (C, 1, kh, kw) -> (kh, kw, C, 1)
		c, kh, kw := shape[0], shape[2], shape[3]
		if err := fits(p, []int{kh, kw, c, 1}); err != nil {
			return nil, nil, err
		}
		dst := make([]float32, len(w))
		for ch := range c {
			for y := range kh {
				for x := range kw {
					dst[(y*kw+x)*c+ch] = w[(ch*kh+y)*kw+x]
				}
			}
		}
		return p, dst, nil
	case name == "kernel" && len(shape) == 2: // Linear (out, in) -> (in, out)
		out, in := shape[0], shape[1]
		if err := fits(p, []int{in, out}); err != nil {
			return nil, nil, err
		}
		dst := make([]float32, len(w))
		for o := range out {
			for i := range in {
				dst[i*out+o] = w[o*in+i]
			}
		}
		return p, dst, nil
	case len(shape) == 1 && name != "kernel" && name != "depthwise_kernel":
		if err := fits(p, shape); err != nil {
			return nil, nil, err
		}
		return p, w, nil
	}
	return nil, nil, fmt.Errorf("shape %v does not fit %s %v: %w", shape, p.Name, p.Shape(), ErrWeights)
}

// LoadKeras loads a Keras weight file in the HDF5 layout of Keras's
// save_weights and of the published keras.applications files
// (resnet50_weights_tf_dim_ordering_tf_kernels(_notop).h5,
// mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224(_no_top).h5):
// the root's layer_names, and per layer group its weight_names in the
// layer's weight order (kernel, bias; gamma, beta, moving_mean,
// moving_variance), which is Capa's, in Keras's layout, which is Capa's
// too. Layers of the file the model lacks are refused, except the top of
// a model without it; every weight of the model must be in the file.
func LoadKeras(m *graph.Model, path string) error {
	f, closer, err := hdf5.OpenFile(path)
	if err != nil {
		return fmt.Errorf("applications: %w", err)
	}
	defer closer.Close()
	root := f.Root()
	names, err := hdf5.KerasLayerNames(root)
	if err != nil {
		return fmt.Errorf("applications: %s: not a Keras weight file (root attribute layer_names: %v): %w", path, err, ErrWeights)
	}
	loaded := map[*graph.Param]bool{}
	for _, name := range names {
		g, err := root.Group(name)
		if err != nil {
			return fmt.Errorf("applications: %s: layer %q: %w", path, name, err)
		}
		wnames, err := hdf5.KerasWeightNames(g)
		if err != nil {
			return fmt.Errorf("applications: %s: layer %q: attribute weight_names: %w", path, name, err)
		}
		if len(wnames) == 0 {
			continue // input, padding, pooling, activations
		}
		l, err := m.Layer(name)
		if err != nil {
			if name == "predictions" {
				continue // the top, for a model without it
			}
			return fmt.Errorf("applications: %s: layer %q of the file is not in model %q: %w", path, name, m.Name, ErrWeights)
		}
		params := graph.ParamsOf(l)
		if len(wnames) != len(params) {
			return fmt.Errorf("applications: %s: layer %q has %d weights in the file, the model's has %d: %w", path, name, len(wnames), len(params), ErrWeights)
		}
		for i, wn := range wnames {
			d, err := g.Dataset(wn)
			if err != nil {
				return fmt.Errorf("applications: %s: layer %q weight %q: %w", path, name, wn, err)
			}
			if !graph.Shape(d.Shape()).Equal(params[i].Shape()) {
				return fmt.Errorf("applications: %s: layer %q weight %q has shape %v, the model's %s is %v: %w", path, name, wn, d.Shape(), params[i].Name, params[i].Shape(), ErrWeights)
			}
			if err := d.ReadFloat32To(params[i].Data()); err != nil {
				return fmt.Errorf("applications: %s: layer %q weight %q: %w", path, name, wn, err)
			}
			loaded[params[i]] = true
		}
	}
	for _, p := range m.Params() {
		if !loaded[p] {
			return fmt.Errorf("applications: %s: no weights for %s of model %q: %w", path, p.Name, m.Name, ErrWeights)
		}
	}
	return nil
}
