package kernels

import (
	"bytes"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Parallelism.
//
// Kernels split their work by sample (or by rows) across Workers()
// goroutines, and each part calls Gemm on its own rows. So that the cores
// are not oversubscribed, OpenBLAS then runs single-threaded (see
// SetBLASThreads): the parallelism is Capa's, over the batch, for every
// kernel alike, not OpenBLAS's inside each product.

var workers = runtime.GOMAXPROCS(0)

// Workers returns the number of goroutines a kernel spreads its work over.
func Workers() int { return workers }

// SetWorkers sets the number of goroutines kernels use (n < 1: GOMAXPROCS)
// and gives OpenBLAS the cores left to each, GOMAXPROCS/n threads. It must
// not run concurrently with kernels.
func SetWorkers(n int) {
	if n < 1 {
		n = runtime.GOMAXPROCS(0)
	}
	workers = n
	SetBLASThreads(max(1, runtime.GOMAXPROCS(0)/n))
}

// forRange calls f on up to Workers() contiguous parts [lo, hi) of [0, n),
// concurrently, and returns when all are done. Parts smaller than minPart
// items are merged, so tiny problems run on the calling goroutine.
func forRange(n, minPart int, f func(lo, hi int)) {
	w := min(workers, n/max(minPart, 1))
	if w <= 1 {
		f(0, n)
		return
	}
	if w == 2 {
		if t := theHelper.run(f, n/2, n); t != nil {
			// Deferred: a panic in f (recovered above) must not leave
			// the helper claimed.
			defer theHelper.wait(t)
			f(0, n/2)
			return
		}
	}
	var wg sync.WaitGroup
	wg.Add(w - 1)
	for i := 1; i < w; i++ {
		go func(lo, hi int) {
			defer wg.Done()
			f(lo, hi)
		}(i*n/w, (i+1)*n/w)
	}
	f(0, n/w)
	wg.Wait()
}

// partials lends float32 buffers for per-worker partial sums (gradients of
// weights shared by the whole batch), reused across calls.
var partials = sync.Pool{New: func() any { return new([]float32) }}

func getPartial(n int) *[]float32 {
	p := partials.Get().(*[]float32)
	if cap(*p) < n {
		*p = make([]float32, n)
	}
	*p = (*p)[:n]
	return p
}

// reduceParts runs part(dst, lo, hi) on up to Workers() parts of [0, n),
// the first writing into dst and the others into lent buffers of len(dst),
// then adds the others into dst. part must overwrite (not accumulate into)
// the buffer it is given.
func reduceParts(dst []float32, n, minPart int, part func(buf []float32, lo, hi int)) {
	w := min(workers, n/max(minPart, 1))
	if w <= 1 {
		part(dst, 0, n)
		return
	}
	bufs := make([]*[]float32, w) // w is small: one tiny allocation
	var wg sync.WaitGroup
	wg.Add(w - 1)
	for i := 1; i < w; i++ {
		bufs[i] = getPartial(len(dst))
		go func(buf []float32, lo, hi int) {
			defer wg.Done()
			part(buf, lo, hi)
		}(*bufs[i], i*n/w, (i+1)*n/w)
	}
	part(dst, 0, n/w)
	wg.Wait()
	for i := 1; i < w; i++ {
		for j, v := range *bufs[i] {
			dst[j] += v
		}
		partials.Put(bufs[i])
	}
}

// SameBits reports whether a and b hold the same float32 bit patterns (NaNs
// equal to themselves, -0 different from +0), the workers comparing parts
// of them at once: a check that reads large weights at every call, bound by
// memory bandwidth, which one core does not exhaust.
func SameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 {
		return true
	}
	var differ atomic.Bool
	forRange(len(a), 1<<16, func(lo, hi int) {
		if !bytes.Equal(unsafe.Slice((*byte)(unsafe.Pointer(&a[lo])), 4*(hi-lo)),
			unsafe.Slice((*byte)(unsafe.Pointer(&b[lo])), 4*(hi-lo))) {
			differ.Store(true)
		}
	})
	return !differ.Load()
}
