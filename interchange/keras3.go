package interchange

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/capa-ml/capa/formats/hdf5"
	"github.com/capa-ml/capa/graph"
)

// MaxKerasEntry is the largest member of a .keras archive ImportKeras
// reads (4 GiB: the weights file).
const MaxKerasEntry = 4 << 30

// ImportKeras reads a Keras 3 model file (model.save("m.keras"): a zip
// of config.json, the serialized model, metadata.json and model.weights.h5,
// whose groups layers/<snake_case class>[_k]/vars hold each layer's
// variables "0", "1", ... in its weights' order) and builds it as a Capa
// model with its weights, for the layers Capa has.
func ImportKeras(path string) (*graph.Model, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("interchange: %s: not a .keras zip archive: %w", path, err)
	}
	defer zr.Close()
	m, err := importKeras(&zr.Reader)
	if err != nil {
		return nil, fmt.Errorf("interchange: %s: %w", path, err)
	}
	return m, nil
}

func zipEntry(zr *zip.Reader, name string, max int64) ([]byte, error) {
	f, err := zr.Open(name)
	if err != nil {
		return nil, fmt.Errorf("no %s in the archive: %w", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, max)
	}
	return b, nil
}

func importKeras(zr *zip.Reader) (*graph.Model, error) {
	cfg, err := zipEntry(zr, "config.json", MaxTFJSModelJSON)
	if err != nil {
		return nil, err
	}
	topo, err := keras3To2(cfg)
	if err != nil {
		return nil, err
	}
	m, err := kerasModel(topo)
	if err != nil {
		return nil, err
	}
	wb, err := zipEntry(zr, "model.weights.h5", MaxKerasEntry)
	if err != nil {
		return nil, err
	}
	f, err := hdf5.Open(bytes.NewReader(wb), int64(len(wb)))
	if err != nil {
		return nil, fmt.Errorf("model.weights.h5: %w", err)
	}
	for _, lw := range keras3LayerPaths(m) {
		l, name := lw.layer, lw.path
		params := graph.ParamsOf(l)
		for i, p := range params {
			d, err := f.Dataset(name + "/vars/" + strconv.Itoa(i))
			if err != nil {
				return nil, fmt.Errorf("model.weights.h5: layer %q (%s): variable %d (%s): %w", graph.NameOf(l), name, i, p.Name, err)
			}
			if !graph.Shape(d.Shape()).Equal(p.Shape()) {
				return nil, fmt.Errorf("model.weights.h5: %s has shape %v in the file, %v in the model", p.Name, d.Shape(), p.Shape())
			}
			if err := d.ReadFloat32To(p.Data()); err != nil {
				return nil, fmt.Errorf("model.weights.h5: %s: %w", p.Name, err)
			}
		}
	}
	return m, nil
}

// keras3Path is a layer and the group of its variables in a Keras 3
// weights file.
type keras3Path struct {
	layer graph.Layer
	path  string // layers/<snake_case class>[_k]
}

// keras3LayerPaths names m's layers as Keras 3's saving_lib does
// (_save_container_state): in the order of model.layers (kerasLayerOrder),
// each by its class in snake case, counted per class from the second on.
func keras3LayerPaths(m *graph.Model) []keras3Path {
	var out []keras3Path
	used := map[string]int{}
	for _, l := range kerasLayerOrder(m) {
		name := snakeCase(l.Class())
		if k, ok := used[name]; ok {
			used[name] = k + 1
			name = name + "_" + strconv.Itoa(k+1)
		} else {
			used[name] = 0
		}
		out = append(out, keras3Path{l, "layers/" + name})
	}
	return out
}

// kerasLayerOrder returns m's layers in the order of Keras 3's
// model.layers, which orders the weights in its files. A Sequential
// model's are its layers without the input. A Functional model's are its
// operations as Keras's map_graph (keras/src/ops/function.py) orders them,
// input layers included: by decreasing depth, a node's depth being the
// longest path from it to an output and a layer's the largest of its
// nodes', ties broken by the order a depth-first walk from the outputs
// (each node's inputs in order) first reaches the layer.
func kerasLayerOrder(m *graph.Model) []graph.Layer {
	if !m.IsFunctional() {
		return m.Layers()
	}
	nodes, inputs, outputs := m.Nodes()
	isInput := map[int]bool{}
	for _, i := range inputs {
		isInput[i] = true
	}
	first := map[graph.Layer]int{}
	done := make([]bool, len(nodes))
	var post []int // nodes, each after its inputs
	var visit func(i int)
	visit = func(i int) {
		if done[i] {
			return
		}
		if _, ok := first[nodes[i].Layer]; !ok {
			first[nodes[i].Layer] = len(first)
		}
		if !isInput[i] {
			for _, j := range nodes[i].Inputs {
				visit(j)
			}
		}
		done[i] = true
		post = append(post, i)
	}
	for _, o := range outputs {
		visit(o)
	}
	nodeDepth := make([]int, len(nodes))
	layerDepth := map[graph.Layer]int{}
	for k := len(post) - 1; k >= 0; k-- {
		i := post[k]
		l := nodes[i].Layer
		d := max(nodeDepth[i], layerDepth[l])
		layerDepth[l], nodeDepth[i] = d, d
		for _, j := range nodes[i].Inputs {
			nodeDepth[j] = max(nodeDepth[j], d+1)
		}
	}
	for _, i := range inputs { // inputs the outputs do not depend on
		if l := nodes[i].Layer; !done[i] {
			layerDepth[l], first[l] = 0, -1
		}
	}
	layers := make([]graph.Layer, 0, len(layerDepth))
	for l := range layerDepth {
		layers = append(layers, l)
	}
	slices.SortFunc(layers, func(a, b graph.Layer) int {
		if layerDepth[a] != layerDepth[b] {
			return layerDepth[b] - layerDepth[a]
		}
		return first[a] - first[b]
	})
	return layers
}

var (
	snake1 = regexp.MustCompile(`(.)([A-Z][a-z]+)`)
	snake2 = regexp.MustCompile(`([a-z])([A-Z])`)
)

// snakeCase is Keras's naming.to_snake_case: "MaxPooling2D" is
// "max_pooling2d".
func snakeCase(s string) string {
	return strings.ToLower(snake2.ReplaceAllString(snake1.ReplaceAllString(s, "${1}_${2}"), "${1}_${2}"))
}

// keras3To2 rewrites Keras 3's serialized model (config.json) in Keras 2's
// model JSON, which kerasModel reads: each layer's dtype policy becomes
// its dtype name, batch_shape batch_input_shape, and a Functional model's
// inbound nodes ({"args": [keras tensors...]}) Keras 2's [name, node,
// tensor] lists.
func keras3To2(raw []byte) (json.RawMessage, error) {
	var top map[string]any
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	cfg, _ := top["config"].(map[string]any)
	if cfg == nil {
		return nil, fmt.Errorf("config.json has no model config")
	}
	layers, _ := cfg["layers"].([]any)
	for i, lv := range layers {
		l, _ := lv.(map[string]any)
		if l == nil {
			return nil, fmt.Errorf("config.json: layer %d is not an object", i)
		}
		lc, _ := l["config"].(map[string]any)
		if lc == nil {
			return nil, fmt.Errorf("config.json: layer %d has no config", i)
		}
		if d, ok := lc["dtype"].(map[string]any); ok {
			dc, _ := d["config"].(map[string]any)
			lc["dtype"] = dc["name"]
		}
		if b, ok := lc["batch_shape"]; ok {
			lc["batch_input_shape"] = b
			delete(lc, "batch_shape")
		}
		// Initializers are dropped with TensorFlow.js's (tfjsLayerSpec);
		// Keras 3's wrapped regularizers are dropped here, constraints refused.
		for k, v := range lc {
			if m, ok := v.(map[string]any); ok && m["module"] != nil {
				switch {
				case strings.HasSuffix(k, "_constraint"):
					return nil, fmt.Errorf("config.json: layer %v: %s is not supported by Capa", lc["name"], k)
				case strings.HasSuffix(k, "_regularizer"):
					delete(lc, k)
				}
			}
		}
		nodes, ok := l["inbound_nodes"].([]any)
		if !ok {
			continue
		}
		var out [][]any
		for _, nv := range nodes {
			n, ok := nv.(map[string]any)
			if !ok {
				out = nil
				break // already Keras 2's lists
			}
			var refs []any
			collectHistory(n["args"], &refs)
			out = append(out, refs)
		}
		if out != nil {
			l["inbound_nodes"] = out
		}
	}
	return json.Marshal(top)
}

// collectHistory appends, in order, the [layer, node, tensor, {}] of every
// Keras tensor in v (Keras 3 nests them in lists for merge layers).
func collectHistory(v any, refs *[]any) {
	switch t := v.(type) {
	case []any:
		for _, e := range t {
			collectHistory(e, refs)
		}
	case map[string]any:
		if t["class_name"] == "__keras_tensor__" {
			c, _ := t["config"].(map[string]any)
			if h, ok := c["keras_history"].([]any); ok && len(h) == 3 {
				*refs = append(*refs, []any{h[0], h[1], h[2], map[string]any{}})
			}
		}
	}
}
