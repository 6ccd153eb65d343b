package capa_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/capa-ml/capa"
	"github.com/capa-ml/capa/augment"
	"github.com/capa-ml/capa/formats/safetensors"
	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/train"
)

// fuzzLimits bound what a fuzzed model file may ask for: the loader
// refuses anything larger from its shapes, before allocating (issue 18), so
// the fuzzer explores that path too instead of running out of memory, and
// each accepted input predicts in microseconds.
var fuzzLimits = graph.Limits{MaxParams: 1 << 12, MaxActivations: 1 << 12}

// modelSeeds returns model files saved by Capa (a few hundred bytes to
// 2 KB): uncompiled and compiled, dense, convolutional and augmenting
// architectures, and a few hand-made mutations of them.
func modelSeeds(t testing.TB) [][]byte {
	dir := t.TempDir()
	var out [][]byte
	save := func(m *capa.Model, err error, opt graph.Optimizer) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if opt != nil {
			if err := m.Compile(opt, train.SparseCategoricalCrossentropy{}); err != nil {
				t.Fatal(err)
			}
		}
		p := filepath.Join(dir, "m.capa")
		if err := m.Save(p); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	dense := func() (*capa.Model, error) {
		return capa.SequentialSeed(1, graph.Input(4, 4, 1), &graph.Flatten{}, &graph.Dense{Units: 2})
	}
	m, err := dense()
	save(m, err, nil)
	m, err = dense()
	save(m, err, &train.Adam{})
	m, err = capa.SequentialSeed(2, graph.Input(5, 5, 1),
		&augment.RandomFlip{Mode: "horizontal"},
		&graph.Conv2D{Filters: 2, KernelSize: [2]int{3, 3}, Activation: "relu", Padding: "same"},
		&graph.BatchNormalization{},
		&graph.MaxPooling2D{},
		&graph.Dropout{Rate: 0.5},
		&graph.GlobalAveragePooling2D{},
		&graph.Dense{Units: 3, Activation: "softmax"})
	save(m, err, nil)
	m, err = capa.SequentialSeed(3, graph.Input(3, 3, 2),
		&graph.AveragePooling2D{PoolSize: [2]int{2, 2}, Strides: [2]int{1, 1}},
		&graph.Flatten{}, &graph.Activation{Activation: "tanh"}, &graph.Dense{Units: 1})
	save(m, err, &train.SGD{LearningRate: 0.1, Momentum: 0.9})
	// A Functional model: two inputs, a shared layer, merges.
	p, q := graph.NewInput(2, 2, 1), graph.NewInput(2, 2, 1)
	shared := &graph.Conv2D{Filters: 1, KernelSize: [2]int{1, 1}}
	x, y := graph.Apply(shared, p), graph.Apply(shared, q)
	z := graph.Apply(&graph.Concatenate{}, graph.Apply(&graph.Add{}, x, y), graph.Apply(&graph.Maximum{}, x, y))
	z = graph.Apply(&graph.GlobalMaxPooling2D{}, z)
	m, err = graph.FunctionalSeed(4, []*graph.Tensor{p, q}, []*graph.Tensor{z})
	save(m, err, nil)

	// Mutations: a newer version, a weight of the wrong shape, an extra
	// tensor, an architecture that does not parse.
	f, err := safetensors.Read(bytes.NewReader(out[0]), int64(len(out[0])))
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(edit func(meta map[string]string, ts map[string]safetensors.Tensor)) {
		meta := map[string]string{}
		for k, v := range f.Metadata {
			meta[k] = v
		}
		ts := map[string]safetensors.Tensor{}
		for k, v := range f.Tensors {
			ts[k] = v
		}
		edit(meta, ts)
		var buf bytes.Buffer
		if err := safetensors.Write(&buf, ts, meta); err != nil {
			t.Fatal(err)
		}
		out = append(out, buf.Bytes())
	}
	mutate(func(meta map[string]string, _ map[string]safetensors.Tensor) {
		meta[graph.MetaVersion] = strconv.Itoa(graph.FormatVersion + 1)
	})
	mutate(func(_ map[string]string, ts map[string]safetensors.Tensor) {
		ts["dense/bias"] = safetensors.F32([]int{3}, []float32{1, 2, 3})
	})
	mutate(func(_ map[string]string, ts map[string]safetensors.Tensor) {
		ts["extra"] = safetensors.F32([]int{1}, []float32{1})
	})
	mutate(func(meta map[string]string, _ map[string]safetensors.Tensor) {
		meta[graph.MetaModel] = strings.Replace(meta[graph.MetaModel], `"units":2`, `"units":-2,"strides":[0,0]`, 1)
	})
	return out
}

// FuzzLoad feeds arbitrary bytes to graph.ReadModel, the whole path of
// capa.Load (safetensors, metadata JSON, spec, build, weights, training
// state) with every class of Capa registered. No input may panic; an
// accepted model must give its spec back and predict one zero image with
// the output its shape says; architectures over fuzzLimits are refused. Run it with
//
//	go test -run='^$' -fuzz='^FuzzLoad$' -fuzztime=5m -parallel=1 .
func FuzzLoad(f *testing.F) {
	for _, b := range modelSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkRead(t, b)
	})
}

// checkRead reads model file b and checks what it gives: an error naming
// the file, or a model that gives its spec back and predicts one zero
// image with as many values as its output shape.
func checkRead(t *testing.T, b []byte) {
	m, err := graph.ReadModel(bytes.NewReader(b), int64(len(b)), "fuzz.capa", graph.WithLimits(fuzzLimits))
	if err != nil {
		if !strings.HasPrefix(err.Error(), "graph: load fuzz.capa") {
			t.Fatalf("error does not name the file: %v", err)
		}
		return
	}
	spec, err := m.Spec()
	if err != nil {
		t.Fatalf("Spec of a loaded model: %v", err)
	}
	if _, err := json.Marshal(spec); err != nil {
		t.Fatalf("marshaling the spec of a loaded model: %v", err)
	}
	var xs [][]float32
	for _, s := range m.Inputs() {
		xs = append(xs, make([]float32, s.Size()))
	}
	ys, err := m.PredictInputs(xs, 1)
	if err != nil {
		t.Fatalf("Predict on a loaded model: %v", err)
	}
	if y := ys[0]; len(y) != m.OutputShape().Size() {
		t.Fatalf("Predict gave %d values, the output shape is %v", len(y), m.OutputShape())
	}
}

// FuzzLoadMetadata fuzzes the metadata of a model file rather than its
// bytes: the architecture JSON and the training-state JSON ("" for none).
// Random bytes rarely keep a safetensors header consistent, so FuzzLoad
// seldom reaches the architecture; here the body writes a valid file,
// with the weights of the architecture when it builds, so that every
// input reaches the spec parser, the build, the weight checks and the
// training state (optimizer, loss, compile, random and shuffle states).
// The checks are FuzzLoad's. Run it with
//
//	go test -run='^$' -fuzz='^FuzzLoadMetadata$' -fuzztime=5m -parallel=1 .
func FuzzLoadMetadata(f *testing.F) {
	for _, b := range modelSeeds(f) {
		h, err := safetensors.ReadHeader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(h.Metadata[graph.MetaModel], h.Metadata[graph.MetaTraining])
	}
	f.Fuzz(func(t *testing.T, arch, training string) {
		tensors := map[string]safetensors.Tensor{}
		var spec graph.ModelSpec
		if json.Unmarshal([]byte(arch), &spec) == nil {
			if m, err := spec.BuildLimits(fuzzLimits); err == nil {
				for _, p := range m.Params() {
					tensors[p.Name] = safetensors.F32(p.Shape(), p.Data())
				}
			}
		}
		meta := map[string]string{graph.MetaFormat: "capa", graph.MetaVersion: "1", graph.MetaModel: arch}
		if training != "" {
			meta[graph.MetaTraining] = training
		}
		var buf bytes.Buffer
		if err := safetensors.Write(&buf, tensors, meta); err != nil {
			t.Skip("not writable as safetensors metadata")
		}
		checkRead(t, buf.Bytes())
	})
}

// TestModelSeeds checks that the seeds are small and that those saved by
// Capa load.
func TestModelSeeds(t *testing.T) {
	seeds := modelSeeds(t)
	for i, b := range seeds {
		if len(b) > 3072 {
			t.Errorf("seed %d is %d bytes, want a small seed", i, len(b))
		}
		_, err := graph.ReadModel(bytes.NewReader(b), int64(len(b)), "seed")
		if (err == nil) != (i < 5) { // five saved models, then the mutations
			t.Errorf("seed %d: error %v", i, err)
		}
	}
}
