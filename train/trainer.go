package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"time"

	"github.com/capa-ml/capa/graph"
	"github.com/capa-ml/capa/internal/progress"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ErrInterrupted is returned by Fit when its context is cancelled (Ctrl-C):
// training stopped at the end of a batch and the Trainer can resume.
var ErrInterrupted = errors.New("train: interrupted")

// ErrNaN is returned by Fit when the loss stops being a finite number. The
// batch that produced it is not applied, so the weights are those before it.
var ErrNaN = errors.New("train: loss is not a finite number")

// Trainer is a compiled model: a model with an optimizer and a loss, and
// the state of its training (epochs done, optimizer slots, the shuffling
// generator), everything Save writes so that training can resume.
type Trainer struct {
	Model     *graph.Model
	Optimizer Optimizer
	Loss      Loss
	// State is the progress of training so far.
	State State
	// Extra is free-form configuration saved with the trainer, such as the
	// settings of the command that started the run.
	Extra map[string]string

	slots        map[string][][]float32
	shuffle      *rand.PCG
	steps        map[stepKey]*step
	trainableSig string
}

// State is where training stands.
type State struct {
	// Epoch is the number of completed epochs.
	Epoch int `json:"epoch"`
	// Batch is the number of batches completed in the current, unfinished
	// epoch (0 between epochs).
	Batch int `json:"batch"`
	// BatchSize and Samples are those of the current, unfinished epoch: a
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

// Compile prepares m for training with an optimizer and a loss. The
// shuffling generator is seeded from the model's seed.
func Compile(m *graph.Model, opt Optimizer, loss Loss) (*Trainer, error) {
	if m == nil || opt == nil || loss == nil {
		return nil, fmt.Errorf("train: Compile needs a model, an optimizer and a loss")
	}
	if opt.LR() <= 0 || math.IsNaN(opt.LR()) {
		return nil, fmt.Errorf("train: learning rate must be positive, got %v", opt.LR())
	}
	return &Trainer{
		Model: m, Optimizer: opt, Loss: loss,
		State:   State{LearningRate: opt.LR(), History: History{}},
		slots:   map[string][][]float32{},
		shuffle: rand.NewPCG(m.Seed(), 0x73687566666c65),
		steps:   map[stepKey]*step{},
	}, nil
}

type stepKey struct {
	batch    int
	training bool
}

// step is a compiled graph for one batch size: the model, its loss and, in
// training, the gradients of the trainable weights.
type step struct {
	r       *graph.Runner
	target  *tensor.Dense
	loss    *G.Node
	grads   G.Nodes // gradient nodes of params, in order
	params  []*graph.Param
	outSize int
}

// dropStaleSteps forgets the compiled steps when the set of trainable
// weights changed since they were built (SetTrainable after Compile, or
// layers added), so that a frozen or unfrozen layer is honoured.
func (t *Trainer) dropStaleSteps() {
	var sig []byte
	for _, p := range t.Model.Params() {
		sig = append(sig, p.Name...)
		if p.Trainable {
			sig = append(sig, '+')
		} else {
			sig = append(sig, '-')
		}
	}
	if string(sig) == t.trainableSig {
		return
	}
	for _, s := range t.steps {
		s.r.Close()
	}
	t.steps = map[stepKey]*step{}
	t.trainableSig = string(sig)
}

// checkLabels validates every label once, before training, naming the
// sample at fault.
func checkLabels(loss Loss, d Data, k int) error {
	ls := loss.LabelSize(k)
	buf := make([]float32, k)
	for i := 0; i < d.N; i++ {
		y := d.Y[i*ls : (i+1)*ls]
		for _, v := range y {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("train: label of sample %d is %v", i, v)
			}
		}
		if ls == 1 && k > 1 {
			if err := loss.Targets(buf, y, k); err != nil {
				return fmt.Errorf("train: sample %d: %w", i, err)
			}
		}
	}
	return nil
}

func (t *Trainer) step(batch int, training bool) (*step, error) {
	k := stepKey{batch, training}
	if s, ok := t.steps[k]; ok {
		return s, nil
	}
	m := t.Model
	gr, err := m.Graph(batch, training)
	if err != nil {
		return nil, err
	}
	outShape := m.OutputShape()
	target := tensor.New(tensor.WithShape(outShape.WithBatch(batch)...), tensor.Of(tensor.Float32))
	tn := G.NodeFromAny(gr.G, target, G.WithName("target"))
	loss, err := t.Loss.Build(gr.Ctx, gr.Out, tn)
	if err != nil {
		return nil, fmt.Errorf("train: loss %s: %w", t.Loss.Name(), err)
	}
	// As in Keras, the regularizers' penalties are part of the loss in
	// training and in evaluation alike.
	if loss, err = addPenalties(gr, m, loss); err != nil {
		return nil, err
	}
	s := &step{target: target, outSize: outShape.Size(), loss: loss}
	wanted := G.Nodes{loss}
	if training {
		nodes, params := gr.TrainableNodes(m)
		if len(nodes) == 0 {
			return nil, fmt.Errorf("train: model %q has no trainable weights", m.Name)
		}
		if s.grads, err = G.Grad(loss, nodes...); err != nil {
			return nil, fmt.Errorf("train: gradients: %w", err)
		}
		s.params = params
		wanted = append(wanted, s.grads...)
	}
	if s.r, err = graph.NewRunner(gr, wanted...); err != nil {
		return nil, err
	}
	t.steps[k] = s
	return s, nil
}

// addPenalties adds the regularizers' penalties to the loss.
func addPenalties(gr *graph.Graph, m *graph.Model, loss *G.Node) (*G.Node, error) {
	for _, p := range m.Params() {
		n, used := gr.ParamNode(p)
		if !used || !p.Trainable || p.Regularizer == nil {
			continue
		}
		var err error
		if r := p.Regularizer.L2; r != 0 {
			pen := G.Must(G.Mul(G.Must(G.Sum(G.Must(G.Square(n)))), G.NewConstant(float32(r))))
			if loss, err = G.Add(loss, pen); err != nil {
				return nil, err
			}
		}
		if r := p.Regularizer.L1; r != 0 {
			pen := G.Must(G.Mul(G.Must(G.Sum(G.Must(G.Abs(n)))), G.NewConstant(float32(r))))
			if loss, err = G.Add(loss, pen); err != nil {
				return nil, err
			}
		}
	}
	return loss, nil
}

// run feeds samples idx (or a contiguous range when idx is nil, from lo),
// transformed by aug if not nil, and runs the step; it returns the batch's
// loss.
func (t *Trainer) run(s *step, d Data, idx []int, lo int, labels []float32, aug BatchTransform) (float64, error) {
	in := t.Model.InputShape().Size()
	ls := t.Loss.LabelSize(s.outSize)
	x := s.r.Input() // gathered straight into the graph's input
	b := len(x) / in
	labels = labels[:0]
	for i := 0; i < b; i++ {
		j := lo + i
		if idx != nil {
			j = idx[i]
		}
		copy(x[i*in:(i+1)*in], d.X[j*in:(j+1)*in])
		labels = append(labels, d.Y[j*ls:(j+1)*ls]...)
	}
	if aug != nil {
		if err := aug.Apply(x, b, t.Model.InputShape()); err != nil {
			return 0, fmt.Errorf("train: augmenting a batch: %w", err)
		}
	}
	if err := t.Loss.Targets(s.target.Data().([]float32), labels, s.outSize); err != nil {
		return 0, err
	}
	if err := s.r.Exec(); err != nil {
		return 0, err
	}
	v, err := s.r.Value(s.loss)
	if err != nil {
		return 0, err
	}
	return float64(v.Data().(float32)), nil
}

func (t *Trainer) apply(s *step, lr float64) error {
	t.State.Step++
	for i, n := range s.grads {
		gv, err := s.r.Value(n)
		if err != nil {
			return fmt.Errorf("train: gradient of %s: %w", s.params[i].Name, err)
		}
		p := s.params[i]
		t.Optimizer.Update(p.Data(), gv.Data().([]float32), t.slotsOf(p), t.State.Step, lr)
	}
	return nil
}

func (t *Trainer) slotsOf(p *graph.Param) [][]float32 {
	if s, ok := t.slots[p.Name]; ok {
		return s
	}
	var s [][]float32
	for _, name := range t.Optimizer.Slots() {
		v := make([]float32, p.Size())
		if init := t.Optimizer.InitSlot(name); init != 0 {
			for i := range v {
				v[i] = init
			}
		}
		s = append(s, v)
	}
	t.slots[p.Name] = s
	return s
}

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
	// not saved with the trainer: give it again when resuming.
	Schedule Schedule
	// Progress receives the progress bar (default os.Stderr; io.Discard
	// for silence).
	Progress io.Writer
	// Augment, if not nil, transforms every training batch in place after
	// it is gathered and before it is fed (data augmentation, such as an
	// augment.Pipeline); validation and evaluation batches are never
	// transformed. Its random state is its own: Save does not record it,
	// so a resumed run replays the same augmentation only if the caller
	// restores that state (layers of package augment inside the model are
	// saved with it instead).
	Augment BatchTransform
}

// BatchTransform changes a batch of n training inputs in place: x holds n
// samples of the model's per-sample input shape (H, W, C), NHWC, one after
// the other. It must not change the number of values, and should be
// deterministic given its own seeded state, so that runs reproduce.
type BatchTransform interface {
	Apply(x []float32, n int, shape []int) error
}

// Callback is called at the end of each epoch, after validation. It may set
// t.State.Stop to end training.
type Callback interface {
	OnEpochEnd(t *Trainer, logs Logs) error
}

// InterruptHandler is an optional Callback ability: called when Fit is
// interrupted, after the current batch (ModelCheckpoint saves then).
type InterruptHandler interface {
	OnInterrupt(t *Trainer) error
}

// Fit trains the model on d. It stops early when a callback sets
// State.Stop, returns ErrInterrupted (wrapped) when ctx is cancelled, and
// ErrNaN when the loss diverges. The returned History is the whole run's
// (State.History).
func (t *Trainer) Fit(ctx context.Context, d Data, o FitOptions) (History, error) {
	m := t.Model
	in, ls := m.InputShape().Size(), t.Loss.LabelSize(m.OutputShape().Size())
	if o.Epochs == 0 {
		o.Epochs = 1
	}
	if o.BatchSize == 0 {
		o.BatchSize = 32
	}
	if o.Epochs < 0 || o.BatchSize < 0 {
		return t.State.History, fmt.Errorf("train: epochs (%d) and batch size (%d) must be positive", o.Epochs, o.BatchSize)
	}
	if o.Progress == nil {
		o.Progress = os.Stderr
	}
	if err := checkSchedule(o.Schedule); err != nil {
		return t.State.History, err
	}
	if err := d.check(in, ls, "training"); err != nil {
		return t.State.History, err
	}
	val := o.ValidationData
	if o.ValidationSplit != 0 {
		if val != nil {
			return t.State.History, fmt.Errorf("train: give ValidationSplit or ValidationData, not both")
		}
		if !(o.ValidationSplit > 0 && o.ValidationSplit < 1) {
			return t.State.History, fmt.Errorf("train: validation split must be in (0, 1), got %v", o.ValidationSplit)
		}
		var v Data
		d, v = d.split(o.ValidationSplit, in, ls)
		if d.N == 0 || v.N == 0 {
			return t.State.History, fmt.Errorf("train: validation split %v of %d samples leaves an empty set", o.ValidationSplit, d.N+v.N)
		}
		val = &v
	}
	if val != nil {
		if err := val.check(in, ls, "validation"); err != nil {
			return t.State.History, err
		}
	}
	if t.State.History == nil {
		t.State.History = History{}
	}
	t.State.Stop = false
	if err := checkLabels(t.Loss, d, m.OutputShape().Size()); err != nil {
		return t.State.History, err
	}
	t.dropStaleSteps()
	labels := make([]float32, 0, o.BatchSize*ls)
	nb := (d.N + o.BatchSize - 1) / o.BatchSize
	for e := 0; e < o.Epochs && !t.State.Stop; e++ {
		st := &t.State
		if st.Batch > 0 && st.EpochShuffle != nil && (st.BatchSize != o.BatchSize || st.Samples0 != d.N) {
			return st.History, fmt.Errorf("train: the interrupted epoch ran with batch size %d on %d samples; resume it with the same, not %d on %d",
				st.BatchSize, st.Samples0, o.BatchSize, d.N)
		}
		if st.Batch == 0 || st.EpochShuffle == nil {
			st.Batch, st.LossSum, st.Hits, st.Seen, st.Samples = 0, 0, 0, 0, 0
			st.BatchSize, st.Samples0 = o.BatchSize, d.N
			b, err := t.shuffle.MarshalBinary()
			if err != nil {
				return st.History, err
			}
			st.EpochShuffle = b
		} else if err := t.shuffle.UnmarshalBinary(st.EpochShuffle); err != nil {
			return st.History, fmt.Errorf("train: shuffle state: %w", err)
		}
		var perm []int
		if !o.NoShuffle {
			perm = rand.New(t.shuffle).Perm(d.N)
		}
		fmt.Fprintf(o.Progress, "Epoch %d/%d\n", st.Epoch+1, st.Epoch+o.Epochs-e)
		bar := progress.New(o.Progress, nb)
		start := time.Now()
		lr := st.LearningRate // the rate of the epoch's last step, logged as "lr"
		for bi := st.Batch; bi < nb; bi++ {
			lo := bi * o.BatchSize
			b := min(o.BatchSize, d.N-lo)
			s, err := t.step(b, true)
			if err != nil {
				return st.History, err
			}
			var idx []int
			if perm != nil {
				idx = perm[lo : lo+b]
			}
			loss, err := t.run(s, d, idx, lo, labels, o.Augment)
			if err != nil {
				return st.History, err
			}
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				return st.History, fmt.Errorf("%w: %v at epoch %d, batch %d (try a smaller learning rate; the weights are those before this batch)", ErrNaN, loss, st.Epoch+1, bi+1)
			}
			if lr, err = t.learningRate(o.Schedule); err != nil {
				return st.History, err
			}
			if err := t.apply(s, lr); err != nil {
				return st.History, err
			}
			h, n := correct(s.r.Output(), labels[:b*ls], s.outSize, ls == 1 && s.outSize > 1)
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
				for _, c := range o.Callbacks {
					if h, ok := c.(InterruptHandler); ok {
						if err := h.OnInterrupt(t); err != nil {
							return st.History, err
						}
					}
				}
				return st.History, fmt.Errorf("%w: %w", ErrInterrupted, ctx.Err())
			}
		}
		logs := Logs{"loss": st.LossSum / float64(st.Samples), "accuracy": float64(st.Hits) / float64(max(st.Seen, 1))}
		if val != nil {
			r, err := t.Evaluate(*val, max(o.BatchSize, 256))
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
			if err := c.OnEpochEnd(t, logs); err != nil {
				return st.History, err
			}
		}
		if ctx.Err() != nil && e+1 < o.Epochs {
			for _, c := range o.Callbacks {
				if h, ok := c.(InterruptHandler); ok {
					if err := h.OnInterrupt(t); err != nil {
						return st.History, err
					}
				}
			}
			return st.History, fmt.Errorf("%w: %w", ErrInterrupted, ctx.Err())
		}
	}
	return t.State.History, nil
}

// Evaluate computes the loss and accuracy of the model in inference mode
// on every sample of d (the last partial batch included), with the
// confusion matrix and per-class precision and recall for classifiers.
func (t *Trainer) Evaluate(d Data, batch int) (Report, error) {
	m := t.Model
	in, k := m.InputShape().Size(), m.OutputShape().Size()
	ls := t.Loss.LabelSize(k)
	if batch < 1 {
		batch = 32
	}
	if err := d.check(in, ls, "evaluation"); err != nil {
		return Report{}, err
	}
	if err := checkLabels(t.Loss, d, k); err != nil {
		return Report{}, err
	}
	t.dropStaleSteps()
	r := Report{N: d.N}
	classify := k > 1 && (ls == 1 || ls == k)
	if classify {
		r.Confusion = newConfusion(k)
	}
	labels := make([]float32, 0, batch*ls)
	var lossSum float64
	var hits, seen int
	for lo := 0; lo < d.N; lo += batch {
		b := min(batch, d.N-lo)
		s, err := t.step(b, false)
		if err != nil {
			return Report{}, err
		}
		loss, err := t.run(s, d, nil, lo, labels, nil)
		if err != nil {
			return Report{}, err
		}
		lossSum += loss * float64(b)
		out := s.r.Output()
		lab := d.Y[lo*ls : (lo+b)*ls]
		h, n := correct(out, lab, k, ls == 1 && k > 1)
		hits += h
		seen += n
		if classify {
			for i := 0; i < b; i++ {
				truth := int(lab[i])
				if ls == k {
					truth = argmax(lab[i*k : (i+1)*k])
				}
				r.Confusion[truth][argmax(out[i*k:(i+1)*k])]++
			}
		}
	}
	r.Loss = lossSum / float64(d.N)
	r.Accuracy = float64(hits) / float64(max(seen, 1))
	if classify {
		r.finishConfusion()
	}
	return r, nil
}
