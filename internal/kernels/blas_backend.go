package kernels

import (
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// BLAS selection.
//
// Gemm runs on one of two backends, chosen once, at the first call of Gemm,
// BLASName or SetBLASThreads:
//
//   - OpenBLAS (or another CBLAS named by CAPA_BLAS), loaded at run time with
//     dlopen through github.com/ebitengine/purego, so that neither building
//     nor running needs cgo or the library;
//   - gonum's pure-Go sgemm, when no library is found, on platforms without
//     run-time loading, in builds tagged capa_noblas, or when CAPA_BLAS=gonum.
//
// The environment variable CAPA_BLAS selects the backend:
//
//	(unset), "auto"  OpenBLAS if found (libopenblas.so.0, libopenblas.so, then
//	                 libblas.so.3 only if it is OpenBLAS), else gonum, silently
//	"gonum"          gonum's pure-Go sgemm
//	"openblas"       like auto, but warns on stderr if OpenBLAS is not found
//	anything else    a file name or path given to dlopen, e.g.
//	                 /opt/OpenBLAS/lib/libopenblas.so; it must export
//	                 cblas_sgemm. If it cannot be loaded, Gemm warns once on
//	                 stderr and uses gonum.
//
// Problems with m*n*k < smallGemm multiply-adds always run on gonum: for
// them the foreign call costs more than it saves.

// smallGemm is the m*n*k below which Gemm stays in Go even when a BLAS is
// loaded. Measured with BenchmarkGemmSmall on a 2-core AVX-512 machine: a
// cblas_sgemm call through purego costs about 1-2 µs and 12 small
// allocations (purego's reflection-based call), so gonum is faster up to
// about 16×16×16 and OpenBLAS is 1.2-2× faster from 5k multiply-adds, 2-5×
// from 25k.
const smallGemm = 4096

// gemmFunc is the signature of a backend's sgemm: gemmImpl's arguments.
type gemmFunc = func(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)

// blasBackend is a loaded BLAS. sgemm is nil for gonum.
type blasBackend struct {
	sgemm      gemmFunc
	name       func() string  // BLASName's answer
	setThreads func(n int)    // nil if the library has no thread control
	inGo       bool           // no foreign call: used for products of any size
	implicit   implicitKernel // Capa's sgemm only: convolutions read in place (conv_implicit.go)
}

var gonumBackend = &blasBackend{name: func() string { return "gonum (pure Go)" }}

var (
	blasOnce sync.Once
	blasCur  atomic.Pointer[blasBackend]
)

// currentBLAS returns the backend, selecting it from CAPA_BLAS on first use.
func currentBLAS() *blasBackend {
	blasOnce.Do(func() { blasCur.Store(loadBLAS(os.Getenv("CAPA_BLAS"), os.Stderr)) })
	return blasCur.Load()
}

// loadBLAS returns the backend that spec (CAPA_BLAS's value) asks for. It
// writes one line to warn if a library was named explicitly but could not be
// loaded, and then returns gonum.
func loadBLAS(spec string, warn io.Writer) *blasBackend {
	switch s := strings.TrimSpace(spec); strings.ToLower(s) {
	case "gonum", "go":
		return gonumBackend
	case "", "auto":
		// Capa's AVX-512 sgemm beats OpenBLAS 0.3.21 (held to its Haswell
		// kernels on Zen 5) 1.1-2.5x on the CNN's products (BenchmarkGemm);
		// on AVX2 machines OpenBLAS's kernels are ahead of Capa's.
		ks := sgemmKernels()
		if len(ks) > 0 && ks[0].nr == 32 {
			return capaBackend(ks[0], openBLASOr(gonumBackend))
		}
		if b := openBLASOr(nil); b != nil {
			return b
		}
		if len(ks) > 0 {
			return capaBackend(ks[0], gonumBackend)
		}
		return gonumBackend
	case "openblas":
		if b := openBLASOr(nil); b != nil {
			return b
		}
		why := "not found (tried " + strings.Join(openBLASCandidates(), ", ") + ")"
		if len(openBLASCandidates()) == 0 {
			_, err := openCBLAS("", true)
			why = err.Error()
		}
		fmt.Fprintf(warn, "capa: CAPA_BLAS=%s: OpenBLAS %s; using gonum (pure Go)\n", s, why)
		return gonumBackend
	case "capa":
		if ks := sgemmKernels(); len(ks) > 0 {
			return capaBackend(ks[0], openBLASOr(gonumBackend))
		}
		fmt.Fprintf(warn, "capa: CAPA_BLAS=%s: this CPU (or build) has no sgemm kernel of Capa's; using gonum (pure Go)\n", s)
		return gonumBackend
	default:
		b, err := openCBLAS(s, false)
		if err != nil {
			fmt.Fprintf(warn, "capa: CAPA_BLAS=%s: %v; using gonum (pure Go)\n", s, err)
			return gonumBackend
		}
		return b
	}
}

// openBLASOr returns OpenBLAS if it can be loaded, else or.
func openBLASOr(or *blasBackend) *blasBackend {
	for _, name := range openBLASCandidates() {
		if b, err := openCBLAS(name, true); err == nil {
			return b
		}
	}
	return or
}

// defaultThreads is the thread count given to a freshly loaded OpenBLAS, or 0
// to leave OpenBLAS's own choice because the user set one of the environment
// variables OpenBLAS reads.
func defaultThreads() int {
	for _, v := range []string{"OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS"} {
		if os.Getenv(v) != "" {
			return 0
		}
	}
	// Kernels run Workers() goroutines, each calling Gemm (see parallel.go):
	// the cores are shared out between them.
	return max(1, runtime.GOMAXPROCS(0)/workers)
}

// BLASName describes the BLAS behind Gemm, e.g.
// "openblas 0.3.21 (pthread, 2 threads, SkylakeX, libopenblas.so.0)" or
// "gonum (pure Go)". Products below a small size run on gonum in either
// case. The first call selects the backend (see CAPA_BLAS above).
func BLASName() string { return currentBLAS().name() }

// SetBLASThreads sets the number of threads OpenBLAS uses for one Gemm call;
// n < 1 restores the default. It does nothing on gonum, whose sgemm spreads
// large products over goroutines. It must not run concurrently with Gemm.
//
// The default is GOMAXPROCS/Workers() threads (or OPENBLAS_NUM_THREADS,
// GOTO_NUM_THREADS or OMP_NUM_THREADS if set): Capa's kernels already call
// Gemm from Workers() goroutines at once (see parallel.go), and every
// further OpenBLAS thread would oversubscribe the cores, which then spend
// their time spinning and switching.
func SetBLASThreads(n int) {
	if n < 1 {
		n = max(1, runtime.GOMAXPROCS(0)/workers)
	}
	if b := currentBLAS(); b.setThreads != nil {
		b.setThreads(n)
	}
}

// dispatchGemm is gemmImpl's default: the loaded BLAS for products of at
// least smallGemm multiply-adds whose sizes fit the library's 32-bit ints,
// gonum otherwise.
func dispatchGemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	runGemm(currentBLAS(), tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// runGemm runs one product on backend be, or on gonum if be is a library
// and the product too small for a foreign call or too large for its ints.
func runGemm(be *blasBackend, tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if be.sgemm != nil && (be.inGo || m*n*k >= smallGemm && fitsInt32(m, n, k, lda, ldb, ldc)) {
		be.sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	gonumGemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// gonumGemm is gonum's pure-Go sgemm.
func gonumGemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gonum.Implementation{}.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func fitsInt32(v ...int) bool {
	for _, x := range v {
		if x > math.MaxInt32 {
			return false
		}
	}
	return true
}
