package kernels

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"
)

// gemmShape is one Gemm problem of the benchmarks.
type gemmShape struct {
	name    string
	tA, tB  bool
	m, n, k int
}

// cnnShapes are the GEMMs of one training step of the practical's CNN
// (28×28×1 → conv 5×5×32 valid → pool 2 → conv 5×5×64 valid → pool 2 →
// dense 1024→10) at batch size batch, as conv.go issues them: forward
// col·W, backward-data dy·Wᵀ, backward-filter colᵀ·dy.
func cnnShapes(batch int) []gemmShape {
	m1, m2 := batch*24*24, batch*8*8
	return []gemmShape{
		{"conv1.fwd", false, false, m1, 32, 25},
		{"conv1.bwdData", false, true, m1, 25, 32},
		{"conv1.bwdFilter", true, false, 25, 32, m1},
		{"conv2.fwd", false, false, m2, 64, 800},
		{"conv2.bwdData", false, true, m2, 800, 64},
		{"conv2.bwdFilter", true, false, 800, 64, m2},
		{"dense.fwd", false, false, batch, 10, 1024},
		{"dense.bwdData", false, true, batch, 1024, 10},
		{"dense.bwdFilter", true, false, 1024, 10, batch},
	}
}

// benchBackends returns gonum and, if present, OpenBLAS.
func benchBackends(b *testing.B) map[string]*blasBackend {
	bs := map[string]*blasBackend{"gonum": gonumBackend}
	if ob := loadBLAS("openblas", new(discard)); ob != gonumBackend {
		bs["openblas"] = ob
	} else {
		b.Log("OpenBLAS not available")
	}
	for _, k := range sgemmKernels() {
		bs["capa-"+k.name] = capaBackend(k, gonumBackend)
	}
	return bs
}

// backendNames lists the benchmarked backends in a fixed order.
var backendNames = []string{"gonum", "openblas", "capa-AVX-512", "capa-AVX2"}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// operands allocates A, B and C for s with tight strides.
func (s gemmShape) operands(rng *rand.Rand) (a, b, c []float32, lda, ldb, ldc int) {
	lda, ldb, ldc = s.k, s.n, s.n
	if s.tA {
		lda = s.m
	}
	if s.tB {
		ldb = s.k
	}
	return randSlice(rng, s.m*s.k), randSlice(rng, s.k*s.n), randSlice(rng, s.m*s.n), lda, ldb, ldc
}

// benchGemm times f on s and reports GFLOP/s (2mnk per call).
func benchGemm(b *testing.B, s gemmShape, f gemmFunc) {
	rng := rand.New(rand.NewPCG(1, 1))
	a, bb, c, lda, ldb, ldc := s.operands(rng)
	tA, tB := transpose(s.tA), transpose(s.tB)
	b.ResetTimer()
	for b.Loop() {
		f(tA, tB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, ldc)
	}
	b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkGemm: the CNN's GEMMs at batch 32 and 64 and a square 512 sgemm,
// on each backend's sgemm directly (no small-size dispatch).
func BenchmarkGemm(b *testing.B) {
	bs := benchBackends(b)
	b.Logf("GOMAXPROCS=%d, default: %s", runtime.GOMAXPROCS(0), BLASName())
	var shapes []gemmShape
	for _, batch := range []int{32, 64} {
		for _, s := range cnnShapes(batch) {
			s.name = fmt.Sprintf("N%d/%s", batch, s.name)
			shapes = append(shapes, s)
		}
	}
	shapes = append(shapes, gemmShape{"square512", false, false, 512, 512, 512})
	for _, s := range shapes {
		for _, name := range backendNames {
			if be := bs[name]; be != nil {
				f := be.sgemm
				if f == nil {
					f = gonumGemm
				}
				b.Run(s.name+"/"+name, func(b *testing.B) { benchGemm(b, s, f) })
			}
		}
	}
}

// BenchmarkGemmSmall finds smallGemm: cubes and skinny products of a few
// thousand to a few hundred thousand multiply-adds, on each backend.
func BenchmarkGemmSmall(b *testing.B) {
	bs := benchBackends(b)
	var shapes []gemmShape
	for _, n := range []int{4, 8, 12, 16, 20, 24, 32, 40, 48, 64} {
		shapes = append(shapes, gemmShape{fmt.Sprintf("cube%d", n), false, false, n, n, n})
	}
	for _, m := range []int{16, 32, 64, 128, 256} {
		shapes = append(shapes, gemmShape{fmt.Sprintf("m%dx10x32", m), false, false, m, 10, 32})
		shapes = append(shapes, gemmShape{fmt.Sprintf("m%dx32x25", m), false, false, m, 32, 25})
		shapes = append(shapes, gemmShape{fmt.Sprintf("m%dx25x32T", m), false, true, m, 25, 32})
	}
	for _, s := range shapes {
		for _, name := range []string{"gonum", "openblas"} {
			if be := bs[name]; be != nil {
				f := be.sgemm
				if f == nil {
					f = gonumGemm
				}
				b.Run(fmt.Sprintf("%s/mnk=%d/%s", s.name, s.m*s.n*s.k, name), func(b *testing.B) { benchGemm(b, s, f) })
			}
		}
	}
}

// BenchmarkGemmParallel runs conv2.fwd at batch 64 from P goroutines at
// once with OpenBLAS set to T threads, to show oversubscription. The metric
// is the aggregate GFLOP/s.
func BenchmarkGemmParallel(b *testing.B) {
	ob := openBLASForTest(b)
	defer SetBLASThreads(0)
	defer useBLAS(ob)()
	s := cnnShapes(64)[3]
	for _, cfg := range [][2]int{{1, 1}, {1, 2}, {2, 1}, {2, 2}, {4, 1}, {4, 2}} {
		p, th := cfg[0], cfg[1]
		b.Run(fmt.Sprintf("goroutines%d/threads%d", p, th), func(b *testing.B) {
			SetBLASThreads(th)
			type buf struct{ a, bb, c []float32 }
			bufs := make([]buf, p)
			rng := rand.New(rand.NewPCG(1, 1))
			for i := range bufs {
				a, bb, c, _, _, _ := s.operands(rng)
				bufs[i] = buf{a, bb, c}
			}
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for i := range p {
				wg.Go(func() {
					for j := i; j < b.N; j += p {
						Gemm(false, false, s.m, s.n, s.k, 1, bufs[i].a, s.k, bufs[i].bb, s.n, 0, bufs[i].c, s.n)
					}
				})
			}
			wg.Wait()
			b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/time.Since(start).Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkGemmThenGo alternates one conv2.fwd GEMM (batch 64) with a
// burst of pure-Go work on GOMAXPROCS goroutines, as a training step
// alternates GEMMs with im2col, pooling and so on, and reports how long the
// Go part takes (goWork-ms): OpenBLAS's idle worker threads keep spinning
// for a while after each call and compete with the goroutines.
func BenchmarkGemmThenGo(b *testing.B) {
	s := cnnShapes(64)[3]
	rng := rand.New(rand.NewPCG(1, 1))
	a, bb, c, _, _, _ := s.operands(rng)
	work := make([][]float32, runtime.GOMAXPROCS(0))
	for i := range work {
		work[i] = randSlice(rng, 1<<16)
	}
	goPart := func() {
		var wg sync.WaitGroup
		for _, w := range work {
			wg.Go(func() {
				for r := 0; r < 4; r++ {
					for i := 1; i < len(w); i++ {
						w[i] = w[i]*0.5 + w[i-1]*0.25
					}
				}
			})
		}
		wg.Wait()
	}
	run := func(b *testing.B, be *blasBackend, threads int) {
		defer useBLAS(be)()
		SetBLASThreads(threads)
		defer SetBLASThreads(0)
		var goTime time.Duration
		for b.Loop() {
			Gemm(false, false, s.m, s.n, s.k, 1, a, s.k, bb, s.n, 0, c, s.n)
			t0 := time.Now()
			goPart()
			goTime += time.Since(t0)
		}
		b.ReportMetric(goTime.Seconds()*1e3/float64(b.N), "goWork-ms")
	}
	b.Run("gonum", func(b *testing.B) { run(b, gonumBackend, 0) })
	ob := openBLASForTest(b)
	for _, th := range []int{1, 2} {
		b.Run(fmt.Sprintf("openblas/threads%d", th), func(b *testing.B) { run(b, ob, th) })
	}
}

// BenchmarkGemmSquare2048 is issue 19's yardstick (ONNX Runtime's MatMul
// of 2048×2048 by 2048×2048): every backend with GOMAXPROCS threads.
func BenchmarkGemmSquare2048(b *testing.B) {
	bs := benchBackends(b)
	s := gemmShape{"square2048", false, false, 2048, 2048, 2048}
	threads := runtime.GOMAXPROCS(0)
	for _, name := range backendNames[1:] {
		if be := bs[name]; be != nil {
			b.Run(name, func(b *testing.B) {
				if be.setThreads != nil {
					be.setThreads(threads)
					defer be.setThreads(1)
				}
				benchGemm(b, s, be.sgemm)
			})
		}
	}
}
