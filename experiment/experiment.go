// Package experiment runs the course's exercise: several model and training
// configurations, declared in JSON files, trained on the same data, chosen
// on a validation split held out of the training set, and evaluated once on
// the test set, with a results table (Markdown and CSV), learning curves
// (PNG) and the saved models.
//
// A configuration file:
//
//	{
//	  "name": "practical",
//	  "description": "the course's model",
//	  "model": {"input_shape": [28, 28, 1], "layers": [
//	    {"class_name": "Conv2D", "config": {"filters": 32, "kernel_size": [5, 5], "activation": "relu"}},
//	    {"class_name": "MaxPooling2D", "config": {}},
//	    {"class_name": "Flatten", "config": {}},
//	    {"class_name": "Dense", "config": {"units": 10, "activation": "softmax"}}]},
//	  "training": {"optimizer": {"class_name": "Adam", "config": {"learning_rate": 0.001}},
//	               "epochs": 10, "batch_size": 32, "seed": 1,
//	               "early_stopping": {"monitor": "val_accuracy", "patience": 3},
//	               "schedule": {"class_name": "CosineDecay", "config": {"decay_steps": 15640}},
//	               "augment": "fashion-mnist"}
//	}
//
// A schedule is one of train's learning-rate schedules by class name
// (StepDecay, ExponentialDecay, CosineDecay: their JSON fields; steps are
// optimizer steps, ceil(training images / batch size) per epoch) or
// ReduceLROnPlateau (monitor, factor, patience, min_delta, cooldown, min_lr,
// Keras's names and defaults). Augmentation is either a named pipeline of
// package augment applied to every training batch ("fashion-mnist": the
// domain-aware default, seeded from the training seed) or preprocessing
// layers inside the model (RandomFlip, RandomRotation, RandomTranslation,
// RandomZoom, RandomContrast, RandomBrightness), which act only in training
// and are saved with it, as in Keras.
//
// Layers are Keras class names with Keras-style configuration fields (see
// package graph); every file is checked, the models built, before any
// training starts, and an error names the file and the field.
//
// A model that is not a stack (a residual block, branches concatenated) is
// written in the functional form: layers may carry a "name" and
// "inbound_nodes", Keras's list of the tensors each application of the
// layer takes, each either Keras's ["name", 0, 0, {}] or a plain "name"; a
// layer without "inbound_nodes" takes the layer before it, the first one
// the model's input ("input_layer", of input_shape); "output_layers"
// names the outputs (default: the last layer). Unnamed layers are named as
// Keras would name them, with their position: "conv2d_3".
//
//	"model": {"input_shape": [28, 28, 1], "layers": [
//	  {"class_name": "Conv2D", "name": "stem", "config": {"filters": 16, "kernel_size": [3, 3], "padding": "same", "activation": "relu"}},
//	  {"class_name": "Conv2D", "config": {"filters": 16, "kernel_size": [3, 3], "padding": "same"}},
//	  {"class_name": "Add", "name": "add", "config": {}, "inbound_nodes": [["conv2d_1", "stem"]]},
//	  {"class_name": "GlobalAveragePooling2D", "config": {}},
//	  {"class_name": "Dense", "config": {"units": 10, "activation": "softmax"}}]}
package experiment

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/capa-ml/capa/augment"
	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/train"
)

// Config is one experiment.
type Config struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Model       Model    `json:"model"`
	Training    Training `json:"training"`

	path string
}

// Model is an architecture: a Sequential stack of layers, or a Functional
// graph when any layer has "inbound_nodes" or the model names
// "output_layers" (see the package documentation).
type Model struct {
	InputShape []int             `json:"input_shape"`
	Layers     []graph.LayerSpec `json:"layers"`
	// OutputLayers names a Functional model's outputs (default: its last
	// layer), as Keras's ["name", 0, 0] or a plain "name".
	OutputLayers []graph.NodeRef `json:"output_layers,omitempty"`
}

// functional reports whether the model is written in the functional form.
func (m Model) functional() bool {
	if len(m.OutputLayers) > 0 {
		return true
	}
	for _, l := range m.Layers {
		if len(l.InboundNodes) > 0 {
			return true
		}
	}
	return false
}

// functionalSpec expands the functional form into a Functional model's
// spec: an InputLayer "input_layer" of input_shape first, every layer
// named (its "name", its config's name, or its class in snake case with
// its position, such as "conv2d_3"), and a layer without "inbound_nodes"
// applied once to the layer before it.
func (c Config) functionalSpec() (graph.ModelSpec, error) {
	in, err := json.Marshal(map[string]any{"name": inputName, "shape": c.Model.InputShape})
	if err != nil {
		return graph.ModelSpec{}, err
	}
	layers := []graph.LayerSpec{{Class: "InputLayer", Config: in, Name: inputName}}
	prev := inputName
	for i, l := range c.Model.Layers {
		var named struct {
			Name string `json:"name"`
		}
		if len(l.Config) > 0 {
			if err := json.Unmarshal(l.Config, &named); err != nil {
				return graph.ModelSpec{}, fmt.Errorf("layer %d (%s): config: %w", i, l.Class, err)
			}
		}
		switch {
		case l.Name == "" && named.Name != "":
			l.Name = named.Name
		case l.Name == "":
			l.Name = fmt.Sprintf("%s_%d", graph.DefaultName(l.Class), i)
		}
		if len(l.InboundNodes) == 0 {
			l.InboundNodes = [][]graph.NodeRef{{{Layer: prev}}}
		}
		layers = append(layers, l)
		prev = l.Name
	}
	outs := c.Model.OutputLayers
	if len(outs) == 0 {
		outs = []graph.NodeRef{{Layer: prev}}
	}
	return graph.ModelSpec{Name: c.Name, Seed: c.seed(), Input: c.Model.InputShape, Layers: layers,
		InputLayers: []graph.NodeRef{{Layer: inputName}}, OutputLayers: outs}, nil
}

// inputName is the name of a functional configuration's input.
const inputName = "input_layer"

// Training says how a model is trained.
type Training struct {
	Optimizer graph.OptimizerSpec `json:"optimizer"`
	// Loss defaults to sparse_categorical_crossentropy.
	Loss      string `json:"loss,omitempty"`
	Epochs    int    `json:"epochs"`
	BatchSize int    `json:"batch_size,omitempty"`
	Seed      uint64 `json:"seed,omitempty"`
	// EarlyStopping, if set, is the config of Keras's EarlyStopping
	// (train.EarlyStopping, by the callback registry): {"monitor":
	// "val_accuracy", "patience": 3, "min_delta": 0.001}. It stops when the
	// monitored validation metric stops improving and, unless
	// "restore_best_weights" is false, restores the best weights.
	EarlyStopping json.RawMessage `json:"early_stopping,omitempty"`
	// Schedule, if set, varies the learning rate during training.
	Schedule *Schedule `json:"schedule,omitempty"`
	// Augment names an augmentation pipeline applied to every training
	// batch: "fashion-mnist" (augment.FashionMNIST) or "" for none.
	Augment string `json:"augment,omitempty"`
}

// Schedule is a learning-rate schedule in Keras's serialized form: a class
// name and its configuration.
type Schedule struct {
	Class  string          `json:"class_name"`
	Config json.RawMessage `json:"config,omitempty"`
}

// build returns the schedule, or the callback for ReduceLROnPlateau, both
// decoded by Capa's registries (graph.ScheduleFromConfig,
// graph.CallbackFromConfig) into package train's types.
func (s *Schedule) build() (graph.Schedule, graph.Callback, error) {
	if s == nil {
		return nil, nil, nil
	}
	if s.Class == "ReduceLROnPlateau" {
		cb, err := graph.CallbackFromConfig(s.Class, s.Config)
		if err != nil {
			return nil, nil, err
		}
		if mon := cb.(*train.ReduceLROnPlateau).Monitor; !strings.HasPrefix(mon, "val_") {
			return nil, nil, fmt.Errorf("monitor must be a validation metric (val_loss, val_accuracy), got %q", mon)
		}
		return nil, cb, nil
	}
	sch, err := graph.ScheduleFromConfig(s.Class, s.Config)
	if err != nil {
		return nil, nil, fmt.Errorf("%w (or ReduceLROnPlateau)", err)
	}
	return sch, nil, nil
}

// earlyStopping returns the configured train.EarlyStopping, or nil.
func (t Training) earlyStopping() (*train.EarlyStopping, error) {
	if len(t.EarlyStopping) == 0 {
		return nil, nil
	}
	cb, err := graph.CallbackFromConfig("EarlyStopping", t.EarlyStopping)
	if err != nil {
		return nil, err
	}
	es := cb.(*train.EarlyStopping)
	if !strings.Contains(string(t.EarlyStopping), `"restore_best_weights"`) {
		es.RestoreBestWeights = true
	}
	if !strings.HasPrefix(es.Monitor, "val_") {
		return nil, fmt.Errorf("monitor must be a validation metric (val_loss, val_accuracy), got %q", es.Monitor)
	}
	return es, nil
}

// augmentation returns the configured training-batch transform, or nil.
func (t Training) augmentation(seed uint64) (graph.BatchTransform, error) {
	switch t.Augment {
	case "":
		return nil, nil
	case "fashion-mnist":
		return augment.FashionMNIST(seed), nil
	}
	return nil, fmt.Errorf("unknown pipeline %q (\"fashion-mnist\", or augmentation layers in the model)", t.Augment)
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// Load reads and checks a configuration file (unknown fields are errors),
// building its model and optimizer once to validate them.
func Load(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("experiment: %w", err)
	}
	return parse(b, path)
}

// parse reads and checks the configuration b, read from path.
func parse(b []byte, path string) (Config, error) {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("experiment: %s: %w", path, err)
	}
	c.path = path
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("experiment: %s: %w", path, err)
	}
	return c, nil
}

// Validate checks the configuration by building its model, optimizer and
// loss.
func (c Config) Validate() error {
	if !nameRE.MatchString(c.Name) {
		return fmt.Errorf(`field "name": %q must be a non-empty file-name-safe word`, c.Name)
	}
	t := c.Training
	if t.Epochs < 1 {
		return fmt.Errorf(`field "training.epochs": must be positive, got %d`, t.Epochs)
	}
	if t.BatchSize < 0 {
		return fmt.Errorf(`field "training.batch_size": must be positive, got %d`, t.BatchSize)
	}
	if t.Optimizer.Class == "" {
		return fmt.Errorf(`field "training.optimizer.class_name" is required (Adam, SGD, RMSprop, Adagrad)`)
	}
	if _, err := t.Optimizer.Build(); err != nil {
		return fmt.Errorf(`field "training.optimizer": %w`, err)
	}
	if _, err := train.LossByName(c.loss()); err != nil {
		return fmt.Errorf(`field "training.loss": %w`, err)
	}
	if _, err := t.earlyStopping(); err != nil {
		return fmt.Errorf(`field "training.early_stopping": %w`, err)
	}
	if _, _, err := t.Schedule.build(); err != nil {
		return fmt.Errorf(`field "training.schedule": %w`, err)
	}
	if _, err := t.augmentation(1); err != nil {
		return fmt.Errorf(`field "training.augment": %w`, err)
	}
	if len(c.Model.InputShape) == 0 {
		return fmt.Errorf(`field "model": "input_shape" is required, such as [28, 28, 1]`)
	}
	if len(c.Model.Layers) == 0 {
		return fmt.Errorf(`field "model": "layers" is empty`)
	}
	s, err := c.spec()
	if err != nil {
		return fmt.Errorf(`field "model": %w`, err)
	}
	if _, err := s.Plan(graph.DefaultLimits); err != nil {
		return fmt.Errorf(`field "model": %w`, err)
	}
	return nil
}

func (c Config) loss() string {
	if c.Training.Loss == "" {
		return "sparse_categorical_crossentropy"
	}
	return c.Training.Loss
}

// Build creates the model, with weights drawn from the training seed.
// Parsing has checked it against graph.DefaultLimits (ModelSpec.Plan).
func (c Config) Build() (*graph.Model, error) {
	s, err := c.spec()
	if err != nil {
		return nil, err
	}
	return s.Build()
}

// spec is the model's architecture.
func (c Config) spec() (graph.ModelSpec, error) {
	if c.Model.functional() {
		return c.functionalSpec()
	}
	return graph.ModelSpec{Name: c.Name, Seed: c.seed(), Input: c.Model.InputShape, Layers: c.Model.Layers}, nil
}

func (c Config) seed() uint64 {
	if c.Training.Seed == 0 {
		return 1
	}
	return c.Training.Seed
}

// Result is what an experiment gave.
type Result struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// TrainAccuracy and TrainLoss are the final model's, evaluated on the
	// training images without augmentation or dropout: with ValAccuracy
	// they give the train/validation gap (overfitting).
	TrainAccuracy float64       `json:"train_accuracy,omitempty"`
	TrainLoss     float64       `json:"train_loss,omitempty"`
	ValAccuracy   float64       `json:"val_accuracy"`
	ValLoss       float64       `json:"val_loss"`
	TestAccuracy  float64       `json:"test_accuracy"`
	TestLoss      float64       `json:"test_loss"`
	Params        int           `json:"params"`
	Epochs        int           `json:"epochs"`
	TrainSeconds  float64       `json:"train_seconds"`
	History       graph.History `json:"history"`
	Model         string        `json:"model"`
	Curves        string        `json:"curves"`
	Best          bool          `json:"best"`
}

// Options configure Run.
type Options struct {
	// OutDir receives the models, curves and tables.
	OutDir string
	// Progress receives the progress bars (default os.Stderr).
	Progress io.Writer
	// Log receives one line per finished experiment (default os.Stdout).
	Log io.Writer
	// OnResult, if set, is called after each experiment with the results so
	// far (the best not yet marked), so that tables can be written as the
	// run goes.
	OnResult func([]Result) error
}

// Run trains every configuration on trainData, selecting with valData
// (each epoch's val_ metrics, and the final validation accuracy), then
// evaluates each on testData once, saves the models and curves in
// o.OutDir and marks the best by validation accuracy.
func Run(ctx context.Context, cfgs []Config, trainData, valData, testData graph.Data, o Options) ([]Result, error) {
	if o.Progress == nil {
		o.Progress = os.Stderr
	}
	if o.Log == nil {
		o.Log = os.Stdout
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("experiment: %w", err)
	}
	seen := map[string]bool{}
	for _, c := range cfgs {
		if seen[c.Name] {
			return nil, fmt.Errorf("experiment: two configurations are named %q", c.Name)
		}
		seen[c.Name] = true
	}
	var results []Result
	for i, c := range cfgs {
		fmt.Fprintf(o.Log, "[%d/%d] %s: %s\n", i+1, len(cfgs), c.Name, c.Description)
		r, err := runOne(ctx, c, trainData, valData, testData, o)
		if err != nil {
			return results, fmt.Errorf("experiment %s: %w", c.Name, err)
		}
		fmt.Fprintf(o.Log, "[%d/%d] %s: validation accuracy %.4f, test accuracy %.4f, %d epochs, %.0f s\n",
			i+1, len(cfgs), c.Name, r.ValAccuracy, r.TestAccuracy, r.Epochs, r.TrainSeconds)
		results = append(results, r)
		if o.OnResult != nil {
			if err := o.OnResult(results); err != nil {
				return results, err
			}
		}
	}
	MarkBest(results)
	return results, nil
}

// MarkBest marks the result with the highest validation accuracy (the
// first of equals) as the best, and no other.
func MarkBest(results []Result) {
	best := 0
	for i := range results {
		results[i].Best = false
		if results[i].ValAccuracy > results[best].ValAccuracy {
			best = i
		}
	}
	if len(results) > 0 {
		results[best].Best = true
	}
}

// Merge returns the earlier results with those of the same name replaced
// by the newer ones, in their places, and the other newer results after
// them, the best marked again: a run of a few configurations adds to a
// results table instead of replacing it.
func Merge(earlier, newer []Result) []Result {
	idx := map[string]int{}
	out := append([]Result(nil), earlier...)
	for i, r := range out {
		idx[r.Name] = i
	}
	for _, r := range newer {
		if i, ok := idx[r.Name]; ok {
			out[i] = r
			continue
		}
		idx[r.Name] = len(out)
		out = append(out, r)
	}
	MarkBest(out)
	return out
}

func runOne(ctx context.Context, c Config, trainData, valData, testData graph.Data, o Options) (Result, error) {
	m, err := c.Build()
	if err != nil {
		return Result{}, err
	}
	opt, err := c.Training.Optimizer.Build()
	if err != nil {
		return Result{}, err
	}
	loss, err := train.LossByName(c.loss())
	if err != nil {
		return Result{}, err
	}
	if err := m.Compile(opt, loss); err != nil {
		return Result{}, err
	}
	var cbs []graph.Callback
	es, err := c.Training.earlyStopping()
	if err != nil {
		return Result{}, err
	}
	if es != nil {
		cbs = append(cbs, es)
	}
	sch, plateauCB, err := c.Training.Schedule.build()
	if err != nil {
		return Result{}, err
	}
	if plateauCB != nil {
		// Before EarlyStopping, as in Keras's usual order.
		cbs = append([]graph.Callback{plateauCB}, cbs...)
	}
	aug, err := c.Training.augmentation(c.seed())
	if err != nil {
		return Result{}, err
	}
	start := time.Now()
	h, err := m.FitContext(ctx, trainData, graph.FitOptions{
		Epochs: c.Training.Epochs, BatchSize: c.Training.BatchSize,
		ValidationData: &valData, Callbacks: cbs, Progress: o.Progress,
		Schedule: sch, Augment: aug,
	})
	if err != nil {
		return Result{}, err
	}
	secs := time.Since(start).Seconds()
	trainRep, err := m.Evaluate(trainData, 1000)
	if err != nil {
		return Result{}, err
	}
	val, err := m.Evaluate(valData, 1000)
	if err != nil {
		return Result{}, err
	}
	test, err := m.Evaluate(testData, 1000)
	if err != nil {
		return Result{}, err
	}
	tr, non := m.CountParams()
	r := Result{
		Name: c.Name, Description: c.Description, TrainAccuracy: trainRep.Accuracy, TrainLoss: trainRep.Loss,
		ValAccuracy: val.Accuracy, ValLoss: val.Loss,
		TestAccuracy: test.Accuracy, TestLoss: test.Loss, Params: tr + non, Epochs: m.State.Epoch,
		TrainSeconds: secs, History: h,
		Model:  filepath.Join(o.OutDir, c.Name+".safetensors"),
		Curves: filepath.Join(o.OutDir, c.Name+"-curves.png"),
	}
	if err := m.Save(r.Model); err != nil {
		return Result{}, err
	}
	if err := curves(r); err != nil {
		return Result{}, err
	}
	return r, nil
}
