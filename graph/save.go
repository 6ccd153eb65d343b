package graph

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/capa-ml/capa/formats/safetensors"
)

// FormatVersion is the version of Capa's model files that this build
// writes; it reads this version and older ones. Version 2 writes layer
// configurations in Keras's keys with every default explicit ("use_bias",
// "trainable", initializers as {"class_name", "config"}); version 1 wrote
// Capa's keys ("no_bias", "frozen") and omitted defaults. Version 3 adds
// Functional models (every layer with its "inbound_nodes", the model's
// "input_layers" and "output_layers", as Keras's functional config);
// Sequential models are still written as version 2, so that older Capas
// read them.
const FormatVersion = 3

// sequentialVersion is the version written for Sequential models.
const sequentialVersion = 2

// ErrVersion is returned when a model file was written by a newer Capa.
var ErrVersion = errors.New("graph: model file format version not supported")

// ErrNotModel is returned when a safetensors file is not a Capa model.
var ErrNotModel = errors.New("graph: not a Capa model file")

// Metadata keys of a Capa model file. A model file is a safetensors file:
// each weight is a float32 tensor under its parameter name
// ("conv2d/kernel"), each optimizer slot under "optimizer/<slot>/<param>",
// and the metadata holds JSON documents.
const (
	MetaFormat   = "format"         // "capa"
	MetaVersion  = "format_version" // FormatVersion, decimal
	MetaModel    = "model"          // ModelSpec as JSON
	MetaTraining = "training"       // trainingSpec as JSON, if compiled
)

type trainingSpec struct {
	Optimizer OptimizerSpec `json:"optimizer"`
	Loss      string        `json:"loss"`
	// LossConfig is the loss's Keras config ({"from_logits": false});
	// absent in files of format version 1, which mean the defaults.
	LossConfig json.RawMessage   `json:"loss_config,omitempty"`
	State      State             `json:"state"`
	Shuffle    []byte            `json:"shuffle_state"`
	Random     map[string][]byte `json:"random_state,omitempty"`
	// Extra is free-form configuration of the caller (such as the command
	// line that started the run), saved and loaded untouched.
	Extra map[string]string `json:"extra,omitempty"`
}

// Save writes the whole model to path, atomically (a crash never leaves a
// partial file at path): architecture and weights and, when the model is
// compiled with an optimizer, the optimizer, its slots and the training
// state, so that Load resumes training exactly where it stood. Keras's
// model.save.
func (m *Model) Save(path string, opts ...SaveOption) error {
	var o saveOptions
	for _, f := range opts {
		f(&o)
	}
	spec, err := m.Spec()
	if err != nil {
		return err
	}
	arch, err := json.Marshal(spec)
	if err != nil {
		return fmt.Errorf("graph: save %s: %w", path, err)
	}
	version := FormatVersion
	if !m.functional {
		version = sequentialVersion
	}
	meta := map[string]string{MetaFormat: "capa", MetaVersion: strconv.Itoa(version), MetaModel: string(arch)}
	tensors := map[string]safetensors.Tensor{}
	for _, p := range m.Params() {
		tensors[p.Name] = safetensors.F32(p.Shape(), p.Data())
	}
	if opt := m.Optimizer(); opt != nil && !o.noOptimizer {
		os, err := SpecOfOptimizer(opt)
		if err != nil {
			return err
		}
		lc, err := LossConfig(m.Loss())
		if err != nil {
			return err
		}
		ts := trainingSpec{Optimizer: os, Loss: m.Loss().Name(), LossConfig: lc, State: m.State, Extra: m.Extra}
		if ts.Shuffle, err = m.ShuffleState(); err != nil {
			return err
		}
		if ts.Random, err = m.RandomState(); err != nil {
			return err
		}
		b, err := json.Marshal(ts)
		if err != nil {
			return fmt.Errorf("graph: save %s: %w", path, err)
		}
		meta[MetaTraining] = string(b)
		names := opt.Slots()
		for _, p := range m.Params() {
			slots, ok := m.SlotsOf(p)
			if !ok {
				continue
			}
			for i, s := range slots {
				tensors["optimizer/"+names[i]+"/"+p.Name] = safetensors.F32(p.Shape(), s)
			}
		}
	}
	if err := safetensors.WriteFile(path, tensors, meta); err != nil {
		return fmt.Errorf("graph: save model: %w", err)
	}
	return nil
}

// A SaveOption changes what Save writes.
type SaveOption func(*saveOptions)

type saveOptions struct{ noOptimizer bool }

// WithoutOptimizer makes Save write the architecture and the weights only,
// as Keras's include_optimizer=False: the file loads uncompiled.
func WithoutOptimizer() SaveOption { return func(o *saveOptions) { o.noOptimizer = true } }

// Load reads a model file written by Save. A file with training state
// comes back compiled, resuming exactly where the saved model stood (epoch,
// batch, optimizer slots, random generators); otherwise the model is not
// compiled (Predict needs no Compile; compile it to evaluate or train).
// Load knows the layers, optimizers and losses registered with this
// package; capa.Load, the front door, imports every package of Capa that
// registers some, so that any file Capa writes loads with no side-effect
// import.
//
// The architecture is checked before any weight is allocated: every layer's
// configuration, every shape, the weights' names and shapes against the
// tensors the file holds, and the totals against DefaultLimits (or the
// limits given WithLimits).
func Load(path string, opts ...LoadOption) (*Model, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("graph: load: %w", err) // the error names the path
	}
	return fromFile(f, path, opts)
}

// A LoadOption changes how Load and ReadModel build a model.
type LoadOption func(*loadOptions)

type loadOptions struct{ limits Limits }

// WithLimits makes Load check the architecture against lim instead of
// DefaultLimits (a zero field keeps the default).
func WithLimits(lim Limits) LoadOption {
	return func(o *loadOptions) {
		if lim.MaxParams > 0 {
			o.limits.MaxParams = lim.MaxParams
		}
		if lim.MaxActivations > 0 {
			o.limits.MaxActivations = lim.MaxActivations
		}
	}
}

// ReadModel reads a model file of size bytes from r, as Load does (name
// stands for the path in errors). Memory for the weights is allocated as
// the bytes arrive, so a size larger than r holds is reported as truncated.
func ReadModel(r io.Reader, size int64, name string, opts ...LoadOption) (*Model, error) {
	f, err := safetensors.Read(r, size)
	if err != nil {
		return nil, fmt.Errorf("graph: load %s: %w", name, err)
	}
	return fromFile(f, name, opts)
}

// fromFile makes the model of a model file read from path.
func fromFile(f *safetensors.File, path string, opts []LoadOption) (*Model, error) {
	o := loadOptions{limits: DefaultLimits}
	for _, fn := range opts {
		fn(&o)
	}
	if f.Metadata[MetaFormat] != "capa" {
		return nil, fmt.Errorf("graph: load %s: %w (no \"format\": \"capa\" in its metadata)", path, ErrNotModel)
	}
	v, err := strconv.Atoi(f.Metadata[MetaVersion])
	if err != nil || v < 1 {
		return nil, fmt.Errorf("graph: load %s: %w: bad format_version %q", path, ErrNotModel, f.Metadata[MetaVersion])
	}
	if v > FormatVersion {
		return nil, fmt.Errorf("graph: load %s: %w: the file is version %d, this Capa reads up to %d: upgrade Capa", path, ErrVersion, v, FormatVersion)
	}
	var spec ModelSpec
	if err := json.Unmarshal([]byte(f.Metadata[MetaModel]), &spec); err != nil {
		return nil, fmt.Errorf("graph: load %s: model architecture: %w", path, err)
	}
	// Validate, then allocate: the architecture is built with its weights
	// declared, not allocated, and checked against the file's tensors.
	m, err := spec.build(o.limits, true)
	if err != nil {
		return nil, fmt.Errorf("graph: load %s: %w", path, err)
	}
	for _, p := range m.Params() {
		t, ok := f.Tensors[p.Name]
		if !ok {
			return nil, fmt.Errorf("graph: load %s: weight %q of layer architecture is missing from the file", path, p.Name)
		}
		if !Shape(t.Shape).Equal(p.shape) {
			return nil, fmt.Errorf("graph: load %s: weight %q has shape %v in the file, the architecture needs %v", path, p.Name, t.Shape, p.shape)
		}
	}
	m.allocate(false)
	used := map[string]bool{}
	for _, p := range m.Params() {
		if err := loadInto(f, p.Name, p.Shape(), p.Data()); err != nil {
			return nil, fmt.Errorf("graph: load %s: %w", path, err)
		}
		used[p.Name] = true
	}
	raw, ok := f.Metadata[MetaTraining]
	if !ok {
		return m, checkUnused(f, used, path)
	}
	var ts trainingSpec
	if err := json.Unmarshal([]byte(raw), &ts); err != nil {
		return nil, fmt.Errorf("graph: load %s: training state: %w", path, err)
	}
	opt, err := ts.Optimizer.Build()
	if err != nil {
		return nil, fmt.Errorf("graph: load %s: %w", path, err)
	}
	loss, err := LossFromConfig(ts.Loss, ts.LossConfig)
	if err != nil {
		return nil, fmt.Errorf("graph: load %s: %w", path, err)
	}
	if err := m.Compile(opt, loss); err != nil {
		return nil, fmt.Errorf("graph: load %s: %w", path, err)
	}
	m.State = ts.State
	if m.State.History == nil {
		m.State.History = History{}
	}
	m.Extra = ts.Extra
	if err := m.SetShuffleState(ts.Shuffle); err != nil {
		return nil, fmt.Errorf("graph: load %s: shuffle state: %w", path, err)
	}
	if err := m.SetRandomState(ts.Random); err != nil {
		return nil, fmt.Errorf("graph: load %s: %w", path, err)
	}
	for _, name := range f.Names() {
		rest, ok := strings.CutPrefix(name, "optimizer/")
		if !ok {
			continue
		}
		slot, pname, ok := strings.Cut(rest, "/")
		idx := -1
		for i, s := range opt.Slots() {
			if s == slot {
				idx = i
			}
		}
		p, err := m.Param(pname)
		if !ok || idx < 0 || err != nil {
			return nil, fmt.Errorf("graph: load %s: tensor %q is no slot of %s for a weight of this model", path, name, opt.Class())
		}
		slots := m.OptimizerSlots(p)
		if err := loadInto(f, name, p.Shape(), slots[idx]); err != nil {
			return nil, fmt.Errorf("graph: load %s: %w", path, err)
		}
		used[name] = true
	}
	return m, checkUnused(f, used, path)
}

func loadInto(f *safetensors.File, name string, shape []int, dst []float32) error {
	t, ok := f.Tensors[name]
	if !ok {
		return fmt.Errorf("weight %q is missing from the file", name)
	}
	if !Shape(t.Shape).Equal(shape) {
		return fmt.Errorf("weight %q has shape %v in the file, the model needs %v", name, t.Shape, shape)
	}
	v, err := t.Float32()
	if err != nil {
		return fmt.Errorf("weight %q: %w", name, err)
	}
	copy(dst, v)
	return nil
}

func checkUnused(f *safetensors.File, used map[string]bool, path string) error {
	for _, n := range f.Names() {
		if !used[n] {
			return fmt.Errorf("graph: load %s: tensor %q matches no weight of the model", path, n)
		}
	}
	return nil
}
