package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/capa-ml/capa/formats/safetensors"
	"github.com/capa-ml/capa/graph"
)

// utTrained returns a trainer of a model with every kind of weight
// (trainable, frozen, BatchNormalization statistics, dropout state) after
// one epoch with Adam.
func utTrained(t *testing.T) (*graph.Model, graph.Data) {
	t.Helper()
	m, err := graph.SequentialSeed(8, graph.Input(4, 4, 1),
		&graph.Conv2D{Filters: 3, KernelSize: [2]int{3, 3}, Padding: "same", Activation: "relu", KernelRegularizer: graph.L2(1e-3)},
		&graph.BatchNormalization{},
		&graph.MaxPooling2D{},
		&graph.Flatten{},
		&graph.Dense{Units: 6, Activation: "tanh", Base: graph.Base{Frozen: true}},
		&graph.Dropout{Rate: 0.3},
		&graph.Dense{Units: 3, Activation: "softmax"})
	if err != nil {
		t.Fatal(err)
	}
	tr := utCompile(t, m, &Adam{LearningRate: 0.01, WeightDecay: 1e-3})
	tr.Extra = map[string]string{"cmd": "capa train --epochs 2"}
	d := utData(20, 16, 31)
	utFit(t, tr, d, graph.FitOptions{BatchSize: 6})
	return tr, d
}

func TestSaveLoadRoundTrip(t *testing.T) {
	tr, d := utTrained(t)
	path := filepath.Join(t.TempDir(), "m.capa")
	if err := tr.Save(path); err != nil {
		t.Fatal(err)
	}
	m2, err := graph.Load(path)
	tr2 := m2
	if err != nil {
		t.Fatal(err)
	}
	if tr2.Optimizer() == nil {
		t.Fatal("Load of a compiled model returned no trainer")
	}
	if m2.Summary() != tr.Summary() {
		t.Errorf("summary:\n%s\nwant:\n%s", m2.Summary(), tr.Summary())
	}
	utSameWeights(t, "loaded", m2, utWeights(tr))
	for i, p := range tr.Params() {
		q := m2.Params()[i]
		if p.Trainable != q.Trainable || p.IsStatistic() != q.IsStatistic() || !reflect.DeepEqual(p.Regularizer, q.Regularizer) {
			t.Errorf("%s: trainable %v/%v statistic %v/%v regularizer %v/%v", p.Name, p.Trainable, q.Trainable, p.IsStatistic(), q.IsStatistic(), p.Regularizer, q.Regularizer)
		}
	}
	if len(utSlots(tr)) == 0 || len(utSlots(tr)) != len(utSlots(tr2)) {
		t.Fatalf("%d optimizer slot sets, loaded %d", len(utSlots(tr)), len(utSlots(tr2)))
	}
	for name, s := range utSlots(tr) {
		for i := range s {
			if !utBitEqual(s[i], utSlots(tr2)[name][i]) {
				t.Errorf("optimizer slot %d of %s differs", i, name)
			}
		}
	}
	// The loaded optimizer holds the values the saved one ran with, every
	// default explicit.
	o1, _ := json.Marshal(tr.Optimizer())
	o2, _ := json.Marshal(tr2.Optimizer())
	if string(o1) != string(o2) || tr2.Loss().Name() != tr.Loss().Name() {
		t.Errorf("optimizer %#v loss %s, want %#v %s", tr2.Optimizer(), tr2.Loss().Name(), tr.Optimizer(), tr.Loss().Name())
	}
	if !reflect.DeepEqual(tr.State, tr2.State) {
		t.Errorf("state %+v, want %+v", tr2.State, tr.State)
	}
	if !reflect.DeepEqual(tr.Extra, tr2.Extra) {
		t.Errorf("extra %v, want %v", tr2.Extra, tr.Extra)
	}
	rs1, _ := tr.RandomState()
	rs2, _ := m2.RandomState()
	if !reflect.DeepEqual(rs1, rs2) {
		t.Error("dropout random state differs")
	}
	r1, err := tr.Evaluate(d, 7)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := tr2.Evaluate(d, 7)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r1, r2) {
		t.Errorf("evaluate after load %+v, before %+v", r2, r1)
	}
}

func TestSaveLoadContinue(t *testing.T) {
	straight, d := utTrained(t)
	utFit(t, straight, d, graph.FitOptions{BatchSize: 6})

	tr, _ := utTrained(t)
	path := filepath.Join(t.TempDir(), "m.capa")
	if err := tr.Save(path); err != nil {
		t.Fatal(err)
	}
	tr2, err := graph.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	utFit(t, tr2, d, graph.FitOptions{BatchSize: 6})
	utSameWeights(t, "save, load, one more epoch", tr2, utWeights(straight))
	utSameHistory(t, straight.State.History, tr2.State.History)
	if tr2.State.Epoch != 2 || tr2.State.Step != straight.State.Step {
		t.Errorf("state %+v, straight %+v", tr2.State, straight.State)
	}
}

func TestSaveModelUncompiled(t *testing.T) {
	m := utMLP(t, 4, true)
	path := filepath.Join(t.TempDir(), "m.capa")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	m2, err := graph.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if m2.Compiled() {
		t.Errorf("uncompiled model loaded compiled, with %v", m2.Optimizer())
	}
	utSameWeights(t, "SaveModel", m2, utWeights(m))
	if m2.Summary() != m.Summary() {
		t.Error("summary differs")
	}
	x := utData(5, 4, 1).X
	a, _ := m.Predict(x, 2)
	b, _ := m2.Predict(x, 2)
	if !utBitEqual(a, b) {
		t.Error("predictions differ")
	}
}

// utRewrite reads the model file at src, lets edit change its tensors and
// metadata, and writes the result to a new file, whose path it returns.
func utRewrite(t *testing.T, src string, edit func(tensors map[string]safetensors.Tensor, meta map[string]string)) string {
	t.Helper()
	f, err := safetensors.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	edit(f.Tensors, f.Metadata)
	dst := filepath.Join(t.TempDir(), "edited.capa")
	if err := safetensors.WriteFile(dst, f.Tensors, f.Metadata); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestLoadErrors(t *testing.T) {
	tr, _ := utTrained(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.capa")
	if err := tr.Save(good); err != nil {
		t.Fatal(err)
	}

	// A newer format version.
	p := utRewrite(t, good, func(_ map[string]safetensors.Tensor, meta map[string]string) {
		meta[graph.MetaVersion] = strconv.Itoa(graph.FormatVersion + 1)
	})
	_, err := graph.Load(p)
	if !errors.Is(err, graph.ErrVersion) {
		t.Errorf("format_version 2: %v, want graph.ErrVersion", err)
	}
	utWantErr(t, "format_version 2", err, fmt.Sprintf("version %d", graph.FormatVersion+1), strconv.Itoa(graph.FormatVersion))

	// Not a Capa file.
	p = filepath.Join(dir, "plain.safetensors")
	if err := safetensors.WriteFile(p, map[string]safetensors.Tensor{"w": safetensors.F32([]int{2}, []float32{1, 2})}, nil); err != nil {
		t.Fatal(err)
	}
	_, err = graph.Load(p)
	if !errors.Is(err, graph.ErrNotModel) {
		t.Errorf("plain safetensors: %v, want graph.ErrNotModel", err)
	}
	p = utRewrite(t, good, func(_ map[string]safetensors.Tensor, meta map[string]string) { meta[graph.MetaFormat] = "keras" })
	if _, err = graph.Load(p); !errors.Is(err, graph.ErrNotModel) {
		t.Errorf("format keras: %v, want graph.ErrNotModel", err)
	}
	p = utRewrite(t, good, func(_ map[string]safetensors.Tensor, meta map[string]string) { meta[graph.MetaVersion] = "one" })
	if _, err = graph.Load(p); !errors.Is(err, graph.ErrNotModel) {
		t.Errorf("format_version one: %v, want graph.ErrNotModel", err)
	}

	// Truncated.
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{len(b) - 4, len(b) / 2, 20, 4} {
		p = filepath.Join(dir, "truncated.capa")
		if err := os.WriteFile(p, b[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = graph.Load(p)
		utWantErr(t, "truncated", err, p)
		if !errors.Is(err, safetensors.ErrFormat) {
			t.Errorf("truncated to %d bytes: %v, want safetensors.ErrFormat", n, err)
		}
		if n == len(b)-4 {
			// The data buffer is short: the error names the tensor.
			utWantErr(t, "truncated data", err, `tensor "`)
		}
	}
	_, err = graph.Load(filepath.Join(dir, "missing.capa"))
	utWantErr(t, "no such file", err, "missing.capa")

	for _, c := range []struct {
		what string
		edit func(map[string]safetensors.Tensor, map[string]string)
		want []string
	}{
		{"wrong shape", func(ts map[string]safetensors.Tensor, _ map[string]string) {
			ts["dense_1/kernel"] = safetensors.F32([]int{3, 6}, make([]float32, 18))
		}, []string{`"dense_1/kernel"`, "[3 6]", "[6 3]"}},
		{"missing weight", func(ts map[string]safetensors.Tensor, _ map[string]string) {
			delete(ts, "batch_normalization/moving_mean")
		}, []string{`"batch_normalization/moving_mean"`, "missing"}},
		{"extra tensor", func(ts map[string]safetensors.Tensor, _ map[string]string) {
			ts["dense_9/kernel"] = safetensors.F32([]int{1}, []float32{1})
		}, []string{`"dense_9/kernel"`, "no weight"}},
		{"wrong dtype", func(ts map[string]safetensors.Tensor, _ map[string]string) {
			ts["conv2d/bias"] = safetensors.F64([]int{3}, []float64{1, 2, 3})
		}, []string{`"conv2d/bias"`}},
		{"slot of a missing weight", func(ts map[string]safetensors.Tensor, _ map[string]string) {
			ts["optimizer/m/dense_9/kernel"] = safetensors.F32([]int{1}, []float32{1})
		}, []string{`"optimizer/m/dense_9/kernel"`}},
		{"unknown slot", func(ts map[string]safetensors.Tensor, _ map[string]string) {
			ts["optimizer/momentum/conv2d/bias"] = safetensors.F32([]int{3}, []float32{1, 2, 3})
		}, []string{`"optimizer/momentum/conv2d/bias"`, "Adam"}},
		{"wrong-shaped slot", func(ts map[string]safetensors.Tensor, _ map[string]string) {
			ts["optimizer/v/conv2d/bias"] = safetensors.F32([]int{4}, []float32{1, 2, 3, 4})
		}, []string{`"optimizer/v/conv2d/bias"`, "[4]", "[3]"}},
		{"bad architecture", func(_ map[string]safetensors.Tensor, meta map[string]string) {
			meta[graph.MetaModel] = `{"name": "x", "layers": [`
		}, []string{"architecture"}},
		{"unknown layer", func(_ map[string]safetensors.Tensor, meta map[string]string) {
			meta[graph.MetaModel] = strings.Replace(meta[graph.MetaModel], `"Flatten"`, `"Flatten3D"`, 1)
		}, []string{`"Flatten3D"`}},
		{"bad training state", func(_ map[string]safetensors.Tensor, meta map[string]string) {
			meta[graph.MetaTraining] = `{"optimizer": 3}`
		}, []string{"training state"}},
		{"unknown loss", func(_ map[string]safetensors.Tensor, meta map[string]string) {
			meta[graph.MetaTraining] = strings.Replace(meta[graph.MetaTraining], `"sparse_categorical_crossentropy"`, `"hinge"`, 1)
		}, []string{`"hinge"`}},
	} {
		p := utRewrite(t, good, c.edit)
		_, err := graph.Load(p)
		utWantErr(t, c.what, err, append(c.want, p)...)
	}
}

func TestSaveAtomic(t *testing.T) {
	tr, _ := utTrained(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "m.capa")
	if err := tr.Save(path); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Saving over an existing file replaces it.
	utFit(t, tr, utData(20, 16, 31), graph.FitOptions{BatchSize: 6})
	if err := tr.Save(path); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(path)
	if string(after) == string(before) {
		t.Error("the second save did not replace the file")
	}
	// A save that fails (the path names a directory) leaves the directory
	// and its contents alone, and leaves no temporary file behind.
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "keep"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := tr.Save(sub); err == nil {
		t.Error("Save into a directory path succeeded")
	}
	if b, err := os.ReadFile(filepath.Join(sub, "keep")); err != nil || string(b) != "x" {
		t.Errorf("directory contents changed: %q %v", b, err)
	}
	// A save that fails under an existing file leaves it intact.
	if err := tr.Save(filepath.Join(path, "x")); err == nil {
		t.Error("Save under a file succeeded")
	}
	if b, _ := os.ReadFile(path); string(b) != string(after) {
		t.Error("a failed save changed the previous file")
	}
	if _, err := graph.Load(path); err != nil {
		t.Errorf("the previous file no longer loads: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 2 {
		t.Errorf("directory holds %v, want only m.capa and sub", names)
	}
}

// TestCheckpointBestOnly checks ModelCheckpoint with SaveBestOnly.
func TestCheckpointBestOnly(t *testing.T) {
	d := utData(32, 4, 6)
	val := graph.Data{X: d.X, Y: make([]float32, 32), N: 32}
	for i, y := range d.Y {
		val.Y[i] = float32((int(y) + 1) % 3) // val_loss rises as training goes
	}
	path := filepath.Join(t.TempDir(), "best.capa")
	tr := utCompile(t, utMLP(t, 1, false), &Adam{LearningRate: 0.05})
	rec := &utRecorder{}
	ck := &ModelCheckpoint{Path: path, SaveBestOnly: true}
	h := utFit(t, tr, d, graph.FitOptions{Epochs: 6, BatchSize: 32, ValidationData: &val, Callbacks: []graph.Callback{rec, ck}})
	best := 0
	for i, v := range h["val_loss"] {
		if v < h["val_loss"][best] {
			best = i
		}
	}
	m, err := graph.Load(path)
	tr2 := m
	if err != nil {
		t.Fatal(err)
	}
	utSameWeights(t, "best checkpoint", m, rec.weights[best])
	if tr2.State.Epoch != best+1 {
		t.Errorf("checkpoint at epoch %d, best %d", tr2.State.Epoch, best+1)
	}
	// Interrupting a SaveBestOnly run does not overwrite the best file.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	before, _ := os.ReadFile(path)
	_, err = tr.FitContext(ctx, d, graph.FitOptions{Epochs: 2, BatchSize: 8, ValidationData: &val, Callbacks: []graph.Callback{ck}, Progress: io.Discard})
	if !errors.Is(err, graph.ErrInterrupted) {
		t.Fatalf("%v, want graph.ErrInterrupted", err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("an interrupted SaveBestOnly run overwrote the best checkpoint")
	}
}

// TestCheckpointFailureGoesOn checks that a checkpoint that cannot be
// written is reported and the run goes on, and that the next epoch retries.
func TestCheckpointFailureGoesOn(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "later")
	var log strings.Builder
	ck := &ModelCheckpoint{Path: filepath.Join(sub, "ck.safetensors"), Log: &log}
	m := utCompile(t, utMLP(t, 1, false), &Adam{LearningRate: 0.01})
	mk := &mkdirAfter{dir: sub, epoch: 2}
	d := utData(32, 4, 3)
	h := utFit(t, m, d, graph.FitOptions{Epochs: 3, BatchSize: 8, Callbacks: []graph.Callback{mk, ck}})
	if len(h["loss"]) != 3 {
		t.Fatalf("the run stopped after %d epochs", len(h["loss"]))
	}
	if ck.Failures != 2 || !strings.Contains(log.String(), "could not write "+ck.Path) {
		t.Errorf("%d failures, log %q", ck.Failures, log.String())
	}
	m2, err := graph.Load(ck.Path)
	if err != nil || m2.State.Epoch != 3 {
		t.Fatalf("the third epoch's checkpoint: %v", err)
	}
}

// mkdirAfter creates dir at the end of the given epoch.
type mkdirAfter struct {
	dir   string
	epoch int
}

func (c *mkdirAfter) OnEpochEnd(m *graph.Model, _ graph.Logs) error {
	if m.State.Epoch == c.epoch+1 {
		return os.MkdirAll(c.dir, 0o755)
	}
	return nil
}
