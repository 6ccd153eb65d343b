package graph

import (
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"unsafe"
)

// Distributed is the communicator of a data-parallel run
// (FitOptions.Distributed; internal/mpi's World implements it over MPI):
// Size processes train one model, each on its share of every global batch
// of Size × BatchSize samples, and sum their gradients before each
// optimizer step, so that every process takes the same step.
type Distributed interface {
	// Rank is this process's index, 0 to Size()-1.
	Rank() int
	// Size is the number of processes.
	Size() int
	// AllreduceSum replaces buf by its element-wise sum over the processes.
	AllreduceSum(buf []float32) error
	// AllreduceMax64 replaces buf by its element-wise maximum.
	AllreduceMax64(buf []float64) error
	// Broadcast copies process 0's buf into every process's.
	Broadcast(buf []float32) error
}

// distBucket is the number of float32 values summed in one all-reduce.
const distBucket = 1 << 20

// distSync makes every process start from process 0's weights and
// checks that they then agree.
func (m *Model) distSync(dist Distributed) error {
	for _, p := range m.Params() {
		if err := dist.Broadcast(p.Data()); err != nil {
			return fmt.Errorf("graph: broadcasting %s: %w", p.Name, err)
		}
	}
	return m.distCheck(dist, "at the start")
}

// distCheck compares a checksum of the weights over the processes: a
// process whose weights differ fails every process at once, naming when.
func (m *Model) distCheck(dist Distributed, when string) error {
	h := fnv.New64a()
	for _, p := range m.Params() {
		d := p.Data()
		if len(d) > 0 {
			h.Write(unsafe.Slice((*byte)(unsafe.Pointer(&d[0])), 4*len(d)))
		}
	}
	c := float64(h.Sum64() >> 12) // exact in a float64
	v := []float64{c, -c}
	if err := dist.AllreduceMax64(v); err != nil {
		return fmt.Errorf("graph: comparing the weights: %w", err)
	}
	if v[0] != -v[1] {
		return fmt.Errorf("graph: the %d processes' weights differ %s (checksums from %.0f to %.0f): the run cannot go on", dist.Size(), when, -v[1], v[0])
	}
	return nil
}

// distBatch is trainBatch of a data-parallel run: this process runs its
// share (b samples at idx, or from lo; none when b is 0), the gradients
// weighted by b are summed over the processes with the loss and the batch
// size, and every process applies the same step with their mean. The
// moving statistics of batch normalization are averaged too. It returns
// the global batch's mean loss and size, and this process's accuracy
// counts.
func (m *Model) distBatch(d Data, idx []int, lo, b int, labels []float32, o *FitOptions, bi int, lr *float64) (loss float64, total, hits, seen int, err error) {
	dist := o.Distributed
	k := compiledKey{batch: max(b, 1), training: true, loss: true}
	s, gen, err := m.take(k)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	defer m.give(k, s, gen)
	n := 0
	for _, p := range s.params {
		n += p.Size()
	}
	buf := make([]float32, n+2)
	if b > 0 {
		l, err := m.run(s, d, idx, lo, labels, o.Augment)
		if err != nil {
			return 0, 0, 0, 0, err
		}
		off := 0
		for i, g := range s.grads {
			gv, err := s.r.Value(g)
			if err != nil {
				return 0, 0, 0, 0, fmt.Errorf("graph: gradient of %s: %w", s.params[i].Name, err)
			}
			for j, v := range gv.Data().([]float32) {
				buf[off+j] = v * float32(b)
			}
			off += s.params[i].Size()
		}
		buf[n], buf[n+1] = float32(b), float32(l*float64(b))
		hits, seen = s.acc.correct(s.r.Output(), labels[:b*m.loss.LabelSize(s.outSize)], s.outSize)
	}
	// In buckets of 4 MB (one for the practical CNN's 249 kB). Gorgonia runs
	// the backward pass as one call, so a bucket cannot start before it
	// ends: the all-reduce follows the backward pass.
	for rest := buf; len(rest) > 0; {
		k := min(len(rest), distBucket)
		if err := dist.AllreduceSum(rest[:k]); err != nil {
			return 0, 0, 0, 0, fmt.Errorf("graph: summing the gradients: %w", err)
		}
		rest = rest[k:]
	}
	total = int(buf[n])
	loss = float64(buf[n+1]) / float64(total)
	st := &m.State
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return 0, 0, 0, 0, fmt.Errorf("%w: %v at epoch %d, batch %d (try a smaller learning rate than %v; the weights are those before this batch)",
			ErrNaN, loss, st.Epoch+1, bi+1, st.LearningRate)
	}
	for _, c := range o.Callbacks {
		if bc, ok := c.(BatchCallback); ok {
			if err := bc.OnBatchEnd(m, bi, loss); err != nil {
				return 0, 0, 0, 0, err
			}
		}
	}
	if *lr, err = m.learningRate(o.Schedule); err != nil {
		return 0, 0, 0, 0, err
	}
	st.Step++
	inv := 1 / float32(total)
	off := 0
	for _, p := range s.params {
		g := buf[off : off+p.Size()]
		for j := range g {
			g[j] *= inv
		}
		m.optimizer.Update(p.Data(), g, m.OptimizerSlots(p), st.Step, *lr)
		off += p.Size()
	}
	if err := m.distAverageStatistics(dist); err != nil {
		return 0, 0, 0, 0, err
	}
	return loss, total, hits, seen, nil
}

// distAverageStatistics averages batch normalization's moving statistics
// over the processes (each updated them with its own share of the batch).
func (m *Model) distAverageStatistics(dist Distributed) error {
	inv := 1 / float32(dist.Size())
	for _, l := range m.Layers() {
		if l.Class() != "BatchNormalization" {
			continue
		}
		for _, p := range ParamsOf(l) {
			if !strings.Contains(p.Name, "moving_") {
				continue
			}
			if err := dist.AllreduceSum(p.Data()); err != nil {
				return fmt.Errorf("graph: averaging %s: %w", p.Name, err)
			}
			for i := range p.Data() {
				p.Data()[i] *= inv
			}
		}
	}
	return nil
}
