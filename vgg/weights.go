package vgg

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/capa-ml/capa/formats/hdf5"
	"github.com/capa-ml/capa/formats/torchpth"
	"github.com/capa-ml/capa/graph"
)

// Source is where a set of weights comes from, which decides how images
// must be preprocessed for them.
type Source int

const (
	// Keras weights (HDF5) expect PreprocessCaffe.
	Keras Source = iota + 1
	// Torchvision weights (.pth) expect PreprocessTorch.
	Torchvision
)

// String names the source.
func (s Source) String() string {
	switch s {
	case Keras:
		return "Keras"
	case Torchvision:
		return "torchvision"
	}
	return "unknown"
}

// Preprocess applies the preprocessing the source's weights expect to RGB
// pixels in [0, 1] (see PreprocessCaffe and PreprocessTorch).
func (s Source) Preprocess(dst, src []float32) {
	if s == Torchvision {
		PreprocessTorch(dst, src)
		return
	}
	PreprocessCaffe(dst, src)
}

// ErrWeights is wrapped by the errors of LoadWeights for a file that does
// not fit the model (wrong names or shapes) or is not a weight file.
var ErrWeights = errors.New("vgg: weights do not fit")

// topLayers are the layers of the full model that a base without the top
// skips when loading a full file.
var topLayers = map[string]bool{"flatten": true, "fc1": true, "fc2": true, "predictions": true}

// LoadWeights loads pretrained weights into a VGG model built by New, from
// Keras's HDF5 files (vgg16_weights_tf_dim_ordering_tf_kernels[_notop].h5,
// with Keras 1 or Keras 2 weight names) or torchvision's .pth files
// (vgg16-397923af.pth; legacy or zip serialization), told apart by their
// content. A full file loads into a model without the top (its top is
// skipped); every weight of the model must be in the file with the same
// shape, or the error names the layer. It returns the source, whose
// Preprocess the inputs need.
func LoadWeights(m *graph.Model, path string) (Source, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("vgg: %w", err)
	}
	head := make([]byte, 8)
	_, err = io.ReadFull(f, head)
	f.Close()
	if err != nil {
		return 0, fmt.Errorf("vgg: %s: too short for a weight file: %w", path, ErrWeights)
	}
	switch sniff(head) {
	case Keras:
		f, closer, err := hdf5.OpenFile(path)
		if err != nil {
			return 0, fmt.Errorf("vgg: %w", err)
		}
		defer closer.Close()
		return Keras, loadKeras(m, f, path)
	case Torchvision:
		sd, err := torchpth.OpenFile(path)
		if err != nil {
			return 0, fmt.Errorf("vgg: %w", err)
		}
		defer sd.Close()
		return Torchvision, loadTorch(m, sd, path)
	}
	return 0, fmt.Errorf("vgg: %s is neither a Keras HDF5 file nor a PyTorch .pth file: %w", path, ErrWeights)
}

// sniff tells the source of a weight file from its first 8 bytes, or 0.
func sniff(head []byte) Source {
	switch {
	case bytes.Equal(head, []byte("\x89HDF\r\n\x1a\n")):
		return Keras
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), len(head) > 0 && head[0] == 0x80:
		return Torchvision
	}
	return 0
}

// readWeights loads the weight file of size bytes r, named path in
// errors, as LoadWeights does (without the SHA-256 check of a .pth file
// name).
func readWeights(m *graph.Model, r io.ReaderAt, size int64, path string) (Source, error) {
	head := make([]byte, 8)
	if _, err := r.ReadAt(head, 0); err != nil {
		return 0, fmt.Errorf("vgg: %s: too short for a weight file: %w", path, ErrWeights)
	}
	switch sniff(head) {
	case Keras:
		f, err := hdf5.Open(r, size)
		if err != nil {
			return 0, fmt.Errorf("vgg: %s: %w", path, err)
		}
		return Keras, loadKeras(m, f, path)
	case Torchvision:
		sd, err := torchpth.ReadStateDict(r, size)
		if err != nil {
			return 0, fmt.Errorf("vgg: %s: %w", path, err)
		}
		return Torchvision, loadTorch(m, sd, path)
	}
	return 0, fmt.Errorf("vgg: %s is neither a Keras HDF5 file nor a PyTorch .pth file: %w", path, ErrWeights)
}

// assign copies a weight into a model parameter after checking its shape.
func assign(p *graph.Param, shape []int, data []float32, what string) error {
	if !graph.Shape(shape).Equal(p.Shape()) {
		return fmt.Errorf("vgg: %s: the file has shape %v, the model needs %v: %w", what, shape, p.Shape(), ErrWeights)
	}
	copy(p.Data(), data)
	return nil
}

func loadKeras(m *graph.Model, f *hdf5.File, path string) error {
	root := f.Root()
	names, err := hdf5.KerasLayerNames(root)
	if err != nil {
		return fmt.Errorf("vgg: %s: not a Keras weight file (root attribute layer_names: %v): %w", path, err, ErrWeights)
	}
	loaded := map[string]bool{}
	for _, name := range names {
		g, err := root.Group(name)
		if err != nil {
			return fmt.Errorf("vgg: %s: layer %q: %w", path, name, err)
		}
		wnames, err := hdf5.KerasWeightNames(g)
		if err != nil {
			return fmt.Errorf("vgg: %s: layer %q: attribute weight_names: %w", path, name, err)
		}
		if len(wnames) == 0 {
			continue // input_1, pooling, flatten
		}
		l, err := m.Layer(name)
		if err != nil {
			if topLayers[name] {
				continue
			}
			return fmt.Errorf("vgg: %s: layer %q of the file is not in the model: %w", path, name, ErrWeights)
		}
		params := graph.ParamsOf(l)
		if len(wnames) != len(params) {
			return fmt.Errorf("vgg: %s: layer %q has %d weights in the file, the model has %d: %w", path, name, len(wnames), len(params), ErrWeights)
		}
		for i, wn := range wnames {
			d, err := g.Dataset(wn)
			if err != nil {
				return fmt.Errorf("vgg: %s: layer %q weight %q: %w", path, name, wn, err)
			}
			data, err := d.ReadFloat32()
			if err != nil {
				return fmt.Errorf("vgg: %s: layer %q weight %q: %w", path, name, wn, err)
			}
			if err := assign(params[i], d.Shape(), data, params[i].Name); err != nil {
				return err
			}
		}
		loaded[name] = true
	}
	return checkAllLoaded(m, loaded, path)
}

func checkAllLoaded(m *graph.Model, loaded map[string]bool, path string) error {
	var missing []string
	for _, l := range m.Layers() {
		if len(graph.ParamsOf(l)) > 0 && !loaded[graph.NameOf(l)] {
			missing = append(missing, graph.NameOf(l))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("vgg: %s has no weights for %s: %w", path, strings.Join(missing, ", "), ErrWeights)
	}
	return nil
}

func loadTorch(m *graph.Model, sd *torchpth.StateDict, path string) error {
	tensor := func(key string) (*torchpth.Tensor, error) {
		t, err := sd.Tensor(key)
		if err != nil {
			return nil, fmt.Errorf("vgg: %s: %w", path, err)
		}
		return t, nil
	}
	loaded := map[string]bool{}
	feature, classifier := 0, 0
	for i, l := range m.Layers() {
		name := graph.NameOf(l)
		var key string
		switch l.(type) {
		case *graph.Conv2D:
			key = fmt.Sprintf("features.%d", feature)
			feature += 2 // the convolution and its ReLU
		case *graph.MaxPooling2D:
			feature++
			continue
		case *graph.Dense:
			key = fmt.Sprintf("classifier.%d", classifier)
			classifier += 3 // Linear, ReLU, Dropout
		default:
			continue
		}
		params := graph.ParamsOf(l)
		w, err := tensor(key + ".weight")
		if err != nil {
			return err
		}
		b, err := tensor(key + ".bias")
		if err != nil {
			return err
		}
		kernel := params[0]
		var data []float32
		switch ks := kernel.Shape(); len(w.Shape) {
		case 4: // conv (out, in, kh, kw) -> (kh, kw, in, out)
			data, err = convFromTorch(w.Float32(), w.Shape, ks)
		case 2: // Linear (out, in) -> Dense (in, out)
			in := m.LayerOutputShape(i - 1)
			if len(in) == 1 && i >= 2 {
				in = m.LayerOutputShape(i - 2) // a Flatten before: its input
			}
			data, err = denseFromTorch(w.Float32(), w.Shape, ks, in)
		default:
			err = fmt.Errorf("vgg: %s: %s.weight has shape %v: %w", path, key, w.Shape, ErrWeights)
		}
		if err != nil {
			return fmt.Errorf("vgg: %s: layer %q (%s.weight): %w", path, name, key, err)
		}
		copy(kernel.Data(), data)
		if err := assign(params[1], b.Shape, b.Float32(), params[1].Name); err != nil {
			return err
		}
		loaded[name] = true
	}
	return checkAllLoaded(m, loaded, path)
}

// convFromTorch transposes a (out, in, kh, kw) kernel to (kh, kw, in, out).
func convFromTorch(w []float32, shape, want []int) ([]float32, error) {
	out, in, kh, kw := shape[0], shape[1], shape[2], shape[3]
	if !graph.Shape(want).Equal([]int{kh, kw, in, out}) {
		return nil, fmt.Errorf("shape %v (out, in, kh, kw) does not fit the model's %v (kh, kw, in, out): %w", shape, want, ErrWeights)
	}
	dst := make([]float32, len(w))
	for o := 0; o < out; o++ {
		for i := 0; i < in; i++ {
			for y := 0; y < kh; y++ {
				for x := 0; x < kw; x++ {
					dst[((y*kw+x)*in+i)*out+o] = w[((o*in+i)*kh+y)*kw+x]
				}
			}
		}
	}
	return dst, nil
}

// denseFromTorch transposes a (out, in) Linear weight to a Dense kernel
// (in, out). After feature maps of shape prev (H, W, C), torchvision's
// input index is c*H*W + h*W + w where Keras's (and Capa's) is
// (h*W + w)*C + c: the rows are permuted too.
func denseFromTorch(w []float32, shape, want []int, prev graph.Shape) ([]float32, error) {
	out, in := shape[0], shape[1]
	if !graph.Shape(want).Equal([]int{in, out}) {
		return nil, fmt.Errorf("shape %v (out, in) does not fit the model's %v (in, out): %w", shape, want, ErrWeights)
	}
	dst := make([]float32, len(w))
	if len(prev) == 3 && prev.Size() == in {
		hh, ww, cc := prev[0], prev[1], prev[2]
		for o := 0; o < out; o++ {
			for c := 0; c < cc; c++ {
				for y := 0; y < hh; y++ {
					for x := 0; x < ww; x++ {
						dst[((y*ww+x)*cc+c)*out+o] = w[o*in+(c*hh+y)*ww+x]
					}
				}
			}
		}
		return dst, nil
	}
	for o := 0; o < out; o++ {
		for i := 0; i < in; i++ {
			dst[i*out+o] = w[o*in+i]
		}
	}
	return dst, nil
}
