package experiment

import (
	"context"
	"encoding/csv"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capa-ml/capa/graph"
)

const good = `{"name": "tiny", "description": "a tiny model",
 "model": {"input_shape": [6, 6, 1], "layers": [
  {"class_name": "Conv2D", "config": {"filters": 3, "kernel_size": [3, 3], "activation": "relu"}},
  {"class_name": "Flatten", "config": {}},
  {"class_name": "Dense", "config": {"units": 3, "activation": "softmax"}}]},
 "training": {"optimizer": {"class_name": "Adam", "config": {"learning_rate": 0.01}}, "epochs": 3, "batch_size": 8,
  "early_stopping": {"monitor": "val_accuracy", "patience": 5}}}`

func write(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadRejectsBadConfigsNamingTheField(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ edit, want string }{
		{`"epochs": 3`, `"epochs": 0`},
		{`"class_name": "Adam"`, `"class_name": "Adamax"`},
		{`"learning_rate": 0.01`, `"learning_rat": 0.01`},
		{`"learning_rate": 0.01`, `"learning_rate": -1`},
		{`"filters": 3`, `"filters": -3`},
		{`"kernel_size": [3, 3]`, `"kernel_size": [9, 9]`},
		{`"name": "tiny"`, `"name": "a/b"`},
		{`"batch_size": 8`, `"batch_sise": 8`},
		{`"monitor": "val_accuracy"`, `"monitor": "accuracy"`},
		{`"class_name": "Flatten"`, `"class_name": "Flaten"`},
		{`"batch_size": 8`, `"batch_size": 8, "augment": "mnist"`},
		{`"batch_size": 8`, `"batch_size": 8, "schedule": {"class_name": "CosineDecay", "config": {"decay_steps": 0}}}`},
		{`"batch_size": 8`, `"batch_size": 8, "schedule": {"class_name": "CosineDecay", "config": {"decay_step": 10}}}`},
		{`"batch_size": 8`, `"batch_size": 8, "schedule": {"class_name": "OneCycle"}}`},
		{`"batch_size": 8`, `"batch_size": 8, "schedule": {"class_name": "ReduceLROnPlateau", "config": {"factor": 2}}}`},
		{`"batch_size": 8`, `"batch_size": 8, "schedule": {"class_name": "ReduceLROnPlateau", "config": {"monitor": "loss"}}}`},
	} {
		body := strings.Replace(good, c.edit, c.want, 1)
		_, err := Load(write(t, dir, "bad.json", body))
		if err == nil {
			t.Errorf("%s accepted", c.want)
			continue
		}
		if !strings.Contains(err.Error(), "bad.json") {
			t.Errorf("%s: error does not name the file: %v", c.want, err)
		}
		t.Logf("%s: %v", c.want, err)
	}
	if _, err := Load(write(t, dir, "good.json", good)); err != nil {
		t.Fatal(err)
	}
}

func synth(n int, seed uint64) graph.Data {
	rng := rand.New(rand.NewPCG(seed, 1))
	d := graph.Data{X: make([]float32, n*36), Y: make([]float32, n), N: n}
	for i := 0; i < n; i++ {
		c := rng.IntN(3)
		d.Y[i] = float32(c)
		for j := 0; j < 36; j++ {
			d.X[i*36+j] = float32(rng.Float64()*0.3) + float32(c)*float32(j%3)*0.3
		}
	}
	return d
}

func TestRunWritesTablesCurvesModels(t *testing.T) {
	dir := t.TempDir()
	a, err := Load(write(t, dir, "a.json", good))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Load(write(t, dir, "b.json", strings.Replace(strings.Replace(good, `"tiny"`, `"tiny-sgd"`, 1), `"Adam"`, `"SGD"`, 1)))
	out := filepath.Join(dir, "out")
	res, err := Run(context.Background(), []Config{a, b}, synth(64, 1), synth(32, 2), synth(32, 3), Options{OutDir: out, Progress: io.Discard, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	best := 0
	for i, r := range res {
		if r.ValAccuracy > res[best].ValAccuracy {
			best = i
		}
		for _, f := range []string{r.Model, r.Curves} {
			if _, err := os.Stat(f); err != nil {
				t.Error(err)
			}
		}
		if len(r.History["val_accuracy"]) != r.Epochs {
			t.Errorf("%s: history %v", r.Name, r.History)
		}
		if !(r.TrainAccuracy > 0) {
			t.Errorf("%s: train accuracy not recorded", r.Name)
		}
	}
	if !res[best].Best || res[1-best].Best {
		t.Errorf("best marked wrong: %+v", res)
	}
	if err := WriteTables(res, filepath.Join(out, "r.md"), filepath.Join(out, "r.csv")); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(out, "r.md"))
	if !strings.Contains(string(md), "(best by validation)") {
		t.Errorf("markdown:\n%s", md)
	}
	f, _ := os.Open(filepath.Join(out, "r.csv"))
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) != 3 || rows[0][2] != "val_accuracy" {
		t.Errorf("csv %v %v", rows, err)
	}
	if _, err := Run(context.Background(), []Config{a, a}, synth(8, 1), synth(8, 2), synth(8, 3), Options{OutDir: out, Progress: io.Discard, Log: io.Discard}); err == nil {
		t.Error("duplicate names accepted")
	}
}

// TestCommittedConfigs checks every configuration in experiments/.
func TestCommittedConfigs(t *testing.T) {
	paths, _ := filepath.Glob("../experiments/*.json")
	small, _ := filepath.Glob("../experiments/small-data/*.json")
	if len(paths) < 10 || len(small) != 2 {
		t.Fatalf("%d configurations in experiments/", len(paths))
	}
	for _, p := range append(paths, small...) {
		if _, err := Load(p); err != nil {
			t.Error(err)
		}
	}
}

// TestScheduleAndAugmentation runs configurations with each kind of
// schedule and with the augmentation pipeline: the learning rates the
// optimizer used follow the schedule, and augmentation changes the run.
func TestScheduleAndAugmentation(t *testing.T) {
	dir := t.TempDir()
	base := strings.Replace(good, `"epochs": 3`, `"epochs": 4`, 1)
	cfg := func(name, extra string) Config {
		body := strings.Replace(strings.Replace(base, `"tiny"`, `"`+name+`"`, 1), `"batch_size": 8`, `"batch_size": 8`+extra, 1)
		c, err := Load(write(t, dir, name+".json", body))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cfgs := []Config{
		cfg("plain", ""),
		cfg("step", `, "schedule": {"class_name": "StepDecay", "config": {"factor": 0.5, "every": 1}}`),
		cfg("plateau", `, "schedule": {"class_name": "ReduceLROnPlateau", "config": {"monitor": "val_loss", "factor": 0.5, "patience": 1, "min_delta": 100}}`),
		cfg("augmented", `, "augment": "fashion-mnist"`),
	}
	res, err := Run(context.Background(), cfgs, synth(64, 1), synth(32, 2), synth(32, 3), Options{OutDir: filepath.Join(dir, "out"), Progress: io.Discard, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	lr := func(r Result) []float64 { return r.History["lr"] }
	if len(lr(res[0])) == 0 {
		t.Fatalf("history has no learning rates: %v", res[0].History)
	}
	for i, want := range []float64{0.01, 0.005, 0.0025, 0.00125} {
		if got := lr(res[1])[i]; math.Abs(got-want) > 1e-9 {
			t.Errorf("step decay epoch %d: lr %v, want %v", i+1, got, want)
		}
		if got := lr(res[0])[i]; got != 0.01 {
			t.Errorf("no schedule epoch %d: lr %v", i+1, got)
		}
	}
	// No epoch after the first improves val_loss by 100: with patience 1
	// the rate is halved after every later epoch.
	if got := lr(res[2]); !(got[3] < got[0]) {
		t.Errorf("ReduceLROnPlateau did not lower the rate: %v", got)
	}
	if res[3].History["loss"][0] == res[0].History["loss"][0] {
		t.Error("augmentation changed nothing")
	}
}

func TestMergeKeepsEarlierResults(t *testing.T) {
	earlier := []Result{{Name: "a", ValAccuracy: 0.9}, {Name: "b", ValAccuracy: 0.8, Best: true}}
	got := Merge(earlier, []Result{{Name: "b", ValAccuracy: 0.95}, {Name: "c", ValAccuracy: 0.7}})
	if len(got) != 3 || got[0].Name != "a" || got[1].Name != "b" || got[1].ValAccuracy != 0.95 || got[2].Name != "c" {
		t.Fatalf("merged %+v", got)
	}
	for i, r := range got {
		if r.Best != (i == 1) {
			t.Errorf("best marked wrong: %+v", got)
		}
	}
	if earlier[1].ValAccuracy != 0.8 {
		t.Error("Merge changed its argument")
	}
}

// residual is a functional configuration: a residual block, its Add
// naming its two inputs, the other layers chained to the layer before.
const residual = `{"name": "res", "model": {"input_shape": [6, 6, 1], "layers": [
  {"class_name": "Conv2D", "name": "stem", "config": {"filters": 3, "kernel_size": [3, 3], "padding": "same", "activation": "relu"}},
  {"class_name": "Conv2D", "config": {"filters": 3, "kernel_size": [3, 3], "padding": "same"}},
  {"class_name": "BatchNormalization", "name": "bn", "config": {}},
  {"class_name": "Add", "name": "add", "config": {}, "inbound_nodes": [["bn", ["stem", 0, 0, {}]]]},
  {"class_name": "GlobalAveragePooling2D", "config": {}},
  {"class_name": "Dense", "config": {"name": "head", "units": 3, "activation": "softmax"}}],
  "output_layers": ["head"]},
 "training": {"optimizer": {"class_name": "Adam", "config": {"learning_rate": 0.01}}, "epochs": 2, "batch_size": 8}}`

// TestFunctionalForm builds, trains and saves a functional configuration,
// and rejects one whose connections are wrong, naming the file.
func TestFunctionalForm(t *testing.T) {
	dir := t.TempDir()
	c, err := Load(write(t, dir, "res.json", residual))
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Build()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range m.Layers() {
		names = append(names, l.(interface{ LayerName() string }).LayerName())
	}
	want := "stem conv2d_1 bn add global_average_pooling2d_4 head"
	if strings.Join(names, " ") != want {
		t.Errorf("layers %q, want %q", strings.Join(names, " "), want)
	}
	if s := m.Summary(); !strings.Contains(s, "bn[0][0]") || !strings.Contains(s, "stem[0][0]") {
		t.Errorf("summary does not connect add to bn and stem:\n%s", s)
	}
	res, err := Run(context.Background(), []Config{c}, synth(32, 1), synth(16, 2), synth(16, 3), Options{OutDir: filepath.Join(dir, "out"), Progress: io.Discard, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	back, err := graph.Load(res[0].Model)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Layers()) != 6 {
		t.Errorf("reloaded model has %d layers", len(back.Layers()))
	}
	for _, c := range []struct{ edit, want, says string }{
		{`["bn", ["stem", 0, 0, {}]]`, `["bn", "stme"]`, "stme"},
		{`["bn", ["stem", 0, 0, {}]]`, `["bn", ["stem", 1, 0]]`, "stem[1]"},
		{`"output_layers": ["head"]`, `"output_layers": ["nothing"]`, "nothing"},
		{`"name": "bn"`, `"name": "stem"`, "two layers"},
		{`"name": "add", "config": {}`, `"name": "add", "config": {"name": "other"}`, "config name"},
	} {
		_, err := Load(write(t, dir, "bad.json", strings.Replace(residual, c.edit, c.want, 1)))
		if err == nil || !strings.Contains(err.Error(), "bad.json") || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v, want an error naming the file and saying %q", c.want, err, c.says)
		}
	}
}
