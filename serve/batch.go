package serve

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// errQueueFull and errClosed are answered 503: the client may retry.
var (
	errQueueFull = errors.New("the model's queue is full")
	errClosed    = errors.New("the server is shutting down")
)

// job is one request's samples, validated against the version v before it
// was queued.
type job struct {
	ctx  context.Context
	v    *version
	x    []float32
	n    int
	done chan result // buffered: the batcher never blocks on it
}

type result struct {
	y   []float32
	v   *version
	err error
}

// batcher gathers the jobs queued for one model into batches of at most
// maxBatch samples (a larger job runs alone) and runs them, one batch at a
// time, with the model's current version: requests
// that arrive while a batch runs form the next one (so batches grow with
// the load), and when more requests are being decoded the batcher waits
// up to maxWait for them.
type batcher struct {
	queue    chan *job
	maxBatch int
	maxWait  time.Duration
	current  func() *version
	observe  func(samples int)
	arriving atomic.Int64 // requests decoding their input, about to queue

	stopOnce sync.Once
	stop     chan struct{}
	stopped  chan struct{}
}

func newBatcher(queue, maxBatch int, maxWait time.Duration, current func() *version, observe func(int)) *batcher {
	b := &batcher{queue: make(chan *job, queue), maxBatch: maxBatch, maxWait: maxWait, current: current, observe: observe,
		stop: make(chan struct{}), stopped: make(chan struct{})}
	go b.run()
	return b
}

// submit queues j, or says why it cannot (the queue is full, the batcher
// stopped).
func (b *batcher) submit(j *job) error {
	select {
	case <-b.stop:
		return errClosed
	default:
	}
	select {
	case b.queue <- j:
		return nil
	default:
		return errQueueFull
	}
}

// close stops the batcher after the batch it is running; the jobs still
// queued are answered errClosed.
func (b *batcher) close() {
	b.stopOnce.Do(func() { close(b.stop) })
	<-b.stopped
}

func (b *batcher) run() {
	defer close(b.stopped)
	var next *job // taken from the queue, but too many samples for the last batch
	for {
		first := next
		next = nil
		if first == nil {
			select {
			case first = <-b.queue:
			case <-b.stop:
				b.drain()
				return
			}
		}
		jobs, n := []*job{first}, first.n
		var timer *time.Timer
		// take adds j to the batch, or keeps it for the next one if the
		// batch would exceed maxBatch samples.
		take := func(j *job) bool {
			if n+j.n > b.maxBatch {
				next = j
				return false
			}
			jobs, n = append(jobs, j), n+j.n
			return true
		}
	gather:
		for n < b.maxBatch {
			select {
			case j := <-b.queue:
				if !take(j) {
					break gather
				}
				continue
			default:
			}
			if b.maxWait <= 0 || b.arriving.Load() == 0 {
				break
			}
			if timer == nil {
				timer = time.NewTimer(b.maxWait)
			}
			select {
			case j := <-b.queue:
				if !take(j) {
					break gather
				}
			case <-timer.C:
				break gather
			case <-b.stop:
				break gather
			}
		}
		if timer != nil {
			timer.Stop()
		}
		b.process(jobs)
	}
}

func (b *batcher) drain() {
	for {
		select {
		case j := <-b.queue:
			j.done <- result{err: errClosed}
		default:
			return
		}
	}
}

// process runs the live jobs as one batch on the current version. A job
// validated against an earlier version of another input shape is refused;
// if the batch fails, each job is run alone, so that one job's failure is
// its own.
func (b *batcher) process(jobs []*job) {
	v := b.current()
	live := jobs[:0:0]
	n := 0
	for _, j := range jobs {
		switch {
		case j.ctx.Err() != nil:
			j.done <- result{err: j.ctx.Err()}
		case !j.v.in.Equal(v.in):
			j.done <- result{err: fmt.Errorf("the model was reloaded with input shape %v during the request (it had %v)", v.in, j.v.in)}
		default:
			live = append(live, j)
			n += j.n
		}
	}
	if len(live) == 0 {
		return
	}
	b.observe(n)
	x := live[0].x
	if len(live) > 1 {
		x = make([]float32, 0, n*v.in.Size())
		for _, j := range live {
			x = append(x, j.x...)
		}
	}
	y, err := v.model.Predict(x, n)
	if err != nil && len(live) > 1 {
		for _, j := range live {
			y, err := v.model.Predict(j.x, j.n)
			j.done <- result{y: y, v: v, err: err}
		}
		return
	}
	k := v.out.Size()
	off := 0
	for _, j := range live {
		if err != nil {
			j.done <- result{err: err}
			continue
		}
		j.done <- result{y: y[off : off+j.n*k : off+j.n*k], v: v}
		off += j.n * k
	}
}
