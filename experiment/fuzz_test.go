package experiment

import (
	"strings"
	"testing"

	"github.com/capa-ml/capa/graph"
)

// fuzzLimits bound the models an accepted fuzzed configuration builds:
// parsing checks the model against graph.DefaultLimits from its shapes
// alone (no allocation); the fuzz target then builds only models within
// these smaller limits, so each input runs in microseconds.
var fuzzLimits = graph.Limits{MaxParams: 1 << 12, MaxActivations: 1 << 12}

// configSeeds are small configurations (a few hundred bytes) that reach
// every part of Validate: the test's good configuration, schedules,
// ReduceLROnPlateau, the augmentation pipeline and layers, pooling,
// batch normalization, and a few that are refused.
func configSeeds() []string {
	return []string{
		good,
		`{"name": "s", "model": {"input_shape": [4, 4, 1], "layers": [
  {"class_name": "RandomFlip", "config": {"mode": "horizontal"}},
  {"class_name": "RandomZoom", "config": {"height_factor": 0.1}},
  {"class_name": "Conv2D", "config": {"filters": 2, "kernel_size": [2, 2], "padding": "same", "strides": [1, 1]}},
  {"class_name": "BatchNormalization", "config": {}},
  {"class_name": "MaxPooling2D", "config": {"pool_size": [2, 2]}},
  {"class_name": "Dropout", "config": {"rate": 0.25}},
  {"class_name": "GlobalAveragePooling2D", "config": {}},
  {"class_name": "Dense", "config": {"units": 2, "activation": "softmax"}}]},
 "training": {"optimizer": {"class_name": "SGD", "config": {"learning_rate": 0.1, "momentum": 0.9}},
  "epochs": 2, "seed": 7, "schedule": {"class_name": "StepDecay", "config": {"every": 3, "factor": 0.5}}}}`,
		`{"name": "p", "model": {"input_shape": [3], "layers": [{"class_name": "Dense", "config": {"units": 2}}]},
 "training": {"optimizer": {"class_name": "RMSprop"}, "epochs": 1, "loss": "categorical_crossentropy", "augment": "fashion-mnist",
  "schedule": {"class_name": "ReduceLROnPlateau", "config": {"monitor": "val_loss", "factor": 0.2, "patience": 2}}}}`,
		`{"name": "c", "model": {"input_shape": [4, 4, 1], "layers": [{"class_name": "AveragePooling2D", "config": {}},
  {"class_name": "Flatten", "config": {}}, {"class_name": "Dense", "config": {"units": 1, "kernel_regularizer": {"l2": 0.01}}}]},
 "training": {"optimizer": {"class_name": "Adagrad"}, "epochs": 1, "schedule": {"class_name": "CosineDecay", "config": {"decay_steps": 10}}}}`,
		`{"name": "e", "model": {"input_shape": [2], "layers": [{"class_name": "Dense", "config": {"units": 1}}]},
 "training": {"optimizer": {"class_name": "Adam"}, "epochs": 1, "schedule": {"class_name": "ExponentialDecay", "config": {"decay_steps": 2, "decay_rate": 0.9}}}}`,
		`{"name": "bad", "model": {"input_shape": [2], "layers": [{"class_name": "Dense", "config": {"units": 0}}]},
 "training": {"optimizer": {"class_name": "Adam"}, "epochs": 1}}`,
		`{"name": "bad", "model": {"input_shape": [], "layers": []}, "training": {"epochs": 0}}`,
	}
}

// FuzzParse feeds arbitrary bytes to the configuration parser, which
// decodes them and validates them by building the model, optimizer, loss,
// schedule and augmentation. No input may panic; every error names the
// file; an accepted configuration within fuzzLimits builds its model.
// Run it with
//
//	go test -run='^$' -fuzz='^FuzzParse$' -fuzztime=5m -parallel=1 ./experiment
func FuzzParse(f *testing.F) {
	for _, s := range configSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parse(b, "fuzz.json")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "experiment: fuzz.json: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		s, err := c.spec()
		if err != nil {
			t.Fatalf("spec of a parsed config: %v", err)
		}
		if _, err := s.Plan(fuzzLimits); err != nil {
			return // accepted, but too large to build quickly
		}
		m, err := c.Build()
		if err != nil {
			t.Fatalf("an accepted configuration does not build: %v", err)
		}
		if len(m.Layers()) != len(c.Model.Layers) {
			t.Fatalf("%d layers built from %d", len(m.Layers()), len(c.Model.Layers))
		}
	})
}

// TestConfigSeeds checks that the seeds are small and that all but the
// last two are accepted.
func TestConfigSeeds(t *testing.T) {
	seeds := configSeeds()
	for i, s := range seeds {
		if len(s) > 1024 {
			t.Errorf("seed %d is %d bytes, want a small seed", i, len(s))
		}
		_, err := parse([]byte(s), "seed.json")
		if (err == nil) != (i < len(seeds)-2) {
			t.Errorf("seed %d: error %v", i, err)
		}
	}
}
