package graph

import (
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
)

// TestRegisterActivation checks that a user's activation, registered by
// name, works in a layer's Activation field and round-trips in its spec.
func TestRegisterActivation(t *testing.T) {
	RegisterActivation("double", func(x *G.Node) (*G.Node, error) { return G.Add(x, x) })
	m, err := Sequential(Input(2), &Dense{Units: 2, Activation: "double", KernelInitializer: "ones"})
	if err != nil {
		t.Fatal(err)
	}
	y, err := m.Predict([]float32{1, 2}, 1)
	if err != nil || y[0] != 6 || y[1] != 6 {
		t.Errorf("double(x·1) = %v, %v; want [6 6]", y, err)
	}
	if _, err := Sequential(Input(2), &Dense{Units: 2, Activation: "dubble"}); err == nil || !strings.Contains(err.Error(), "double") {
		t.Errorf("unknown activation: %v, want the known ones listed", err)
	}
}

// TestConfigKeys checks the keys a layer class has in a file: Keras's
// (use_bias, trainable), the name, not Capa's Go-side negations.
func TestConfigKeys(t *testing.T) {
	keys, err := ConfigKeys("Conv2D")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"name", "trainable", "filters", "kernel_size", "use_bias", "activation"} {
		if !keys[k] {
			t.Errorf("Conv2D lacks key %q: %v", k, keys)
		}
	}
	for _, k := range []string{"no_bias", "frozen", "data_format"} {
		if keys[k] {
			t.Errorf("Conv2D has key %q", k)
		}
	}
	if _, err := ConfigKeys("NoSuchLayer"); err == nil {
		t.Error("an unknown class has keys")
	}
}
