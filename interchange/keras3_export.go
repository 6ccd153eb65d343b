package interchange

import (
	"archive/zip"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/capa-ml/capa/formats/hdf5"
	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/internal/atomicfile"
)

// KerasFileVersion is the Keras version ExportKeras writes into
// metadata.json: the files follow the layout of Keras 3's saving_lib as of
// that release (Keras reads the metadata only for display).
const KerasFileVersion = "3.3.3"

// ExportKeras writes m as a Keras 3 model file, the zip that
// model.save("m.keras") writes and keras.saving.load_model reads:
// metadata.json, config.json (serialize_keras_object of the model: every
// object as {"module", "class_name", "config", "registered_name"}, dtypes
// as DTypePolicy, a Functional model's inbound nodes as calls on Keras
// tensors) and model.weights.h5 (each layer's variables "0", "1", ... in
// layers/<snake_case class>[_k]/vars, an empty vars group for the model
// itself). The model is not compiled in the file: Keras loads it for
// predict, or compiles it anew. The file is written atomically.
//
// Layers Keras 3 cannot express (nested models; the activation
// "gelu_approximate", which Keras sets with approximate=True in code) are
// refused with the layer's name.
func ExportKeras(path string, m *graph.Model) error {
	cfg, err := keras3Config(m)
	if err != nil {
		return err
	}
	weights, err := keras3Weights(m)
	if err != nil {
		return err
	}
	now := time.Now()
	meta, err := json.Marshal(map[string]any{"keras_version": KerasFileVersion, "date_saved": now.Format("2006-01-02@15:04:05"), "generated_by": "capa"})
	if err != nil {
		return fmt.Errorf("interchange: %w", err)
	}
	err = atomicfile.Write(path, 0o644, func(w io.Writer) error {
		zw := zip.NewWriter(w)
		// Keras writes the members stored, in this order.
		for _, e := range []struct {
			name  string
			write func(io.Writer) error
		}{
			{"metadata.json", func(w io.Writer) error { _, err := w.Write(meta); return err }},
			{"config.json", func(w io.Writer) error { _, err := w.Write(cfg); return err }},
			{"model.weights.h5", func(w io.Writer) error { _, err := weights.WriteTo(w); return err }},
		} {
			f, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: zip.Store, Modified: now})
			if err != nil {
				return err
			}
			if err := e.write(f); err != nil {
				return fmt.Errorf("%s: %w", e.name, err)
			}
		}
		return zw.Close()
	})
	if err != nil {
		return fmt.Errorf("interchange: %s: %w", path, err)
	}
	return nil
}

// keras3Weights lays out m's variables as Keras 3's H5IOStore does: the
// layers are named by class, counted per class in the model's layer order
// (saving_lib's _save_container_state), as ImportKeras reads them.
func keras3Weights(m *graph.Model) (*hdf5.Writer, error) {
	w := hdf5.NewWriter()
	if err := w.Group("vars"); err != nil {
		return nil, err
	}
	for _, lp := range keras3LayerPaths(m) {
		l, dir := lp.layer, lp.path+"/vars"
		params := graph.ParamsOf(l)
		if len(params) == 0 {
			if err := w.Group(dir); err != nil {
				return nil, err
			}
		}
		for i, p := range params {
			if err := w.Float32(dir+"/"+strconv.Itoa(i), p.Shape(), p.Data()); err != nil {
				return nil, fmt.Errorf("interchange: %s: %w", p.Name, err)
			}
		}
	}
	return w, nil
}

// keras3Activations are the activation names Keras 3's
// keras.activations.get resolves, among Capa's.
var keras3Activations = map[string]bool{
	"linear": true, "relu": true, "relu6": true, "leaky_relu": true, "elu": true, "selu": true,
	"softplus": true, "softsign": true, "silu": true, "swish": true, "hard_sigmoid": true,
	"hard_silu": true, "hard_swish": true, "gelu": true, "mish": true, "exponential": true,
	"sigmoid": true, "tanh": true, "softmax": true,
}

// keras3Layer checks that Keras 3 can express a layer's config.
func keras3Layer(class string, cfg map[string]any) error {
	if class == "Sequential" || class == "Functional" {
		return fmt.Errorf("nested models are not exported to Keras files")
	}
	if a, ok := cfg["activation"].(string); ok && !keras3Activations[a] {
		return fmt.Errorf("Keras 3 has no activation named %q", a)
	}
	return nil
}

// kerasObject is serialize_keras_object's form of a built-in object.
func kerasObject(module, class string, config any) map[string]any {
	return map[string]any{"module": module, "class_name": class, "config": config, "registered_name": nil}
}

// keras3Merge are the layers Keras calls on a list of tensors.
var keras3Merge = map[string]bool{
	"Add": true, "Subtract": true, "Multiply": true, "Average": true, "Maximum": true,
	"Minimum": true, "Concatenate": true, "Dot": true,
}

// keras3Config returns m's config.json: Keras's model JSON (kerasTopology)
// rewritten in Keras 3's serialization, the inverse of keras3To2.
func keras3Config(m *graph.Model) ([]byte, error) {
	topo, err := kerasTopology(m, keras3Layer)
	if err != nil {
		return nil, err
	}
	// Each layer application's output shape, for the Keras tensors of the
	// inbound nodes: shapes[layer][node].
	nodes, _, _ := m.Nodes()
	shapes := map[string][]graph.Shape{}
	for _, n := range nodes {
		name := graph.NameOf(n.Layer)
		shapes[name] = append(shapes[name], n.Shape)
	}
	policy := kerasObject("keras", "DTypePolicy", map[string]any{"name": "float32"})
	top := topo["config"].(map[string]any)
	layers := top["layers"].([]map[string]any)
	out := make([]any, len(layers))
	var inputShape any
	for i, l := range layers {
		class := l["class_name"].(string)
		cfg := l["config"].(map[string]any)
		if b, ok := cfg["batch_input_shape"]; ok {
			cfg["batch_shape"] = b
			delete(cfg, "batch_input_shape")
			if inputShape == nil {
				inputShape = b
			}
		}
		if class != "InputLayer" {
			cfg["dtype"] = policy
		}
		for k, v := range cfg {
			if o, ok := v.(map[string]any); ok && o["class_name"] != nil && o["module"] == nil {
				module := "keras.initializers"
				if strings.HasSuffix(k, "_regularizer") {
					module = "keras.regularizers"
				}
				cfg[k] = kerasObject(module, o["class_name"].(string), o["config"])
			}
		}
		e := kerasObject("keras.layers", class, cfg)
		if nodes, ok := l["inbound_nodes"].([][]any); ok {
			e["name"] = l["name"]
			calls := []any{}
			for _, refs := range nodes {
				var args []any
				for _, r := range refs {
					ref := r.([]any)
					layer, node := ref[0].(string), ref[1].(int)
					if node >= len(shapes[layer]) {
						return nil, fmt.Errorf("interchange: layer %q: no node %d of %q", l["name"], node, layer)
					}
					args = append(args, map[string]any{"class_name": "__keras_tensor__", "config": map[string]any{
						"shape": batchShape(shapes[layer][node]), "dtype": "float32", "keras_history": []any{layer, node, ref[2]},
					}})
				}
				if keras3Merge[class] {
					args = []any{args}
				}
				if args == nil {
					args = []any{}
				}
				calls = append(calls, map[string]any{"args": args, "kwargs": map[string]any{}})
			}
			e["inbound_nodes"] = calls
		}
		out[i] = e
	}
	if m.IsFunctional() {
		// Keras writes the layers in model.layers's order.
		rank := map[string]int{}
		for i, l := range kerasLayerOrder(m) {
			rank[graph.NameOf(l)] = i
		}
		slices.SortStableFunc(out, func(a, b any) int {
			return rank[a.(map[string]any)["name"].(string)] - rank[b.(map[string]any)["name"].(string)]
		})
	}
	top["layers"] = out
	top["trainable"] = true
	var doc map[string]any
	if m.IsFunctional() {
		doc = kerasObject("keras.src.models.functional", "Functional", top)
		doc["registered_name"] = "Functional"
	} else {
		top["dtype"] = policy
		doc = kerasObject("keras", "Sequential", top)
		doc["build_config"] = map[string]any{"input_shape": inputShape}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("interchange: %w", err)
	}
	return b, nil
}
