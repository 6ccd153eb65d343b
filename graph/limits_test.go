package graph_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/capa-ml/capa/formats/safetensors"
	"github.com/capa-ml/capa/graph"
)

// craftedCases are architectures a hostile or broken model file may hold
// (issue 18): each must be refused from its shapes or its configuration,
// naming the layer and the field or the limit, before any weight is
// allocated.
var craftedCases = []struct {
	name   string
	input  []int
	layers string // JSON list of layer specs
	want   []string
}{
	{"Conv2D of 2e9 filters", []int{28, 28, 1},
		`[{"class_name":"Conv2D","config":{"filters":2000000000,"kernel_size":[5,5]}}]`,
		[]string{`"conv2d"`, "Conv2D", "52 G weights", "limit", "MaxParams", "--max-params"}},
	{"Dense of 4e8 units", []int{4, 4, 64},
		`[{"class_name":"Flatten","config":{}},{"class_name":"Dense","config":{"units":400000000}}]`,
		[]string{`"dense"`, "410 G weights", "limit"}},
	{"Dense of 1e12 units", []int{4},
		`[{"class_name":"Dense","config":{"units":1000000000000}}]`,
		[]string{`"dense"`, "5 T weights", "limit"}},
	{"Dense of 5e5 units", []int{4, 4, 64},
		`[{"class_name":"Flatten","config":{}},{"class_name":"Dense","config":{"units":500000}}]`,
		[]string{`"dense"`, "512 M weights", "limit of 268 M (1 GiB of float32)"}},
	{"input of 2^31 x 2^31 x 2^31", []int{1 << 31, 1 << 31, 1 << 31},
		`[{"class_name":"Flatten","config":{}}]`,
		[]string{"Input shape", "more than 9.2e18 values", "MaxActivations"}},
	{"2000 Dense(4096)", []int{64},
		"[" + strings.TrimSuffix(strings.Repeat(`{"class_name":"Dense","config":{"units":4096}},`, 2000), ",") + "]",
		[]string{`"dense_16"`, "bringing the model to 269 M", "limit"}},
	{"Conv2D strides [0, 0]", []int{8, 8, 1},
		`[{"class_name":"Conv2D","config":{"filters":2,"kernel_size":[3,3],"strides":[0,0]}}]`,
		[]string{"layer 0", "Conv2D", "strides must be positive, got [0 0]"}},
	{"MaxPooling2D pool_size [0, 0]", []int{8, 8, 1},
		`[{"class_name":"MaxPooling2D","config":{"pool_size":[0,0]}}]`,
		[]string{"layer 0", "MaxPooling2D", "pool_size must be positive, got [0 0]"}},
	{"AveragePooling2D strides [0, 1]", []int{8, 8, 1},
		`[{"class_name":"AveragePooling2D","config":{"strides":[0,1]}}]`,
		[]string{"AveragePooling2D", "strides must be positive"}},
	{"negative units", []int{3},
		`[{"class_name":"Dense","config":{"units":-3}}]`,
		[]string{"Dense", "units must be positive, got -3"}},
	{"kernel_size of 2^62", []int{8, 8, 1},
		`[{"class_name":"Conv2D","config":{"filters":1,"kernel_size":[4611686018427387904,4611686018427387904]}}]`,
		[]string{"window does not fit"}},
	{"kernel_size of 2^62, same padding", []int{8, 8, 1},
		`[{"class_name":"Conv2D","config":{"filters":3,"kernel_size":[4611686018427387904,4611686018427387904],"padding":"same"}}]`,
		[]string{"more than 9.2e18", "limit"}},
	{"padding empty", []int{8, 8, 1},
		`[{"class_name":"Conv2D","config":{"filters":1,"kernel_size":[3,3],"padding":""}}]`,
		[]string{"Conv2D", `padding must be "valid" or "same", got ""`}},
	{"unknown initializer object", []int{3},
		`[{"class_name":"Dense","config":{"units":2,"kernel_initializer":{"class_name":"Orthogonal","config":{"gain":2}}}}]`,
		[]string{"kernel_initializer", "Orthogonal", "gain"}},
}

func craftedSpec(t *testing.T, input []int, layers string) graph.ModelSpec {
	t.Helper()
	s := graph.ModelSpec{Name: "crafted", Seed: 1, Input: input}
	if err := json.Unmarshal([]byte(layers), &s.Layers); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestPlanRefusesCrafted checks every crafted architecture is refused by
// Plan and by Build with the expected message, and that refusing them
// allocates next to nothing.
func TestPlanRefusesCrafted(t *testing.T) {
	for _, c := range craftedCases {
		t.Run(c.name, func(t *testing.T) {
			s := craftedSpec(t, c.input, c.layers)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := s.Plan(graph.DefaultLimits)
			runtime.ReadMemStats(&after)
			mtWantErr(t, c.name+": Plan", err, c.want...)
			if got := after.TotalAlloc - before.TotalAlloc; got > 64<<20 {
				t.Errorf("Plan allocated %d MB before refusing", got>>20)
			}
			_, err = s.Build()
			mtWantErr(t, c.name+": Build", err, c.want...)
		})
	}
}

// TestLoadRefusesCrafted writes each crafted architecture into a model
// file (with the few tensors a small model has) and checks that Load
// refuses it with the file's path and the message.
func TestLoadRefusesCrafted(t *testing.T) {
	dir := t.TempDir()
	for i, c := range craftedCases {
		t.Run(c.name, func(t *testing.T) {
			s := craftedSpec(t, c.input, c.layers)
			arch, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, fmt.Sprintf("crafted%d.capa", i))
			meta := map[string]string{graph.MetaFormat: "capa", graph.MetaVersion: "1", graph.MetaModel: string(arch)}
			tensors := map[string]safetensors.Tensor{"dense/kernel": safetensors.F32([]int{2, 2}, make([]float32, 4))}
			if err := safetensors.WriteFile(path, tensors, meta); err != nil {
				t.Fatal(err)
			}
			_, err = graph.Load(path)
			mtWantErr(t, c.name+": Load", err, append([]string{path}, c.want...)...)
		})
	}
}

// TestLimits checks the limits themselves: a model at the limit builds, one
// weight more is refused wrapping ErrLimit, and WithLimits and SetLimits
// raise them.
func TestLimits(t *testing.T) {
	s := craftedSpec(t, []int{9}, `[{"class_name":"Dense","config":{"units":10}}]`) // 100 weights
	p, err := s.Plan(graph.Limits{MaxParams: 100, MaxActivations: 19})
	if err != nil {
		t.Fatal(err)
	}
	if p.Params != 100 || p.Activations != 19 || len(p.Weights) != 2 || !p.Output.Equal(graph.Shape{10}) {
		t.Errorf("plan %+v", p)
	}
	if _, err := s.Plan(graph.Limits{MaxParams: 99, MaxActivations: 19}); !errors.Is(err, graph.ErrLimit) {
		t.Errorf("99 weights allowed: %v, want ErrLimit", err)
	}
	if _, err := s.Plan(graph.Limits{MaxParams: 100, MaxActivations: 18}); !errors.Is(err, graph.ErrLimit) {
		t.Errorf("18 activations allowed: %v, want ErrLimit", err)
	}

	big := craftedSpec(t, []int{4, 4, 64}, `[{"class_name":"Flatten","config":{}},{"class_name":"Dense","config":{"units":300000}}]`)
	m, err := big.Build()
	if !errors.Is(err, graph.ErrLimit) || m != nil {
		t.Fatalf("307 M weights built with the default limits: %v", err)
	}
	if _, err := big.Plan(graph.Limits{MaxParams: 1 << 29}); err != nil {
		t.Errorf("raised limit: %v", err)
	}

	m, err = graph.Sequential(graph.Input(4))
	if err != nil {
		t.Fatal(err)
	}
	m.SetLimits(graph.Limits{MaxParams: 10})
	if err := m.Add(&graph.Dense{Units: 3}); !errors.Is(err, graph.ErrLimit) { // 15 weights
		t.Errorf("Add over SetLimits: %v", err)
	}
	if m.Limits().MaxActivations != graph.DefaultLimits.MaxActivations {
		t.Errorf("SetLimits changed MaxActivations: %+v", m.Limits())
	}
	if err := m.Add(&graph.Dense{Units: 2}); err != nil { // 10 weights
		t.Errorf("a refused layer left the model unusable: %v", err)
	}
}

// TestLoadChecksTensorsFirst checks that a file whose architecture is
// within the limits but does not match its tensors is refused before the
// weights are allocated, naming the weight and both shapes.
func TestLoadChecksTensorsFirst(t *testing.T) {
	s := craftedSpec(t, []int{4}, `[{"class_name":"Dense","config":{"units":3}}]`)
	arch, _ := json.Marshal(s)
	path := filepath.Join(t.TempDir(), "m.capa")
	meta := map[string]string{graph.MetaFormat: "capa", graph.MetaVersion: "2", graph.MetaModel: string(arch)}
	ts := map[string]safetensors.Tensor{
		"dense/kernel": safetensors.F32([]int{4, 2}, make([]float32, 8)),
		"dense/bias":   safetensors.F32([]int{3}, make([]float32, 3)),
	}
	if err := safetensors.WriteFile(path, ts, meta); err != nil {
		t.Fatal(err)
	}
	_, err := graph.Load(path)
	mtWantErr(t, "mismatched kernel", err, path, `"dense/kernel"`, "[4 2]", "[4 3]")
	delete(ts, "dense/bias")
	ts["dense/kernel"] = safetensors.F32([]int{4, 3}, make([]float32, 12))
	if err := safetensors.WriteFile(path, ts, meta); err != nil {
		t.Fatal(err)
	}
	_, err = graph.Load(path)
	mtWantErr(t, "missing bias", err, path, `"dense/bias"`, "missing")
}
