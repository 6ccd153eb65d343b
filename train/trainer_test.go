package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/capa-ml/capa/graph"
)

// Tiny models and synthetic data: every test here runs in well under a
// second.

// utMLP is Input(4) -> Dense(8, relu) -> [Dropout(0.3)] -> Dense(3, softmax).
func utMLP(t *testing.T, seed uint64, dropout bool, extra ...graph.Layer) *graph.Model {
	t.Helper()
	ls := []graph.Layer{graph.Input(4), &graph.Dense{Units: 8, Activation: "relu"}}
	if dropout {
		ls = append(ls, &graph.Dropout{Rate: 0.3})
	}
	ls = append(ls, extra...)
	ls = append(ls, &graph.Dense{Units: 3, Activation: "softmax"})
	m, err := graph.SequentialSeed(seed, ls...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// utCNN is Input(4, 4, 1) -> Conv2D(3, 3x3, relu) -> Flatten -> Dropout(0.3)
// -> Dense(3, softmax).
func utCNN(t *testing.T, seed uint64) *graph.Model {
	t.Helper()
	m, err := graph.SequentialSeed(seed, graph.Input(4, 4, 1),
		&graph.Conv2D{Filters: 3, KernelSize: [2]int{3, 3}, Activation: "relu"},
		&graph.Flatten{},
		&graph.Dropout{Rate: 0.3},
		&graph.Dense{Units: 3, Activation: "softmax"})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// utData returns n samples of size values uniform in [-1, 1) labelled with
// the argmax of a fixed linear map to 3 classes: a learnable problem.
func utData(n, size int, seed uint64) graph.Data {
	rng := rand.New(rand.NewPCG(seed, 99))
	w := make([]float64, size*3)
	wr := rand.New(rand.NewPCG(12345, 1))
	for i := range w {
		w[i] = wr.Float64()*2 - 1
	}
	d := graph.Data{X: make([]float32, n*size), Y: make([]float32, n), N: n}
	for i := 0; i < n; i++ {
		var z [3]float64
		for j := 0; j < size; j++ {
			x := rng.Float64()*2 - 1
			d.X[i*size+j] = float32(x)
			for k := range z {
				z[k] += x * w[j*3+k]
			}
		}
		best := 0
		for k := range z {
			if z[k] > z[best] {
				best = k
			}
		}
		d.Y[i] = float32(best)
	}
	return d
}

func utCompile(t *testing.T, m *graph.Model, o graph.Optimizer) *graph.Model {
	t.Helper()
	tr, err := utCompile2(m, o, SparseCategoricalCrossentropy{})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func utFit(t *testing.T, tr *graph.Model, d graph.Data, o graph.FitOptions) graph.History {
	t.Helper()
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	h, err := tr.FitContext(context.Background(), d, o)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// utWeights copies every weight of m.
func utWeights(m *graph.Model) map[string][]float32 { return snapshot(m) }

func utBitEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// utSameWeights fails unless m's weights equal w bit for bit.
func utSameWeights(t *testing.T, what string, m *graph.Model, w map[string][]float32) {
	t.Helper()
	if len(m.Params()) != len(w) {
		t.Fatalf("%s: %d weights, want %d", what, len(m.Params()), len(w))
	}
	for _, p := range m.Params() {
		if !utBitEqual(p.Data(), w[p.Name]) {
			t.Errorf("%s: weight %s differs", what, p.Name)
		}
	}
}

func TestFitLearns(t *testing.T) {
	d := utData(64, 4, 1)
	tr := utCompile(t, utMLP(t, 1, true), &Adam{LearningRate: 0.03})
	h := utFit(t, tr, d, graph.FitOptions{Epochs: 15, BatchSize: 16})
	loss, acc := h["loss"], h["accuracy"]
	if len(loss) != 15 || len(acc) != 15 || len(h["seconds"]) != 15 {
		t.Fatalf("history %v", h)
	}
	if !(loss[14] < 0.7*loss[0]) {
		t.Errorf("loss did not decrease: %v", loss)
	}
	if acc[14] < 0.8 {
		t.Errorf("accuracy %v after 15 epochs", acc)
	}
	if tr.State.Epoch != 15 || tr.State.Step != 15*4 || tr.State.Batch != 0 {
		t.Errorf("state %+v", tr.State)
	}
	r, err := tr.Evaluate(d, 10)
	if err != nil {
		t.Fatal(err)
	}
	if r.Accuracy < 0.8 {
		t.Errorf("evaluate accuracy %v", r.Accuracy)
	}
}

func TestFitPartialLastBatch(t *testing.T) {
	d := utData(10, 4, 2)
	tr := utCompile(t, utMLP(t, 1, false), &SGD{LearningRate: 0.1})
	utFit(t, tr, d, graph.FitOptions{BatchSize: 4})
	if tr.State.Step != 3 || tr.State.Epoch != 1 {
		t.Errorf("after one epoch of 10 samples in batches of 4: step %d epoch %d, want 3 and 1", tr.State.Step, tr.State.Epoch)
	}
	if tr.State.Samples != 10 {
		t.Errorf("the epoch's loss covers %d samples, want 10", tr.State.Samples)
	}
	utFit(t, tr, d, graph.FitOptions{BatchSize: 4})
	if tr.State.Step != 6 || tr.State.Epoch != 2 {
		t.Errorf("after two epochs: step %d epoch %d, want 6 and 2", tr.State.Step, tr.State.Epoch)
	}
	// The epoch loss is the sample-weighted mean: with NoShuffle and plain
	// SGD at lr 0 it would equal Evaluate's; here check it against an
	// evaluation of the same untouched weights with a tiny learning rate.
	tr2 := utCompile(t, utMLP(t, 1, false), &SGD{LearningRate: 1e-30})
	h := utFit(t, tr2, d, graph.FitOptions{BatchSize: 4, NoShuffle: true})
	r, err := tr2.Evaluate(d, 4)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(h["loss"][0]-r.Loss) > 1e-6 {
		t.Errorf("epoch loss %v, evaluate %v", h["loss"][0], r.Loss)
	}
	if h["accuracy"][0] != r.Accuracy {
		t.Errorf("epoch accuracy %v, evaluate %v", h["accuracy"][0], r.Accuracy)
	}
}

func TestFitValidationSplit(t *testing.T) {
	d := utData(10, 4, 3)
	tr := utCompile(t, utMLP(t, 1, false), &Adam{LearningRate: 0.01})
	h := utFit(t, tr, d, graph.FitOptions{BatchSize: 4, ValidationSplit: 0.2})
	if tr.State.Step != 2 {
		t.Errorf("8 training samples in batches of 4: %d steps, want 2", tr.State.Step)
	}
	last := graph.Data{X: d.X[8*4:], Y: d.Y[8:], N: 2}
	r, err := tr.Evaluate(last, 256)
	if err != nil {
		t.Fatal(err)
	}
	if h["val_loss"][0] != r.Loss || h["val_accuracy"][0] != r.Accuracy {
		t.Errorf("val_loss %v val_accuracy %v; the last two samples give %v %v", h["val_loss"], h["val_accuracy"], r.Loss, r.Accuracy)
	}
	// NaN inputs in the held-out samples never reach training.
	bad := graph.Data{X: append([]float32(nil), d.X...), Y: d.Y, N: 10}
	for i := 8 * 4; i < len(bad.X); i++ {
		bad.X[i] = float32(math.NaN())
	}
	tr = utCompile(t, utMLP(t, 1, false), &Adam{LearningRate: 0.01})
	h = utFit(t, tr, bad, graph.FitOptions{BatchSize: 4, ValidationSplit: 0.2})
	if !math.IsNaN(h["val_loss"][0]) || math.IsNaN(h["loss"][0]) {
		t.Errorf("loss %v, val_loss %v: the split did not hold out the last samples", h["loss"], h["val_loss"])
	}

	_, err = tr.FitContext(context.Background(), d, graph.FitOptions{ValidationSplit: 1.5, Progress: io.Discard})
	utWantErr(t, "split 1.5", err, "1.5")
	_, err = tr.FitContext(context.Background(), d, graph.FitOptions{ValidationSplit: 0.01, Progress: io.Discard})
	utWantErr(t, "empty split", err, "empty")
	_, err = tr.FitContext(context.Background(), d, graph.FitOptions{ValidationSplit: 0.2, ValidationData: &d, Progress: io.Discard})
	utWantErr(t, "split and data", err, "not both")
}

func utWantErr(t *testing.T, what string, err error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want one mentioning %q", what, fragments)
		return
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("%s: error %q does not mention %q", what, err, f)
		}
	}
}

func TestFitDataErrors(t *testing.T) {
	tr := utCompile(t, utMLP(t, 1, false), &SGD{})
	d := utData(5, 4, 1)
	for _, c := range []struct {
		what string
		d    graph.Data
		want []string
	}{
		{"no samples", graph.Data{}, []string{"no samples"}},
		{"short X", graph.Data{X: d.X[:19], Y: d.Y, N: 5}, []string{"19 input values", "5 samples"}},
		{"short Y", graph.Data{X: d.X, Y: d.Y[:4], N: 5}, []string{"4 label values", "5 samples"}},
		{"label out of range", graph.Data{X: d.X, Y: []float32{0, 1, 3, 0, 1}, N: 5}, []string{"label 3", "[0, 3)"}},
	} {
		_, err := tr.FitContext(context.Background(), c.d, graph.FitOptions{Progress: io.Discard})
		utWantErr(t, c.what, err, c.want...)
	}
	_, err := tr.FitContext(context.Background(), d, graph.FitOptions{BatchSize: -1, Progress: io.Discard})
	utWantErr(t, "negative batch", err, "-1")
	err = utCompileErr(utMLP(t, 1, false), &SGD{LearningRate: -1}, SparseCategoricalCrossentropy{})
	utWantErr(t, "negative learning rate", err, "learning_rate", "-1")
	err = utCompileErr(nil, &SGD{}, SparseCategoricalCrossentropy{})
	utWantErr(t, "nil model", err, "model")
}

func TestEvaluateEverySample(t *testing.T) {
	m := utMLP(t, 4, true)
	tr := utCompile(t, m, &SGD{})
	d := utData(7, 4, 5)
	r, err := tr.Evaluate(d, 3)
	if err != nil {
		t.Fatal(err)
	}
	if r.N != 7 {
		t.Errorf("N = %d, want 7", r.N)
	}
	total := 0
	for _, row := range r.Confusion {
		for _, v := range row {
			total += v
		}
	}
	if total != 7 {
		t.Errorf("confusion matrix sums to %d, want 7: %v", total, r.Confusion)
	}
	// Loss and accuracy from Predict, sample by sample.
	p, err := m.Predict(d.X, 7)
	if err != nil {
		t.Fatal(err)
	}
	var loss float64
	hits := 0
	for i := 0; i < 7; i++ {
		row := p[i*3 : i*3+3]
		loss -= math.Log(float64(row[int(d.Y[i])]))
		if argmax(row) == int(d.Y[i]) {
			hits++
		}
	}
	if math.Abs(r.Loss-loss/7) > 1e-5 {
		t.Errorf("loss %v, from Predict %v", r.Loss, loss/7)
	}
	if r.Accuracy != float64(hits)/7 {
		t.Errorf("accuracy %v, from Predict %v", r.Accuracy, float64(hits)/7)
	}
	// The batch size does not matter.
	for _, b := range []int{1, 2, 7, 100, 0} {
		r2, err := tr.Evaluate(d, b)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(r2.Loss-r.Loss) > 1e-6 || r2.Accuracy != r.Accuracy || r2.N != 7 {
			t.Errorf("batch %d: %+v, batch 3: %+v", b, r2, r)
		}
	}
}

// TestConfusionMatrix uses a model that predicts the argmax of its input:
// Dense(3, softmax) with kernel 10·I.
func TestConfusionMatrix(t *testing.T) {
	m, err := graph.Sequential(graph.Input(3), &graph.Dense{Units: 3, Activation: "softmax"})
	if err != nil {
		t.Fatal(err)
	}
	k, _ := m.Param("dense/kernel")
	clear(k.Data())
	for i := 0; i < 3; i++ {
		k.Data()[i*3+i] = 10
	}
	labels := []float32{0, 0, 1, 1, 2, 2}
	preds := []int{0, 1, 1, 1, 2, 0}
	d := graph.Data{X: make([]float32, 18), Y: labels, N: 6}
	for i, p := range preds {
		d.X[i*3+p] = 1
	}
	tr := utCompile(t, m, &SGD{})
	r, err := tr.Evaluate(d, 4)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]int{{1, 1, 0}, {0, 2, 0}, {1, 0, 1}}
	for i := range want {
		if !slices.Equal(r.Confusion[i], want[i]) {
			t.Fatalf("confusion %v, want %v", r.Confusion, want)
		}
	}
	utNear64(t, "precision", r.Precision, []float64{0.5, 2.0 / 3, 1})
	utNear64(t, "recall", r.Recall, []float64{0.5, 1, 0.5})
	if r.Accuracy != 4.0/6 {
		t.Errorf("accuracy %v, want 4/6", r.Accuracy)
	}
	// One-hot labels with categorical cross-entropy give the same matrix.
	oh := make([]float32, 18)
	for i, l := range labels {
		oh[i*3+int(l)] = 1
	}
	tc, err := utCompile2(m, &SGD{}, CategoricalCrossentropy{})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := tc.Evaluate(graph.Data{X: d.X, Y: oh, N: 6}, 4)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if !slices.Equal(r2.Confusion[i], want[i]) {
			t.Fatalf("categorical: confusion %v, want %v", r2.Confusion, want)
		}
	}
	if r2.Accuracy != 4.0/6 || math.Abs(r2.Loss-r.Loss) > 1e-6 {
		t.Errorf("categorical: accuracy %v loss %v; sparse %v %v", r2.Accuracy, r2.Loss, r.Accuracy, r.Loss)
	}
	if tab := r.Table([]string{"a", "b", "c"}); !strings.Contains(tab, "0 a") || !strings.Contains(tab, "0.6667") {
		t.Errorf("table:\n%s", tab)
	}
}

func utNear64(t *testing.T, what string, got, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %v, want %v", what, got, want)
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Errorf("%s: %v, want %v", what, got, want)
			return
		}
	}
}

// utRecorder snapshots the weights and logs at each epoch end.
type utRecorder struct {
	weights []map[string][]float32
	logs    []graph.Logs
}

func (r *utRecorder) OnEpochEnd(t *graph.Model, logs graph.Logs) error {
	r.weights = append(r.weights, utWeights(t))
	r.logs = append(r.logs, logs)
	return nil
}

func TestEarlyStopping(t *testing.T) {
	d := utData(32, 4, 6)
	// Validation labels that disagree with the training labels: the better
	// the model learns, the worse val_loss gets.
	val := graph.Data{X: d.X, Y: make([]float32, 32), N: 32}
	for i, y := range d.Y {
		val.Y[i] = float32((int(y) + 1) % 3)
	}
	tr := utCompile(t, utMLP(t, 1, false), &Adam{LearningRate: 0.05})
	rec := &utRecorder{}
	es := &EarlyStopping{Patience: 2, RestoreBestWeights: true}
	h := utFit(t, tr, d, graph.FitOptions{Epochs: 30, BatchSize: 32, ValidationData: &val, Callbacks: []graph.Callback{rec, es}})
	n := len(h["val_loss"])
	if n == 30 || es.StoppedEpoch != n || tr.State.Epoch != n {
		t.Fatalf("stopped at %d (epoch %d) after %d epochs: val_loss %v", es.StoppedEpoch, tr.State.Epoch, n, h["val_loss"])
	}
	best := 0
	for i, v := range h["val_loss"] {
		if v < h["val_loss"][best] {
			best = i
		}
	}
	if es.BestEpoch != best+1 {
		t.Errorf("best epoch %d, want %d (val_loss %v)", es.BestEpoch, best+1, h["val_loss"])
	}
	if n != es.BestEpoch+es.Patience+1 {
		t.Errorf("stopped at %d, best %d, patience %d", n, es.BestEpoch, es.Patience)
	}
	utSameWeights(t, "restored best weights", tr, rec.weights[best])
	if utBitEqual(rec.weights[n-1]["dense/kernel"], rec.weights[best]["dense/kernel"]) {
		t.Error("the weights did not change after the best epoch: the test proves nothing")
	}

	// Without RestoreBestWeights the last weights stay.
	tr = utCompile(t, utMLP(t, 1, false), &Adam{LearningRate: 0.05})
	rec = &utRecorder{}
	es = &EarlyStopping{Patience: 2}
	utFit(t, tr, d, graph.FitOptions{Epochs: 30, BatchSize: 32, ValidationData: &val, Callbacks: []graph.Callback{rec, es}})
	utSameWeights(t, "last weights", tr, rec.weights[len(rec.weights)-1])

	// Monitoring a metric the run does not log is an error.
	tr = utCompile(t, utMLP(t, 1, false), &Adam{})
	_, err := tr.FitContext(context.Background(), d, graph.FitOptions{Callbacks: []graph.Callback{&EarlyStopping{}}, Progress: io.Discard})
	utWantErr(t, "val_loss without validation", err, `"val_loss"`)
	// Accuracy is maximized.
	if !better("val_accuracy", 0.9, 0.8, 0) || better("val_loss", 0.9, 0.8, 0) {
		t.Error("better() has the wrong direction")
	}
}

func TestFrozenLayers(t *testing.T) {
	m := utMLP(t, 1, false)
	first := m.Layers()[0].(*graph.Dense)
	first.SetTrainable(false)
	before := utWeights(m)
	tr := utCompile(t, m, &Adam{LearningRate: 0.01})
	utFit(t, tr, utData(20, 4, 7), graph.FitOptions{Epochs: 2, BatchSize: 8})
	for _, p := range m.Params() {
		same := utBitEqual(p.Data(), before[p.Name])
		if strings.HasPrefix(p.Name, "dense/") && !same {
			t.Errorf("frozen %s changed", p.Name)
		}
		if strings.HasPrefix(p.Name, "dense_1/") && same {
			t.Errorf("trainable %s did not change", p.Name)
		}
	}
	if _, ok := utSlots(tr)["dense/kernel"]; ok {
		t.Error("the optimizer keeps slots for a frozen weight")
	}

	// Freezing after training, then compiling again, freezes too.
	m = utMLP(t, 1, false)
	tr = utCompile(t, m, &Adam{LearningRate: 0.01})
	d := utData(20, 4, 7)
	utFit(t, tr, d, graph.FitOptions{BatchSize: 8})
	m.Layers()[0].(*graph.Dense).SetTrainable(false)
	tr = utCompile(t, m, &Adam{LearningRate: 0.01})
	before = utWeights(m)
	utFit(t, tr, d, graph.FitOptions{BatchSize: 8})
	if !utBitEqual(before["dense/kernel"], m.Params()[0].Data()) {
		t.Error("dense/kernel changed after SetTrainable(false) and Compile")
	}

	// A model whose weights are all frozen cannot be trained.
	m = utMLP(t, 1, false)
	for _, l := range m.Layers() {
		if d, ok := l.(*graph.Dense); ok {
			d.SetTrainable(false)
		}
	}
	tr = utCompile(t, m, &Adam{})
	_, err := tr.FitContext(context.Background(), d, graph.FitOptions{Progress: io.Discard})
	utWantErr(t, "all frozen", err, "no trainable weights")
}

func TestRegularizerLoss(t *testing.T) {
	d := utData(12, 4, 8)
	run := func(reg *graph.Regularizer) (float64, *graph.Model) {
		m, err := graph.SequentialSeed(3, graph.Input(4),
			&graph.Dense{Units: 8, Activation: "tanh", KernelRegularizer: reg},
			&graph.Dense{Units: 3, Activation: "softmax"})
		if err != nil {
			t.Fatal(err)
		}
		w := utWeights(m)
		tr := utCompile(t, m, &SGD{LearningRate: 0.1})
		h := utFit(t, tr, d, graph.FitOptions{BatchSize: 12, NoShuffle: true})
		restore(m, w)
		return h["loss"][0], m
	}
	base, m := run(nil)
	k, _ := m.Param("dense/kernel")
	var sq, abs float64
	for _, v := range k.Data() {
		sq += float64(v) * float64(v)
		abs += math.Abs(float64(v))
	}
	l2, _ := run(graph.L2(0.1))
	if want := base + 0.1*sq; math.Abs(l2-want) > 1e-5*want {
		t.Errorf("L2(0.1): loss %v, want %v + 0.1·%v = %v", l2, base, sq, want)
	}
	l1, _ := run(graph.L1(0.01))
	if want := base + 0.01*abs; math.Abs(l1-want) > 1e-5*want {
		t.Errorf("L1(0.01): loss %v, want %v + 0.01·%v = %v", l1, base, abs, want)
	}
	// As in Keras, the penalty is part of Evaluate's loss too.
	m2, _ := graph.SequentialSeed(3, graph.Input(4),
		&graph.Dense{Units: 8, Activation: "tanh", KernelRegularizer: graph.L2(0.1)},
		&graph.Dense{Units: 3, Activation: "softmax"})
	tr := utCompile(t, m2, &SGD{})
	r, err := tr.Evaluate(d, 12)
	if err != nil {
		t.Fatal(err)
	}
	if want := base + 0.1*sq; math.Abs(r.Loss-want) > 1e-5*want {
		t.Errorf("evaluate loss %v with L2(0.1), want %v", r.Loss, want)
	}
}

func TestFitNaN(t *testing.T) {
	d := utData(16, 4, 9)
	for i := range d.X {
		d.X[i] *= 1e3
	}
	m := utMLP(t, 1, false)
	rec := &utRecorder{}
	tr := utCompile(t, m, &SGD{LearningRate: 1e30})
	before := utWeights(m)
	_, err := tr.FitContext(context.Background(), d, graph.FitOptions{Epochs: 20, BatchSize: 16, Callbacks: []graph.Callback{rec}, Progress: io.Discard})
	if !errors.Is(err, graph.ErrNaN) {
		t.Fatalf("Fit with lr 1e30: %v, want graph.ErrNaN", err)
	}
	t.Logf("%v (after %d epochs)", err, len(rec.weights))
	want := before
	if n := len(rec.weights); n > 0 {
		want = rec.weights[n-1]
	}
	utSameWeights(t, "weights after NaN", m, want)
	for _, p := range m.Params() {
		for _, v := range p.Data() {
			if math.IsNaN(float64(v)) {
				t.Fatalf("%s holds NaN after graph.ErrNaN", p.Name)
			}
		}
	}
	if tr.State.Step != len(rec.weights) {
		t.Errorf("step %d after %d good batches", tr.State.Step, len(rec.weights))
	}
}

// utCancelWriter is a progress writer that, on the first write holding
// trigger, asks another goroutine to cancel the run's context and waits
// until it has: Fit then stops after the batch it is running.
type utCancelWriter struct {
	trigger string
	once    sync.Once
	req     chan struct{}
	done    chan struct{}
}

func (w *utCancelWriter) Write(p []byte) (int, error) {
	if strings.Contains(string(p), w.trigger) {
		w.once.Do(func() {
			close(w.req)
			<-w.done
		})
	}
	return len(p), nil
}

func utResumeOptions(cb ...graph.Callback) graph.FitOptions {
	return graph.FitOptions{Epochs: 3, BatchSize: 6, Callbacks: cb, Progress: io.Discard}
}

// utStraight trains the resume test's model for three epochs without
// interruption.
func utStraight(t *testing.T) *graph.Model {
	tr := utCompile(t, utCNN(t, 21), &Adam{LearningRate: 0.02})
	utFit(t, tr, utData(20, 16, 10), utResumeOptions())
	return tr
}

func utSameHistory(t *testing.T, a, b graph.History) {
	t.Helper()
	for k, v := range a {
		if k == "seconds" {
			continue
		}
		if !slices.Equal(v, b[k]) {
			t.Errorf("history %s: %v, uninterrupted %v", k, b[k], v)
		}
	}
}

func TestInterruptPreCancelled(t *testing.T) {
	want := utStraight(t)
	d := utData(20, 16, 10)
	path := filepath.Join(t.TempDir(), "ckpt.capa")
	ck := &ModelCheckpoint{Path: path}
	tr := utCompile(t, utCNN(t, 21), &Adam{LearningRate: 0.02})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := tr.FitContext(ctx, d, utResumeOptions(ck))
	if !errors.Is(err, graph.ErrInterrupted) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Fit with a cancelled context: %v, want graph.ErrInterrupted", err)
	}
	if tr.State.Batch != 1 || tr.State.Step != 1 || tr.State.Epoch != 0 {
		t.Errorf("state after the interruption: epoch %d batch %d step %d, want 0, 1, 1", tr.State.Epoch, tr.State.Batch, tr.State.Step)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("ModelCheckpoint did not save on interrupt: %v", err)
	}
	tr2, err := graph.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if tr2.State.Batch != 1 || tr2.State.Step != 1 {
		t.Errorf("loaded state %+v", tr2.State)
	}
	h := utFit(t, tr2, d, utResumeOptions(ck))
	if tr2.State.Epoch != 3 || tr2.State.Step != want.State.Step {
		t.Errorf("resumed run ends at epoch %d step %d, want 3 and %d", tr2.State.Epoch, tr2.State.Step, want.State.Step)
	}
	utSameWeights(t, "resumed from a file", tr2, utWeights(want))
	utSameHistory(t, want.State.History, h)
	for name, s := range utSlots(want) {
		for i := range s {
			if !utBitEqual(s[i], utSlots(tr2)[name][i]) {
				t.Errorf("optimizer slot %d of %s differs", i, name)
			}
		}
	}
}

func TestInterruptFromGoroutine(t *testing.T) {
	want := utStraight(t)
	d := utData(20, 16, 10)
	path := filepath.Join(t.TempDir(), "ckpt.capa")
	ck := &ModelCheckpoint{Path: path}
	tr := utCompile(t, utCNN(t, 21), &Adam{LearningRate: 0.02})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &utCancelWriter{trigger: "Epoch 2/", req: make(chan struct{}), done: make(chan struct{})}
	go func() {
		<-w.req
		cancel()
		close(w.done)
	}()
	o := utResumeOptions(ck)
	o.Progress = w
	_, err := tr.FitContext(ctx, d, o)
	if !errors.Is(err, graph.ErrInterrupted) {
		t.Fatalf("Fit cancelled from a goroutine: %v, want graph.ErrInterrupted", err)
	}
	if tr.State.Epoch != 1 || tr.State.Batch != 1 || tr.State.Step != 5 {
		t.Errorf("state after the interruption: epoch %d batch %d step %d, want 1, 1, 5", tr.State.Epoch, tr.State.Batch, tr.State.Step)
	}
	// Resume from the file.
	tr2, err := graph.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	o = utResumeOptions(ck)
	o.Epochs = 2
	h := utFit(t, tr2, d, o)
	utSameWeights(t, "resumed from a file", tr2, utWeights(want))
	utSameHistory(t, want.State.History, h)
	// Resume in memory, with the same trainer.
	h = utFit(t, tr, d, o)
	utSameWeights(t, "resumed in memory", tr, utWeights(want))
	utSameHistory(t, want.State.History, h)
}

// utCompile2 compiles m and returns it, as the former train.Compile did.
func utCompile2(m *graph.Model, o graph.Optimizer, l graph.Loss) (*graph.Model, error) {
	if err := m.Compile(o, l); err != nil {
		return nil, err
	}
	return m, nil
}

// utCompileErr is utCompile2's error, for a possibly nil model.
func utCompileErr(m *graph.Model, o graph.Optimizer, l graph.Loss) error {
	if m == nil {
		return fmt.Errorf("no model")
	}
	return m.Compile(o, l)
}

// utSlots returns the optimizer slots of m by weight name.
func utSlots(m *graph.Model) map[string][][]float32 {
	out := map[string][][]float32{}
	for _, p := range m.Params() {
		if s, ok := m.SlotsOf(p); ok {
			out[p.Name] = s
		}
	}
	return out
}

// argmax returns the index of the largest value.
func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
