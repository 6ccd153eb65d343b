package interchange

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/capa-ml/capa/graph"
)

// MaxTFJSModelJSON is the largest model.json ImportTFJS reads (64 MiB).
const MaxTFJSModelJSON = 64 << 20

// ImportTFJS reads a TensorFlow.js Layers model (model.json and the weight
// shards its manifest names, beside it), such as tf.LayersModel.save
// writes, and builds it as a Capa model with its weights: Sequential or
// Functional, for the layers Capa has. Options Capa does not have are
// refused unless at their defaults (data_format channels_last, no
// constraints, ...); initializers and regularizers are dropped (the
// weights come from the file). hard_sigmoid is refused: TensorFlow.js's is
// Keras 2's, Capa's Keras 3's.
func ImportTFJS(modelJSON string) (*graph.Model, error) {
	f, err := os.Open(modelJSON)
	if err != nil {
		return nil, fmt.Errorf("interchange: %w", err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, MaxTFJSModelJSON+1))
	if err != nil {
		return nil, fmt.Errorf("interchange: %w", err)
	}
	if len(raw) > MaxTFJSModelJSON {
		return nil, fmt.Errorf("interchange: %s is larger than %d bytes", modelJSON, MaxTFJSModelJSON)
	}
	m, err := importTFJS(raw, filepath.Dir(modelJSON))
	if err != nil {
		return nil, fmt.Errorf("interchange: %s: %w", modelJSON, err)
	}
	return m, nil
}

type tfjsDoc struct {
	Format          string          `json:"format"`
	ModelTopology   json.RawMessage `json:"modelTopology"`
	WeightsManifest []struct {
		Paths   []string `json:"paths"`
		Weights []struct {
			Name         string          `json:"name"`
			Shape        []int           `json:"shape"`
			DType        string          `json:"dtype"`
			Quantization json.RawMessage `json:"quantization"`
		} `json:"weights"`
	} `json:"weightsManifest"`
}

func importTFJS(raw []byte, dir string) (*graph.Model, error) {
	var doc tfjsDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("not a TensorFlow.js model.json: %w", err)
	}
	if doc.Format != "" && doc.Format != "layers-model" {
		return nil, fmt.Errorf("format %q: only TensorFlow.js Layers models (layers-model) are read, not graph models", doc.Format)
	}
	m, err := kerasModel(doc.ModelTopology)
	if err != nil {
		return nil, err
	}
	return m, tfjsWeights(m, doc, dir)
}

// kerasModel builds a model from Keras's model JSON (model.to_json(), as
// TensorFlow.js's modelTopology and Keras 2's model_config hold it), with
// fresh weights.
func kerasModel(topology json.RawMessage) (*graph.Model, error) {
	var topo struct {
		Class  string `json:"class_name"`
		Config struct {
			Name         string            `json:"name"`
			Layers       []json.RawMessage `json:"layers"`
			InputLayers  []graph.NodeRef   `json:"input_layers"`
			OutputLayers []graph.NodeRef   `json:"output_layers"`
		} `json:"config"`
	}
	// Keras 2 wraps the topology in {"model_config": ...} in some writers.
	var wrapped struct {
		ModelConfig json.RawMessage `json:"model_config"`
	}
	t := topology
	if json.Unmarshal(t, &wrapped) == nil && wrapped.ModelConfig != nil {
		t = wrapped.ModelConfig
	}
	if err := json.Unmarshal(t, &topo); err != nil {
		return nil, fmt.Errorf("the model topology is not Keras's model JSON ({\"class_name\": ..., \"config\": {\"layers\": [...]}}): %.80s", t)
	}
	var m *graph.Model
	switch topo.Class {
	case "Sequential":
		// Built from a spec, whose whole architecture is checked against
		// graph.DefaultLimits before a weight is allocated: a file asking
		// for a Dense of 10^9 units is refused, not allocated.
		spec := graph.ModelSpec{Name: topo.Config.Name}
		for i, lr := range topo.Config.Layers {
			ls, shape, err := tfjsLayerSpec(lr)
			if err != nil {
				return nil, fmt.Errorf("layer %d: %w", i, err)
			}
			if shape != nil && i == 0 {
				spec.Input = shape
			}
			if ls.Class == "InputLayer" {
				continue
			}
			if _, err := graph.FromSpec(ls); err != nil {
				return nil, fmt.Errorf("layer %d: %w", i, err)
			}
			spec.Layers = append(spec.Layers, ls)
		}
		if spec.Input == nil {
			return nil, fmt.Errorf("the first layer has no batch_input_shape")
		}
		var err error
		if m, err = spec.Build(); err != nil {
			return nil, err
		}
	case "Functional", "Model":
		spec := graph.ModelSpec{Name: topo.Config.Name, InputLayers: topo.Config.InputLayers, OutputLayers: topo.Config.OutputLayers}
		for i, lr := range topo.Config.Layers {
			ls, shape, err := tfjsLayerSpec(lr)
			if err != nil {
				return nil, fmt.Errorf("layer %d: %w", i, err)
			}
			if ls.Class == "InputLayer" && spec.Input == nil {
				spec.Input = shape
			}
			spec.Layers = append(spec.Layers, ls)
		}
		var err error
		if m, err = spec.Build(); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("model class %q: only Sequential and Functional models", topo.Class)
	}
	if topo.Config.Name != "" {
		m.Name = topo.Config.Name
	}
	return m, nil
}

// tfjsLayerSpec translates one layer of a TensorFlow.js topology into
// Capa's spec, and returns its batch_input_shape without the batch, if any.
func tfjsLayerSpec(raw json.RawMessage) (graph.LayerSpec, []int, error) {
	var ls graph.LayerSpec
	if err := json.Unmarshal(raw, &ls); err != nil {
		return ls, nil, err
	}
	var cfg map[string]any
	if err := json.Unmarshal(ls.Config, &cfg); err != nil {
		return ls, nil, fmt.Errorf("%s: %w", ls.Class, err)
	}
	var shape []int
	if b, ok := cfg["batch_input_shape"].([]any); ok {
		for _, d := range b[1:] {
			f, ok := d.(float64)
			if !ok {
				return ls, nil, fmt.Errorf("%s: batch_input_shape %v has an unknown dimension besides the batch", ls.Class, b)
			}
			shape = append(shape, int(f))
		}
		delete(cfg, "batch_input_shape")
	}
	if ls.Class == "InputLayer" {
		ls.Config, _ = json.Marshal(map[string]any{"name": cfg["name"], "shape": shape})
		return ls, shape, nil
	}
	name, _ := cfg["name"].(string)
	for k, v := range cfg {
		if strings.HasSuffix(k, "_initializer") || strings.HasSuffix(k, "_regularizer") && v == nil {
			delete(cfg, k) // the weights come from the file
		}
	}
	// Keys Capa's layer lacks are dropped if at Keras's defaults.
	known, err := graph.ConfigKeys(ls.Class)
	if err != nil {
		return ls, nil, err
	}
	for k, v := range cfg {
		if known[k] {
			continue
		}
		switch {
		case v == nil, k == "dtype" && v == "float32", k == "data_format" && v == "channels_last",
			k == "center" && v == true, k == "scale" && v == true, k == "axis" && v == -1.0,
			(k == "ragged" || k == "sparse") && v == false:
			delete(cfg, k)
		default:
			return ls, nil, fmt.Errorf("layer %q (%s): option %s = %v is not supported by Capa", name, ls.Class, k, v)
		}
	}
	if a, _ := cfg["activation"].(string); a == "hard_sigmoid" {
		return ls, nil, fmt.Errorf("layer %q (%s): TensorFlow.js's hard_sigmoid is Keras 2's (0.2x + 0.5), Capa's Keras 3's (relu6(x + 3) / 6)", name, ls.Class)
	}
	ls.Config, err = json.Marshal(cfg)
	return ls, shape, err
}

// tfjsWeights reads the shards and sets every weight of m by name.
func tfjsWeights(m *graph.Model, doc tfjsDoc, dir string) error {
	type w struct {
		shape []int
		off   int64
	}
	byName := map[string]w{}
	var data []byte
	var need int64
	for _, g := range doc.WeightsManifest {
		for _, p := range g.Paths {
			if filepath.IsAbs(p) || strings.Contains(p, "..") || strings.ContainsAny(p, `/\`) {
				return fmt.Errorf("weights path %q: only files beside model.json are read", p)
			}
			b, err := os.ReadFile(filepath.Join(dir, p))
			if err != nil {
				return fmt.Errorf("weights: %w", err)
			}
			data = append(data, b...)
		}
		for _, s := range g.Weights {
			if s.DType != "float32" || len(s.Quantization) > 0 && string(s.Quantization) != "null" {
				return fmt.Errorf("weight %q: dtype %s (quantized: %v): only float32 weights", s.Name, s.DType, len(s.Quantization) > 0)
			}
			n := int64(1)
			for _, d := range s.Shape {
				if d < 0 || d > 1<<31 || n*int64(d) > math.MaxInt32 {
					return fmt.Errorf("weight %q: shape %v", s.Name, s.Shape)
				}
				n *= int64(d)
			}
			byName[s.Name] = w{s.Shape, need}
			need += 4 * n
		}
	}
	if int64(len(data)) != need {
		return fmt.Errorf("the weight shards hold %d bytes, the manifest's weights %d", len(data), need)
	}
	used := 0
	for _, p := range m.Params() {
		s, ok := byName[p.Name]
		if !ok {
			return fmt.Errorf("no weight %q in the manifest", p.Name)
		}
		if !graph.Shape(s.shape).Equal(p.Shape()) {
			return fmt.Errorf("weight %q has shape %v in the file, %v in the model", p.Name, s.shape, p.Shape())
		}
		dst := p.Data()
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[s.off+4*int64(i):]))
		}
		used++
	}
	if used != len(byName) {
		return fmt.Errorf("the manifest has %d weights, the model %d", len(byName), used)
	}
	return nil
}
