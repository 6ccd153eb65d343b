package capa_test

import (
	"encoding/json"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/capa-ml/capa"
	"github.com/capa-ml/capa/dataset"
	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/train"
)

// ctSet returns a tiny 6x6 grayscale data set: class 0 has a bright left
// half, class 1 a bright right half, class 2 a bright top half.
func ctSet(n int) *dataset.Set {
	s := &dataset.Set{N: n, H: 6, W: 6, C: 1, Images: make([]float32, n*36), Labels: make([]uint8, n)}
	for i := 0; i < n; i++ {
		c := i % 3
		s.Labels[i] = uint8(c)
		for y := 0; y < 6; y++ {
			for x := 0; x < 6; x++ {
				on := (c == 0 && x < 3) || (c == 1 && x >= 3) || (c == 2 && y < 3)
				v := float32(0.1 * float64((i*7+y*3+x)%5) / 5)
				if on {
					v += 0.8
				}
				s.Images[i*36+y*6+x] = v
			}
		}
	}
	return s
}

func ctModel(t *testing.T) *capa.Model {
	t.Helper()
	m, err := capa.SequentialSeed(3,
		graph.Input(6, 6, 1),
		&graph.Conv2D{Filters: 4, KernelSize: [2]int{3, 3}, Activation: "relu"},
		&graph.MaxPooling2D{},
		&graph.Flatten{},
		&graph.Dropout{Rate: 0.2},
		&graph.Dense{Units: 3, Activation: "softmax"})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestFacade(t *testing.T) {
	set := ctSet(30)
	d := capa.FromSet(set)
	if d.N != 30 || len(d.Y) != 30 || d.Y[4] != 1 || &d.X[0] != &set.Images[0] {
		t.Fatalf("FromSet: N %d, %d labels, Y[4] %v, shared %v", d.N, len(d.Y), d.Y[4], &d.X[0] == &set.Images[0])
	}
	m := ctModel(t)
	if m.Optimizer() != nil {
		t.Fatal("trainer before Compile")
	}
	_, err := m.Fit(d, graph.FitOptions{Progress: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "Compile") {
		t.Errorf("Fit before Compile: %v", err)
	}
	_, err = m.Evaluate(d, 8)
	if err == nil || !strings.Contains(err.Error(), "Compile") {
		t.Errorf("Evaluate before Compile: %v", err)
	}
	if err := m.Compile(&train.Adam{LearningRate: 0.02}, train.SparseCategoricalCrossentropy{}); err != nil {
		t.Fatal(err)
	}
	if err := m.Compile(&train.SGD{LearningRate: -1}, train.SparseCategoricalCrossentropy{}); err == nil {
		t.Error("Compile with a negative learning rate succeeded")
	}
	if m.Optimizer() == nil {
		t.Fatal("a failed Compile dropped the trainer")
	}
	h, err := m.Fit(d, graph.FitOptions{Epochs: 8, BatchSize: 8, Progress: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if len(h["loss"]) != 8 || !(h["loss"][7] < h["loss"][0]) {
		t.Errorf("loss %v", h["loss"])
	}
	r, err := m.Evaluate(d, 7)
	if err != nil {
		t.Fatal(err)
	}
	if r.N != 30 || r.Accuracy < 0.9 {
		t.Errorf("evaluate: %+v", r)
	}
	pred, err := m.Predict(d.X, 4)
	if err != nil || len(pred) != 90 {
		t.Fatalf("predict: %d values, %v", len(pred), err)
	}

	path := filepath.Join(t.TempDir(), "m.capa")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	m2, err := capa.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if m2.Optimizer() == nil {
		t.Fatal("loaded compiled model has no trainer")
	}
	if m2.Summary() != m.Summary() {
		t.Error("summary differs after Load")
	}
	r2, err := m2.Evaluate(d, 7)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r, r2) {
		t.Errorf("evaluate after Load %+v, before %+v", r2, r)
	}
	// Both continue identically.
	if _, err := m.Fit(d, graph.FitOptions{BatchSize: 8, Progress: io.Discard}); err != nil {
		t.Fatal(err)
	}
	if _, err := m2.Fit(d, graph.FitOptions{BatchSize: 8, Progress: io.Discard}); err != nil {
		t.Fatal(err)
	}
	for i, p := range m.Params() {
		q := m2.Params()[i]
		for j := range p.Data() {
			if math.Float32bits(p.Data()[j]) != math.Float32bits(q.Data()[j]) {
				t.Fatalf("%s differs after one more epoch", p.Name)
			}
		}
	}

	// An uncompiled model saves its weights and loads uncompiled.
	u := ctModel(t)
	up := filepath.Join(t.TempDir(), "u.capa")
	if err := u.Save(up); err != nil {
		t.Fatal(err)
	}
	u2, err := capa.Load(up)
	if err != nil {
		t.Fatal(err)
	}
	if u2.Optimizer() != nil {
		t.Error("uncompiled model loaded with a trainer")
	}
	if _, err := u2.Fit(d, graph.FitOptions{Progress: io.Discard}); err == nil {
		t.Error("Fit of a loaded uncompiled model succeeded")
	}
	_, err = capa.Load(filepath.Join(t.TempDir(), "none.capa"))
	if err == nil || !strings.Contains(err.Error(), "none.capa") {
		t.Errorf("Load of a missing file: %v", err)
	}
}

func TestFacadeConstructors(t *testing.T) {
	m, err := capa.PracticalCNN(0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if tr, non := m.CountParams(); tr != 62346 || non != 0 {
		t.Errorf("practical CNN: %d + %d params, want 62,346", tr, non)
	}
	if m.Seed() != 1 {
		t.Errorf("seed %d", m.Seed())
	}
	d, err := capa.Sequential(capa.PracticalLayers(0)...)
	if err != nil {
		t.Fatal(err)
	}
	if d.Seed() != graph.DefaultSeed {
		t.Errorf("Sequential seed %d, want DefaultSeed", d.Seed())
	}
	h, err := capa.PracticalCNN(64, 2)
	if err != nil {
		t.Fatal(err)
	}
	if tr, _ := h.CountParams(); tr != 62346-10250+65600+650 {
		t.Errorf("practical CNN with Dense(64): %d params", tr)
	}
	if _, err := capa.Sequential(&graph.Flatten{}); err == nil {
		t.Error("Sequential without Input succeeded")
	}
	if _, err := capa.SequentialSeed(1, graph.Input(3), &graph.Dense{}); err == nil {
		t.Error("Dense without units succeeded")
	}
}

// TestLoadFormatVersion1 loads a model file written by Capa in format
// version 1 (testdata/model-v1.capa, from scripts/modelv1) and checks that it
// predicts bit for bit what it predicted when it was written, and that its
// training resumes to the same next-epoch loss.
func TestLoadFormatVersion1(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "model-v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want struct {
		FormatVersion int       `json:"format_version"`
		Input         []float32 `json:"input"`
		Predictions   []float32 `json:"predictions"`
		NextLoss      float64   `json:"next_loss"`
	}
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	if want.FormatVersion != 1 {
		t.Fatalf("fixture has format version %d, want 1", want.FormatVersion)
	}
	m, err := capa.Load(filepath.Join("testdata", "model-v1.capa"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Predict(want.Input, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want.Predictions) {
		t.Fatalf("%d predictions, want %d", len(got), len(want.Predictions))
	}
	// The fixture was written with OpenBLAS 0.3.21's Cooperlake kernels at
	// e115d69. Kernels sum in their own order (Haswell's, gonum's sgemm) and
	// the engine's own loops have changed since (batch normalization now
	// multiplies by gamma/sqrt(var+eps) computed once), so the outputs agree
	// to float32 rounding, not bit for bit: a wrongly loaded weight moves
	// them by far more than 1e-6.
	for i := range got {
		if d := math.Abs(float64(got[i] - want.Predictions[i])); d > 1e-6 {
			t.Fatalf("prediction %d = %v, want %v (%s)", i, got[i], want.Predictions[i], graph.Engine().BLAS)
		}
	}
	r := rand.New(rand.NewPCG(7, 8))
	n := 48
	x, y := make([]float32, n*8*8), make([]float32, n)
	for i := range x {
		x[i] = r.Float32()
	}
	for i := range y {
		y[i] = float32(r.IntN(3))
	}
	h, err := m.Fit(graph.Data{X: x, Y: y, N: n}, graph.FitOptions{Epochs: 3, BatchSize: 16, Progress: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if l := h["loss"][len(h["loss"])-1]; math.Abs(l-want.NextLoss) > 1e-6 {
		t.Fatalf("resumed epoch's loss %v, want %v (%s)", l, want.NextLoss, graph.Engine().BLAS)
	}
}
