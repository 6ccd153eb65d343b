package interchange

import (
	"slices"
	"strings"
	"testing"

	"github.com/capa-ml/capa/graph"
)

// TestKeras3Functional reads a Functional model in Keras 3's config form:
// inbound nodes as {"args": [keras tensors]}, a merge layer's inputs in a
// nested list, dtype policies, batch_shape.
func TestKeras3Functional(t *testing.T) {
	const cfg = `{"module": "keras", "class_name": "Functional", "config": {"name": "f", "trainable": true,
 "layers": [
  {"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [null, 5], "dtype": "float32", "sparse": false, "name": "input_layer"}, "registered_name": null, "name": "input_layer", "inbound_nodes": []},
  {"module": "keras.layers", "class_name": "Dense", "config": {"name": "a", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "units": 3, "activation": "relu", "use_bias": true,
    "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null}, "registered_name": null}, "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null},
    "kernel_regularizer": null, "bias_regularizer": null, "kernel_constraint": null, "bias_constraint": null},
   "registered_name": null, "build_config": {"input_shape": [null, 5]}, "name": "a",
   "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 5], "dtype": "float32", "keras_history": ["input_layer", 0, 0]}}], "kwargs": {}}]},
  {"module": "keras.layers", "class_name": "Dense", "config": {"name": "b", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "units": 3, "activation": "linear", "use_bias": true},
   "registered_name": null, "name": "b",
   "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 5], "dtype": "float32", "keras_history": ["input_layer", 0, 0]}}], "kwargs": {}}]},
  {"module": "keras.layers", "class_name": "Add", "config": {"name": "add", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}},
   "registered_name": null, "name": "add",
   "inbound_nodes": [{"args": [[{"class_name": "__keras_tensor__", "config": {"shape": [null, 3], "dtype": "float32", "keras_history": ["a", 0, 0]}},
                               {"class_name": "__keras_tensor__", "config": {"shape": [null, 3], "dtype": "float32", "keras_history": ["b", 0, 0]}}]], "kwargs": {}}]}],
 "input_layers": [["input_layer", 0, 0]], "output_layers": [["add", 0, 0]]}, "registered_name": null}`
	topo, err := keras3To2([]byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	m, err := kerasModel(topo)
	if err != nil {
		t.Fatal(err)
	}
	s := m.Summary()
	for _, want := range []string{"add (Add)", "['a[0][0]',", "'b[0][0]']", "Total params: 36"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
	bad := strings.Replace(cfg, `"kernel_constraint": null`, `"kernel_constraint": {"module": "keras.constraints", "class_name": "MaxNorm", "config": {}}`, 1)
	if _, err := keras3To2([]byte(bad)); err == nil || !strings.Contains(err.Error(), "kernel_constraint is not supported") {
		t.Errorf("a constraint: %v", err)
	}
}

// TestKerasLayerOrder checks the order of Keras 3's model.layers, which
// names the layers in its weights files, on a model where it is not the
// order the layers were created in: the 1x1 convolution c, created first,
// feeds only the output's Add, so its depth is 1 (a path of one node to the
// output), while a1 is at depth 2 and the input at 3. At depth 1,
// the walk from the output reaches a2 (Add's first input) before c.
func TestKerasLayerOrder(t *testing.T) {
	k := [2]int{1, 1}
	in := graph.NewInput(6, 6, 2)
	c := graph.Apply(&graph.Conv2D{Base: graph.Base{Name: "c"}, Filters: 3, KernelSize: k}, in)
	a := graph.Apply(&graph.Conv2D{Base: graph.Base{Name: "a1"}, Filters: 4, KernelSize: [2]int{3, 3}, Padding: "same"}, in)
	a = graph.Apply(&graph.Conv2D{Base: graph.Base{Name: "a2"}, Filters: 3, KernelSize: k}, a)
	m, err := graph.Functional([]*graph.Tensor{in}, []*graph.Tensor{graph.Apply(&graph.Add{}, a, c)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range keras3LayerPaths(m) {
		got = append(got, graph.NameOf(p.layer)+"="+p.path)
	}
	want := []string{"input_layer=layers/input_layer", "a1=layers/conv2d", "a2=layers/conv2d_1",
		"c=layers/conv2d_2", "add=layers/add"}
	if !slices.Equal(got, want) {
		t.Errorf("Keras's order %v, want %v", got, want)
	}
}
