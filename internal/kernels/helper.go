package kernels

import (
	"runtime"
	"sync/atomic"
)

// A helper is a long-lived goroutine that runs the second part of a
// two-part forRange. A goroutine started for each part costs little by
// itself, but waking the idle core it runs on takes a futex call and, on a
// virtual machine, an interrupt: at batch 1 the practical's CNN spent a
// fifth of its time there. The helper spins for helperSpin after each part
// (the next op's part usually comes within microseconds), then parks.
//
// One caller uses the helper at a time (claimed); a forRange that cannot
// claim it (a nested one, or one on another goroutine) starts goroutines
// as before.
type helper struct {
	claimed  atomic.Bool
	task     atomic.Pointer[helperTask]
	sleeping atomic.Bool
	wake     chan struct{} // one token when sleeping was set and a task came
}

type helperTask struct {
	f      func(lo, hi int)
	lo, hi int
	done   atomic.Bool
}

// helperSpin is how many polls of its task slot the helper makes before it
// parks: about 50 µs.
const helperSpin = 20000

var theHelper = startHelper()

func startHelper() *helper {
	h := &helper{wake: make(chan struct{}, 1)}
	go h.loop()
	return h
}

func (h *helper) loop() {
	for {
		t := h.next()
		t.f(t.lo, t.hi)
		t.done.Store(true)
	}
}

// next waits for a task: spinning, then parked.
func (h *helper) next() *helperTask {
	for {
		for i := 0; i < helperSpin; i++ {
			if t := h.task.Swap(nil); t != nil {
				return t
			}
			if i%64 == 63 {
				runtime.Gosched()
			}
		}
		h.sleeping.Store(true)
		if t := h.task.Swap(nil); t != nil {
			if !h.sleeping.CompareAndSwap(true, false) {
				<-h.wake // the submitter saw us sleeping and sent a token
			}
			return t
		}
		<-h.wake
	}
}

// run runs f(lo, hi) on the helper and returns the task to wait on, or nil
// if the helper is claimed by another caller.
func (h *helper) run(f func(lo, hi int), lo, hi int) *helperTask {
	if !h.claimed.CompareAndSwap(false, true) {
		return nil
	}
	t := &helperTask{f: f, lo: lo, hi: hi}
	h.task.Store(t)
	if h.sleeping.CompareAndSwap(true, false) {
		h.wake <- struct{}{}
	}
	return t
}

// wait returns when t is done and releases the helper.
func (h *helper) wait(t *helperTask) {
	for i := 0; !t.done.Load(); i++ {
		if i%64 == 63 {
			runtime.Gosched()
		}
	}
	h.claimed.Store(false)
}
