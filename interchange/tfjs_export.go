package interchange

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/internal/atomicfile"
)

// TFJSWeightsFile is the name of the weights shard ExportTFJS writes next
// to model.json (TensorFlow.js's converter names its shards so).
const TFJSWeightsFile = "group1-shard1of1.bin"

// ExportTFJS writes m in TensorFlow.js's Layers format into dir:
// model.json (Keras's model topology, the weights manifest) and one binary
// weights shard, which tf.loadLayersModel loads. Each file is written
// atomically, the shard first.
func ExportTFJS(dir string, m *graph.Model) error {
	topo, err := kerasTopology(m, tfjsLayer)
	if err != nil {
		return err
	}
	var data bytes.Buffer
	var specs []map[string]any
	for _, p := range m.Params() {
		specs = append(specs, map[string]any{"name": p.Name, "shape": p.Shape(), "dtype": "float32"})
		if err := binary.Write(&data, binary.LittleEndian, p.Data()); err != nil {
			return err
		}
	}
	if specs == nil {
		specs = []map[string]any{}
	}
	doc := map[string]any{
		"format":          "layers-model",
		"generatedBy":     "capa",
		"convertedBy":     nil,
		"modelTopology":   topo,
		"weightsManifest": []map[string]any{{"paths": []string{TFJSWeightsFile}, "weights": specs}},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("interchange: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("interchange: %w", err)
	}
	if err := atomicfile.WriteBytes(filepath.Join(dir, TFJSWeightsFile), data.Bytes(), 0o644); err != nil {
		return fmt.Errorf("interchange: %w", err)
	}
	if err := atomicfile.WriteBytes(filepath.Join(dir, "model.json"), b, 0o644); err != nil {
		return fmt.Errorf("interchange: %w", err)
	}
	return nil
}

// kerasTopology returns m's architecture as Keras's model JSON
// (model.to_json()), in the form TensorFlow.js reads: Capa's layer configs
// are Keras's, with the input layers' shapes as batch_input_shape. adapt
// rewrites each layer's config for the reader, or says why it cannot.
func kerasTopology(m *graph.Model, adapt func(class string, cfg map[string]any) error) (map[string]any, error) {
	s, err := m.Spec()
	if err != nil {
		return nil, err
	}
	var layers []map[string]any
	if !m.IsFunctional() {
		in := map[string]any{"batch_input_shape": batchShape(s.Input), "dtype": "float32", "sparse": false, "name": "input_layer"}
		layers = append(layers, map[string]any{"class_name": "InputLayer", "config": in})
	}
	for _, ls := range s.Layers {
		var cfg map[string]any
		if err := json.Unmarshal(ls.Config, &cfg); err != nil {
			return nil, fmt.Errorf("interchange: layer %s: %w", ls.Name, err)
		}
		if err := adapt(ls.Class, cfg); err != nil {
			return nil, fmt.Errorf("interchange: layer %q (%s): %w", cfg["name"], ls.Class, err)
		}
		if ls.Class == "InputLayer" {
			shape, _ := cfg["shape"].([]any)
			dims := make([]int, len(shape))
			for i, d := range shape {
				f, _ := d.(float64)
				dims[i] = int(f)
			}
			cfg = map[string]any{"batch_input_shape": batchShape(dims), "dtype": "float32", "sparse": false, "name": cfg["name"]}
		}
		l := map[string]any{"class_name": ls.Class, "config": cfg}
		if m.IsFunctional() {
			l["name"] = ls.Name
			nodes := [][]any{}
			for _, app := range ls.InboundNodes {
				var refs []any
				for _, r := range app {
					refs = append(refs, []any{r.Layer, r.Node, r.Tensor, map[string]any{}})
				}
				nodes = append(nodes, refs)
			}
			l["inbound_nodes"] = nodes
		}
		layers = append(layers, l)
	}
	cfg := map[string]any{"name": s.Name, "layers": layers}
	class := "Sequential"
	if m.IsFunctional() {
		class = "Functional"
		refs := func(rs []graph.NodeRef) [][]any {
			out := [][]any{}
			for _, r := range rs {
				out = append(out, []any{r.Layer, r.Node, r.Tensor})
			}
			return out
		}
		cfg["input_layers"], cfg["output_layers"] = refs(s.InputLayers), refs(s.OutputLayers)
	}
	return map[string]any{"class_name": class, "config": cfg, "keras_version": "2.15.0", "backend": "tensorflow"}, nil
}

func batchShape(s []int) []any {
	out := []any{nil}
	for _, d := range s {
		out = append(out, d)
	}
	return out
}

// tfjsActivations maps Keras's activation names to TensorFlow.js's; the
// others (hard_silu, leaky_relu, exponential, ...) TensorFlow.js lacks.
// hard_sigmoid is not mapped: TensorFlow.js's is Keras 2's, 0.2x + 0.5
// clipped, Capa's Keras 3's, relu6(x + 3) / 6 (the test found them 3e-3
// apart).
var tfjsActivations = map[string]string{
	"linear": "linear", "relu": "relu", "relu6": "relu6", "sigmoid": "sigmoid", "tanh": "tanh",
	"softmax": "softmax", "elu": "elu", "selu": "selu", "softplus": "softplus", "softsign": "softsign",
	"silu": "swish", "swish": "swish", "mish": "mish",
	"gelu": "gelu",
}

// tfjsNoLayer are Capa's layers that TensorFlow.js 4.22 does not have.
var tfjsNoLayer = map[string]bool{
	"Subtract": true, "Rescaling": true, "SpatialDropout2D": true,
	"RandomFlip": true, "RandomRotation": true, "RandomTranslation": true, "RandomZoom": true,
	"RandomContrast": true, "RandomBrightness": true, "Functional": true, "Sequential": true,
}

// tfjsLayer adapts a layer's Keras config to what TensorFlow.js reads, or
// says why it cannot.
func tfjsLayer(class string, cfg map[string]any) error {
	if tfjsNoLayer[class] {
		return fmt.Errorf("TensorFlow.js has no %s layer", class)
	}
	if a, ok := cfg["activation"].(string); ok {
		t, ok := tfjsActivations[a]
		if !ok {
			return fmt.Errorf("TensorFlow.js has no %q activation", a)
		}
		cfg["activation"] = t
	}
	if a, ok := cfg["alpha"].(float64); ok && class == "ELU" && a != 1 {
		return fmt.Errorf("TensorFlow.js's ELU takes only alpha 1, not %v", a)
	}
	if class == "Conv2DTranspose" && cfg["output_padding"] != nil {
		// TensorFlow.js 4.22 reads no output_padding: its output would be
		// another size, silently.
		return fmt.Errorf("TensorFlow.js's Conv2DTranspose ignores output_padding (%v)", cfg["output_padding"])
	}
	if g, ok := cfg["groups"].(float64); ok {
		if g != 1 {
			return fmt.Errorf("TensorFlow.js's Conv2D has no groups (%v)", g)
		}
		delete(cfg, "groups")
	}
	return nil
}
