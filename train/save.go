package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/capa-ml/capa/formats/safetensors"
	"github.com/capa-ml/capa/graph"
)

// FormatVersion is the version of Capa's model files that this build
// writes; it reads this version and older ones.
const FormatVersion = 1

// ErrVersion is returned when a model file was written by a newer Capa.
var ErrVersion = errors.New("train: model file format version not supported")

// ErrNotModel is returned when a safetensors file is not a Capa model.
var ErrNotModel = errors.New("train: not a Capa model file")

// Metadata keys of a Capa model file. A model file is a safetensors file:
// each weight is a float32 tensor under its parameter name
// ("conv2d/kernel"), each optimizer slot under "optimizer/<slot>/<param>",
// and the metadata holds JSON documents.
const (
	MetaFormat   = "format"         // "capa"
	MetaVersion  = "format_version" // FormatVersion, decimal
	MetaModel    = "model"          // graph.ModelSpec as JSON
	MetaTraining = "training"       // trainingSpec as JSON, if compiled
)

type trainingSpec struct {
	Optimizer OptimizerSpec     `json:"optimizer"`
	Loss      string            `json:"loss"`
	State     State             `json:"state"`
	Shuffle   []byte            `json:"shuffle_state"`
	Random    map[string][]byte `json:"random_state,omitempty"`
	// Extra is free-form configuration of the caller (such as the command
	// line that started the run), saved and loaded untouched.
	Extra map[string]string `json:"extra,omitempty"`
}

// Save writes the trainer, model, optimizer state and training state,
// to path atomically: a crash never leaves a partial file at path.
func Save(path string, t *Trainer) error {
	return save(path, t.Model, t)
}

// SaveModel writes a model that has no trainer (architecture and weights).
func SaveModel(path string, m *graph.Model) error { return save(path, m, nil) }

func save(path string, m *graph.Model, t *Trainer) error {
	spec, err := m.Spec()
	if err != nil {
		return err
	}
	arch, err := json.Marshal(spec)
	if err != nil {
		return fmt.Errorf("train: save %s: %w", path, err)
	}
	meta := map[string]string{MetaFormat: "capa", MetaVersion: strconv.Itoa(FormatVersion), MetaModel: string(arch)}
	tensors := map[string]safetensors.Tensor{}
	for _, p := range m.Params() {
		tensors[p.Name] = safetensors.F32(p.Shape(), p.Data())
	}
	if t != nil {
		os, err := optimizerSpec(t.Optimizer)
		if err != nil {
			return err
		}
		ts := trainingSpec{Optimizer: os, Loss: t.Loss.Name(), State: t.State, Extra: t.Extra}
		if ts.Shuffle, err = t.shuffle.MarshalBinary(); err != nil {
			return err
		}
		if ts.Random, err = m.RandomState(); err != nil {
			return err
		}
		b, err := json.Marshal(ts)
		if err != nil {
			return fmt.Errorf("train: save %s: %w", path, err)
		}
		meta[MetaTraining] = string(b)
		names := t.Optimizer.Slots()
		for pname, slots := range t.slots {
			p, err := m.Param(pname)
			if err != nil {
				return err
			}
			for i, s := range slots {
				tensors["optimizer/"+names[i]+"/"+pname] = safetensors.F32(p.Shape(), s)
			}
		}
	}
	if err := safetensors.WriteFile(path, tensors, meta); err != nil {
		return fmt.Errorf("train: save model: %w", err)
	}
	return nil
}

// Load reads a model file written by Save or SaveModel. The trainer is nil
// when the file holds no training state; otherwise it resumes exactly where
// the saved one stood (epoch, batch, optimizer slots, random generators).
func Load(path string) (*graph.Model, *Trainer, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("train: load: %w", err) // the error names the path
	}
	if f.Metadata[MetaFormat] != "capa" {
		return nil, nil, fmt.Errorf("train: load %s: %w (no \"format\": \"capa\" in its metadata)", path, ErrNotModel)
	}
	v, err := strconv.Atoi(f.Metadata[MetaVersion])
	if err != nil || v < 1 {
		return nil, nil, fmt.Errorf("train: load %s: %w: bad format_version %q", path, ErrNotModel, f.Metadata[MetaVersion])
	}
	if v > FormatVersion {
		return nil, nil, fmt.Errorf("train: load %s: %w: the file is version %d, this Capa reads up to %d: upgrade Capa", path, ErrVersion, v, FormatVersion)
	}
	var spec graph.ModelSpec
	if err := json.Unmarshal([]byte(f.Metadata[MetaModel]), &spec); err != nil {
		return nil, nil, fmt.Errorf("train: load %s: model architecture: %w", path, err)
	}
	m, err := spec.Build()
	if err != nil {
		return nil, nil, fmt.Errorf("train: load %s: %w", path, err)
	}
	used := map[string]bool{}
	for _, p := range m.Params() {
		if err := loadInto(f, p.Name, p.Shape(), p.Data()); err != nil {
			return nil, nil, fmt.Errorf("train: load %s: %w", path, err)
		}
		used[p.Name] = true
	}
	raw, ok := f.Metadata[MetaTraining]
	if !ok {
		return m, nil, checkUnused(f, used, path)
	}
	var ts trainingSpec
	if err := json.Unmarshal([]byte(raw), &ts); err != nil {
		return nil, nil, fmt.Errorf("train: load %s: training state: %w", path, err)
	}
	opt, err := ts.Optimizer.Build()
	if err != nil {
		return nil, nil, fmt.Errorf("train: load %s: %w", path, err)
	}
	loss, err := LossByName(ts.Loss)
	if err != nil {
		return nil, nil, fmt.Errorf("train: load %s: %w", path, err)
	}
	t, err := Compile(m, opt, loss)
	if err != nil {
		return nil, nil, fmt.Errorf("train: load %s: %w", path, err)
	}
	t.State = ts.State
	if t.State.History == nil {
		t.State.History = History{}
	}
	t.Extra = ts.Extra
	if err := t.shuffle.UnmarshalBinary(ts.Shuffle); err != nil {
		return nil, nil, fmt.Errorf("train: load %s: shuffle state: %w", path, err)
	}
	if err := m.SetRandomState(ts.Random); err != nil {
		return nil, nil, fmt.Errorf("train: load %s: %w", path, err)
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
			return nil, nil, fmt.Errorf("train: load %s: tensor %q is no slot of %s for a weight of this model", path, name, opt.Class())
		}
		slots := t.slotsOf(p)
		if err := loadInto(f, name, p.Shape(), slots[idx]); err != nil {
			return nil, nil, fmt.Errorf("train: load %s: %w", path, err)
		}
		used[name] = true
	}
	return m, t, checkUnused(f, used, path)
}

func loadInto(f *safetensors.File, name string, shape []int, dst []float32) error {
	t, ok := f.Tensors[name]
	if !ok {
		return fmt.Errorf("weight %q is missing from the file", name)
	}
	if !graph.Shape(t.Shape).Equal(shape) {
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
			return fmt.Errorf("train: load %s: tensor %q matches no weight of the model", path, n)
		}
	}
	return nil
}
