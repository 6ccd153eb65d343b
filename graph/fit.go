package graph

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"time"

	"github.com/capa-ml/capa/internal/progress"
)

// ErrInterrupted is returned by Fit when its context is cancelled (Ctrl-C):
// training stopped at the end of a batch and the model can resume.
var ErrInterrupted = errors.New("graph: interrupted")

// ErrNaN is returned by Fit when the loss stops being a finite number. The
// batch that produced it is not applied, so the weights are those before it.
var ErrNaN = errors.New("graph: loss is not a finite number")

// State is where training stands: everything beyond the weights and the
// optimizer slots that a model file saves so that training can resume.
type State struct {
	// Epoch is the number of completed epochs.
	Epoch int `json:"epoch"`
	// Batch is the number of batches completed in the current, unfinished
	// epoch (0 between epochs).
	Batch int `json:"batch"`
	// BatchSize and Samples0 are those of the current, unfinished epoch: a
	// resumed epoch must use the same ones.
	BatchSize int `json:"batch_size,omitempty"`
	Samples0  int `json:"epoch_samples,omitempty"`
	// Step counts optimizer steps (Adam's t).
	Step int `json:"step"`
	// LearningRate is the learning rate: the optimizer's at Compile, as
	// changed by callbacks such as ReduceLROnPlateau. A FitOptions.Schedule
	// computes each step's rate from it (its base).
	LearningRate float64 `json:"learning_rate"`
	// EpochShuffle is the shuffling generator's state at the start of the
	// current epoch, so an interrupted epoch replays the same order.
	EpochShuffle []byte `json:"epoch_shuffle,omitempty"`
	// Running sums of the current epoch's training metrics.
	LossSum float64 `json:"loss_sum"`
	Hits    int     `json:"hits"`
	Seen    int     `json:"seen"`
	Samples int     `json:"samples"` // samples whose loss is in LossSum
	// History holds one value per completed epoch for each metric:
	// loss, accuracy, val_loss, val_accuracy, seconds, and lr (the learning
	// rate of the epoch's last optimizer step).
	History History `json:"history"`
	// Stop is set by a callback to end Fit after the current epoch.
	Stop bool `json:"-"`
}

// History maps a metric name to its value at the end of each epoch.
type History map[string][]float64

// Logs are the metrics of one epoch.
type Logs map[string]float64

// FitOptions configure Fit. Zero values are Keras's defaults.
type FitOptions struct {
	// Epochs to run in this call (default 1). An interrupted epoch is
	// finished first and counts as one of them.
	Epochs int
	// BatchSize defaults to 32. The last partial batch is trained too.
	BatchSize int
	// NoShuffle keeps the training order (Keras's shuffle=False).
	NoShuffle bool
	// ValidationSplit holds out the last fraction of the training data
	// (before shuffling) for validation.
	ValidationSplit float64
	// ValidationData is evaluated at the end of each epoch.
	ValidationData *Data
	// Callbacks run at the end of each epoch, in order.
	Callbacks []Callback
	// Schedule, if set, gives the learning rate of each optimizer step
	// (see Schedule); otherwise every step uses State.LearningRate. It is
	// not saved with the model: give it again when resuming.
	Schedule Schedule
	// Progress receives the progress bar (default os.Stderr; io.Discard
	// for silence).
	Progress io.Writer
	// Augment, if not nil, transforms every training batch in place after
	// it is gathered and before it is fed (data augmentation, such as an
	// augment.Pipeline); validation and evaluation batches are never
	// transformed. Its random state is its own: a model file does not
	// record it, so a resumed run replays the same augmentation only if the
	// caller restores that state (layers of package augment inside the
	// model are saved with it instead).
	Augment BatchTransform
	// ClassWeight, if set, weights each training sample's loss by its
	// class's weight (Keras's class_weight; classes it does not list weigh
	// 1): for class indices (sparse labels) or one-hot labels, and not
	// together with Data.Weights, as in Keras. Validation is not weighted.
	ClassWeight map[int]float64
	// Distributed, if set, makes this call one process of a data-parallel
	// run (see Distributed): every process calls Fit with the same data,
	// options and seed; BatchSize is each process's share of a global
	// batch of Size × BatchSize samples. The weights start from process
	// 0's and are compared after every epoch. Callbacks run on every
	// process: give checkpoints and progress to process 0 only.
	Distributed Distributed
}

// BatchTransform changes a batch of n training inputs in place: x holds n
// samples of the model's per-sample input shape (H, W, C), NHWC, one after
// the other. It must not change the number of values, and should be
// deterministic given its own seeded state, so that runs reproduce.
type BatchTransform interface {
	Apply(x []float32, n int, shape []int) error
}

// Callback is called at the end of each epoch, after validation. It may set
// m.State.Stop to end training. Package train has Keras's callbacks.
type Callback interface {
	OnEpochEnd(m *Model, logs Logs) error
}

// BatchCallback is an optional Callback ability: called after every
// training batch with the batch's loss, before the optimizer step, so that
// it can stop a diverging run (Keras's TerminateOnNaN) by returning an
// error; the step is then not applied.
type BatchCallback interface {
	OnBatchEnd(m *Model, batch int, loss float64) error
}

// The optional hooks below complete Keras's Callback (on_train_begin,
// on_epoch_begin, on_train_batch_begin, on_train_end); a Callback
// implements those it needs. An error stops Fit and is returned.

// TrainBeginner is called once when Fit starts.
type TrainBeginner interface {
	OnTrainBegin(m *Model) error
}

// EpochBeginner is called before each epoch (epoch counts from 0 over the
// model's whole training, State.Epoch).
type EpochBeginner interface {
	OnEpochBegin(m *Model, epoch int) error
}

// BatchBeginner is called before each training batch (batch counts from
// 0 within the epoch).
type BatchBeginner interface {
	OnBatchBegin(m *Model, batch int) error
}

// TrainEnder is called once when Fit ends without an error (after an
// early stop too), with the last epoch's logs.
type TrainEnder interface {
	OnTrainEnd(m *Model, logs Logs) error
}

// InterruptHandler is an optional Callback ability: called when Fit is
// interrupted, after the current batch (ModelCheckpoint saves then).
type InterruptHandler interface {
	OnInterrupt(m *Model) error
}

// Schedule gives the learning rate of every optimizer step, Keras's
// LearningRateSchedule. Fit calls LR before each step with
//
//   - step, the optimizer steps already taken (State.Step: 0 for the first
//     step of a run, as Keras's optimizer.iterations);
//   - epoch, the epochs already completed (State.Epoch: 0 during the first);
//   - base, the model's learning rate (State.LearningRate: the optimizer's
//     LearningRate at Compile, lowered by ReduceLROnPlateau if used).
//
// Keras's initial_learning_rate is base: give it as the optimizer's
// LearningRate. LR must depend on its arguments only, which the model file
// saves, so that a run resumed from a checkpoint replays the same rates bit
// for bit. A schedule is a FitOptions field, not part of the model: a model
// file does not hold it, and a resumed run must be given the same one again.
// Package train has Keras's schedules.
//
// A Schedule may also have a Validate() error method, which Fit calls once
// before training.
type Schedule interface {
	LR(step, epoch int, base float64) float64
}

// checkSchedule validates s once, before training.
func checkSchedule(s Schedule) error {
	if v, ok := s.(interface{ Validate() error }); ok {
		return v.Validate()
	}
	return nil
}

// learningRate is the rate of the next optimizer step: State.LearningRate,
// or what s gives for it.
func (m *Model) learningRate(s Schedule) (float64, error) {
	st := &m.State
	if s == nil {
		return st.LearningRate, nil
	}
	lr := s.LR(st.Step, st.Epoch, st.LearningRate)
	if !(lr >= 0) || math.IsInf(lr, 0) {
		return 0, fmt.Errorf("graph: schedule %T gives learning rate %v at step %d (epoch %d, base %v)", s, lr, st.Step, st.Epoch, st.LearningRate)
	}
	return lr, nil
}

// checkLabels validates every label once, before training, naming the
// sample at fault.
func checkLabels(loss Loss, d Data, k int) error {
	if d.Weights != nil {
		if tl, ok := loss.(TargetLinear); !ok || !tl.TargetLinear() {
			return fmt.Errorf("graph: loss %s does not take sample or class weights (only losses linear in the target, such as the cross-entropies)", loss.Name())
		}
	}
	ls := loss.LabelSize(k)
	buf := make([]float32, k)
	for i := 0; i < d.N; i++ {
		y := d.Y[i*ls : (i+1)*ls]
		for _, v := range y {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("graph: label of sample %d is %v", i, v)
			}
		}
		if ls == 1 && k > 1 {
			if err := loss.Targets(buf, y, k); err != nil {
				return fmt.Errorf("graph: sample %d: %w", i, err)
			}
		}
	}
	return nil
}

// run feeds samples idx (or a contiguous range when idx is nil, from lo),
// transformed by aug if not nil, and runs s; it returns the batch's loss.
func (m *Model) run(s *compiled, d Data, idx []int, lo int, labels []float32, aug BatchTransform) (float64, error) {
	ls := m.loss.LabelSize(s.outSize)
	b := s.r.Batch
	for k, ni := range m.inputs {
		in := m.nodes[ni].shape.Size()
		x, src := s.r.InputN(k), d.input(k) // gathered straight into the graph's input
		for i := 0; i < b; i++ {
			j := lo + i
			if idx != nil {
				j = idx[i]
			}
			copy(x[i*in:(i+1)*in], src[j*in:(j+1)*in])
		}
	}
	labels = labels[:0]
	for i := 0; i < b; i++ {
		j := lo + i
		if idx != nil {
			j = idx[i]
		}
		labels = append(labels, d.Y[j*ls:(j+1)*ls]...)
	}
	if aug != nil {
		if len(m.inputs) > 1 {
			return 0, fmt.Errorf("graph: augmentation of a model with %d inputs is not supported", len(m.inputs))
		}
		x := s.r.Input()
		if err := aug.Apply(x, b, m.input); err != nil {
			return 0, fmt.Errorf("graph: augmenting a batch: %w", err)
		}
	}
	t := s.target.Data().([]float32)
	if err := m.loss.Targets(t, labels, s.outSize); err != nil {
		return 0, err
	}
	if d.Weights != nil {
		// The loss is linear in each sample's target row: scaling the row
		// weights the sample's loss.
		k := len(t) / b
		for i := 0; i < b; i++ {
			j := lo + i
			if idx != nil {
				j = idx[i]
			}
			for c := range t[i*k : (i+1)*k] {
				t[i*k+c] *= d.Weights[j]
			}
		}
	}
	if err := s.r.Exec(); err != nil {
		return 0, err
	}
	v, err := s.r.Value(s.lossN)
	if err != nil {
		return 0, err
	}
	return float64(v.Data().(float32)), nil
}

// apply takes one optimizer step with the gradients s computed.
func (m *Model) apply(s *compiled, lr float64) error {
	m.State.Step++
	for i, n := range s.grads {
		gv, err := s.r.Value(n)
		if err != nil {
			return fmt.Errorf("graph: gradient of %s: %w", s.params[i].Name, err)
		}
		p := s.params[i]
		m.optimizer.Update(p.Data(), gv.Data().([]float32), m.OptimizerSlots(p), m.State.Step, lr)
	}
	return nil
}

// Fit trains the model on d (Keras's fit). It is FitContext without
// cancellation.
func (m *Model) Fit(d Data, o FitOptions) (History, error) {
	return m.FitContext(context.Background(), d, o)
}

// FitContext trains the compiled model on d. It stops early when a
// callback sets State.Stop, returns ErrInterrupted (wrapped) when ctx is
// cancelled, at the end of a batch, and ErrNaN when the loss diverges. The
// returned History is the whole run's (State.History). Fit is a loop over
// the model's compiled graphs, the same ones Evaluate uses.
func (m *Model) FitContext(ctx context.Context, d Data, o FitOptions) (History, error) {
	if m.loss == nil || m.optimizer == nil {
		return m.State.History, fmt.Errorf("graph: Fit needs a model compiled with an optimizer and a loss: call Compile first")
	}
	in, ls := m.inputSizes(), m.loss.LabelSize(m.OutputShape().Size())
	if o.Epochs == 0 {
		o.Epochs = 1
	}
	if o.BatchSize == 0 {
		o.BatchSize = 32
	}
	if o.Epochs < 0 || o.BatchSize < 0 {
		return m.State.History, fmt.Errorf("graph: epochs (%d) and batch size (%d) must be positive", o.Epochs, o.BatchSize)
	}
	if o.Progress == nil {
		o.Progress = os.Stderr
	}
	if err := checkSchedule(o.Schedule); err != nil {
		return m.State.History, err
	}
	if err := d.check(in, ls, "training"); err != nil {
		return m.State.History, err
	}
	val := o.ValidationData
	if o.ValidationSplit != 0 {
		if val != nil {
			return m.State.History, fmt.Errorf("graph: give ValidationSplit or ValidationData, not both")
		}
		if !(o.ValidationSplit > 0 && o.ValidationSplit < 1) {
			return m.State.History, fmt.Errorf("graph: validation split must be in (0, 1), got %v", o.ValidationSplit)
		}
		var v Data
		d, v = d.split(o.ValidationSplit, in, ls)
		if d.N == 0 || v.N == 0 {
			return m.State.History, fmt.Errorf("graph: validation split %v of %d samples leaves an empty set", o.ValidationSplit, d.N+v.N)
		}
		val = &v
	}
	if val != nil {
		if err := val.check(in, ls, "validation"); err != nil {
			return m.State.History, err
		}
	}
	if m.State.History == nil {
		m.State.History = History{}
	}
	m.State.Stop = false
	if o.ClassWeight != nil {
		if d.Weights != nil {
			return m.State.History, fmt.Errorf("graph: give ClassWeight or sample weights (Data.Weights), not both")
		}
		w, err := classWeights(o.ClassWeight, d.Y, ls, m.OutputShape().Size())
		if err != nil {
			return m.State.History, err
		}
		d.Weights = w
	}
	if err := checkLabels(m.loss, d, m.OutputShape().Size()); err != nil {
		return m.State.History, err
	}
	m.dropStale()
	interrupted := func() error {
		for _, c := range o.Callbacks {
			if h, ok := c.(InterruptHandler); ok {
				if err := h.OnInterrupt(m); err != nil {
					return err
				}
			}
		}
		return fmt.Errorf("%w: %w", ErrInterrupted, ctx.Err())
	}
	labels := make([]float32, 0, o.BatchSize*ls)
	gb := o.BatchSize // the global batch
	if o.Distributed != nil {
		gb *= o.Distributed.Size()
		if err := m.distSync(o.Distributed); err != nil {
			return m.State.History, err
		}
	}
	nb := (d.N + gb - 1) / gb
	for _, c := range o.Callbacks {
		if h, ok := c.(TrainBeginner); ok {
			if err := h.OnTrainBegin(m); err != nil {
				return m.State.History, err
			}
		}
	}
	var logs Logs
	for e := 0; e < o.Epochs && !m.State.Stop; e++ {
		st := &m.State
		if st.Batch > 0 && st.EpochShuffle != nil && (st.BatchSize != o.BatchSize || st.Samples0 != d.N) {
			return st.History, fmt.Errorf("graph: the interrupted epoch ran with batch size %d on %d samples; resume it with the same, not %d on %d",
				st.BatchSize, st.Samples0, o.BatchSize, d.N)
		}
		if st.Batch == 0 || st.EpochShuffle == nil {
			st.Batch, st.LossSum, st.Hits, st.Seen, st.Samples = 0, 0, 0, 0, 0
			st.BatchSize, st.Samples0 = o.BatchSize, d.N
			b, err := m.shuffle.MarshalBinary()
			if err != nil {
				return st.History, err
			}
			st.EpochShuffle = b
		} else if err := m.shuffle.UnmarshalBinary(st.EpochShuffle); err != nil {
			return st.History, fmt.Errorf("graph: shuffle state: %w", err)
		}
		var perm []int
		if !o.NoShuffle {
			perm = rand.New(m.shuffle).Perm(d.N)
		}
		for _, c := range o.Callbacks {
			if h, ok := c.(EpochBeginner); ok {
				if err := h.OnEpochBegin(m, st.Epoch); err != nil {
					return st.History, err
				}
			}
		}
		fmt.Fprintf(o.Progress, "Epoch %d/%d\n", st.Epoch+1, st.Epoch+o.Epochs-e)
		bar := progress.New(o.Progress, nb)
		start := time.Now()
		lr := st.LearningRate // the rate of the epoch's last step, logged as "lr"
		for bi := st.Batch; bi < nb; bi++ {
			lo := bi * gb
			b := min(gb, d.N-lo)
			for _, c := range o.Callbacks {
				if h, ok := c.(BatchBeginner); ok {
					if err := h.OnBatchBegin(m, bi); err != nil {
						return st.History, err
					}
				}
			}
			var loss float64
			var h, n int
			var err error
			if dist := o.Distributed; dist != nil {
				// This process's share of the global batch [lo, lo+b).
				llo := min(lo+dist.Rank()*o.BatchSize, lo+b)
				lb := min(o.BatchSize, lo+b-llo)
				var idx []int
				if perm != nil {
					idx = perm[llo : llo+lb]
				}
				loss, b, h, n, err = m.distBatch(d, idx, llo, lb, labels, &o, bi, &lr)
			} else {
				var idx []int
				if perm != nil {
					idx = perm[lo : lo+b]
				}
				loss, h, n, err = m.trainBatch(d, idx, lo, labels, &o, bi, &lr)
			}
			if err != nil {
				return st.History, err
			}
			st.LossSum += loss * float64(b)
			st.Samples += b
			st.Hits += h
			st.Seen += n
			st.Batch = bi + 1
			bar.Update(bi+1, progress.KV{Name: "loss", Value: st.LossSum / float64(st.Samples)},
				progress.KV{Name: "accuracy", Value: float64(st.Hits) / float64(max(st.Seen, 1))})
			if ctx.Err() != nil && bi+1 < nb {
				bar.Finish()
				fmt.Fprintf(o.Progress, "interrupted after batch %d/%d of epoch %d\n", bi+1, nb, st.Epoch+1)
				return st.History, interrupted()
			}
		}
		if dist := o.Distributed; dist != nil {
			// Each process counted its own share's hits.
			c := []float32{float32(st.Hits), float32(st.Seen)}
			if err := dist.AllreduceSum(c); err != nil {
				return st.History, err
			}
			st.Hits, st.Seen = int(c[0]), int(c[1])
			if err := m.distCheck(dist, fmt.Sprintf("after epoch %d", st.Epoch+1)); err != nil {
				return st.History, err
			}
		}
		logs = Logs{"loss": st.LossSum / float64(st.Samples), "accuracy": float64(st.Hits) / float64(max(st.Seen, 1))}
		if val != nil {
			r, err := m.Evaluate(*val, max(o.BatchSize, 256))
			if err != nil {
				return st.History, err
			}
			logs["val_loss"], logs["val_accuracy"] = r.Loss, r.Accuracy
		}
		logs["seconds"] = time.Since(start).Seconds()
		logs["lr"] = lr
		kvs := []progress.KV{{Name: "loss", Value: logs["loss"]}, {Name: "accuracy", Value: logs["accuracy"]}}
		if val != nil {
			kvs = append(kvs, progress.KV{Name: "val_loss", Value: logs["val_loss"]}, progress.KV{Name: "val_accuracy", Value: logs["val_accuracy"]})
		}
		bar.Finish(kvs...)
		st.Epoch++
		st.Batch = 0
		st.EpochShuffle = nil
		for k, v := range logs {
			st.History[k] = append(st.History[k], v)
		}
		for _, c := range o.Callbacks {
			if err := c.OnEpochEnd(m, logs); err != nil {
				return st.History, err
			}
		}
		if ctx.Err() != nil && e+1 < o.Epochs {
			return st.History, interrupted()
		}
	}
	for _, c := range o.Callbacks {
		if h, ok := c.(TrainEnder); ok {
			if err := h.OnTrainEnd(m, logs); err != nil {
				return m.State.History, err
			}
		}
	}
	return m.State.History, nil
}

// trainBatch runs one training batch of d, checks its loss, asks the batch
// callbacks and applies the optimizer step. It returns the loss and the
// accuracy's hits and count.
func (m *Model) trainBatch(d Data, idx []int, lo int, labels []float32, o *FitOptions, bi int, lr *float64) (loss float64, hits, seen int, err error) {
	b := len(idx)
	if idx == nil {
		b = min(o.BatchSize, d.N-lo)
	}
	k := compiledKey{batch: b, training: true, loss: true}
	s, gen, err := m.take(k)
	if err != nil {
		return 0, 0, 0, err
	}
	defer m.give(k, s, gen)
	if loss, err = m.run(s, d, idx, lo, labels, o.Augment); err != nil {
		return 0, 0, 0, err
	}
	st := &m.State
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return 0, 0, 0, fmt.Errorf("%w: %v at epoch %d, batch %d (try a smaller learning rate than %v; the weights are those before this batch)",
			ErrNaN, loss, st.Epoch+1, bi+1, st.LearningRate)
	}
	for _, c := range o.Callbacks {
		if bc, ok := c.(BatchCallback); ok {
			if err := bc.OnBatchEnd(m, bi, loss); err != nil {
				return 0, 0, 0, err
			}
		}
	}
	if *lr, err = m.learningRate(o.Schedule); err != nil {
		return 0, 0, 0, err
	}
	if err := m.apply(s, *lr); err != nil {
		return 0, 0, 0, err
	}
	hits, seen = s.acc.correct(s.r.Output(), labels[:b*m.loss.LabelSize(s.outSize)], s.outSize)
	return loss, hits, seen, nil
}

// classWeights turns Keras's class_weight into one weight per sample, from
// class indices (one label per sample) or one-hot rows of k values.
func classWeights(cw map[int]float64, y []float32, labelSize, k int) ([]float32, error) {
	for c, w := range cw {
		if c < 0 || c >= k {
			return nil, fmt.Errorf("graph: class weight for class %d, but the model has %d classes", c, k)
		}
		if !(w >= 0) || math.IsInf(w, 0) {
			return nil, fmt.Errorf("graph: class %d has weight %v, want a finite non-negative number", c, w)
		}
	}
	if labelSize != 1 && labelSize != k {
		return nil, fmt.Errorf("graph: class weights need class indices or one-hot labels, not %d label values per sample", labelSize)
	}
	n := len(y) / labelSize
	ws := make([]float32, n)
	for i := range ws {
		c := int(y[i])
		if labelSize != 1 {
			row := y[i*k : (i+1)*k]
			c = -1
			for j, v := range row {
				if v == 1 && c < 0 {
					c = j
				} else if v != 0 {
					return nil, fmt.Errorf("graph: class weights need one-hot labels; sample %d has %v", i, row)
				}
			}
			if c < 0 {
				return nil, fmt.Errorf("graph: class weights need one-hot labels; sample %d has none", i)
			}
		}
		ws[i] = 1
		if w, ok := cw[c]; ok {
			ws[i] = float32(w)
		}
	}
	return ws, nil
}
