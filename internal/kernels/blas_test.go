package kernels

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"gonum.org/v1/gonum/blas"
)

// openBLASForTest loads OpenBLAS as CAPA_BLAS=openblas would, whatever
// CAPA_BLAS says, or skips the test on a machine without it.
func openBLASForTest(t testing.TB) *blasBackend {
	t.Helper()
	var warn bytes.Buffer
	b := loadBLAS("openblas", &warn)
	if b == gonumBackend {
		t.Skipf("OpenBLAS not available, nothing to compare with gonum: %s", strings.TrimSpace(warn.String()))
	}
	return b
}

// useBLAS makes b the backend of Gemm until the returned function runs. It
// is the test hook for CAPA_BLAS, which is read only once per process.
func useBLAS(b *blasBackend) (restore func()) {
	old := currentBLAS()
	blasCur.Store(b)
	return func() { blasCur.Store(old) }
}

// gemmCase is a random Gemm problem: odd sizes, strides larger than the row
// length, alpha and beta != 1 and 0, and beta == 0 over a NaN-filled C.
type gemmCase struct {
	tA, tB        bool
	m, n, k       int
	alpha, beta   float32
	a, b, c       []float32
	lda, ldb, ldc int
	want          []float64
	cBefore       []float32
}

func newGemmCase(rng *rand.Rand, tA, tB bool, m, n, k int) *gemmCase {
	g := &gemmCase{tA: tA, tB: tB, m: m, n: n, k: k}
	ar, ac := m, k
	if tA {
		ar, ac = k, m
	}
	br, bc := k, n
	if tB {
		br, bc = n, k
	}
	g.lda, g.ldb, g.ldc = ac+rng.IntN(4), bc+rng.IntN(4), n+rng.IntN(4)
	g.a, g.b = randSlice(rng, (ar-1)*g.lda+ac), randSlice(rng, (br-1)*g.ldb+bc)
	g.c = randSlice(rng, m*g.ldc) // the last row's padding too: it must survive
	g.alpha = float32(rng.Float64()*4 - 2)
	g.beta = []float32{0, 0, 1, -0.5, 1.75}[rng.IntN(5)]
	if g.beta == 0 {
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				g.c[i*g.ldc+j] = float32(math.NaN())
			}
		}
	}
	g.cBefore = append([]float32(nil), g.c...)
	g.want = naiveGemm(tA, tB, m, n, k, g.alpha, g.a, g.lda, g.b, g.ldb, g.beta, g.c, g.ldc)
	return g
}

func (g *gemmCase) String() string {
	return fmt.Sprintf("tA=%v tB=%v m=%d n=%d k=%d lda=%d ldb=%d ldc=%d alpha=%v beta=%v", g.tA, g.tB, g.m, g.n, g.k, g.lda, g.ldb, g.ldc, g.alpha, g.beta)
}

// check compares C with the naive result and checks that the gaps between
// rows (columns n..ldc-1) are untouched.
func (g *gemmCase) check(t *testing.T, what string, c []float32) {
	t.Helper()
	got := make([]float32, 0, g.m*g.n)
	for i := 0; i < g.m; i++ {
		got = append(got, c[i*g.ldc:i*g.ldc+g.n]...)
		for j := g.n; j < g.ldc; j++ {
			if c[i*g.ldc+j] != g.cBefore[i*g.ldc+j] {
				t.Fatalf("%s %v: wrote C[%d,%d] outside the matrix", what, g, i, j)
			}
		}
	}
	assertClose(t, what+" "+g.String(), got, g.want, 2e-4)
}

func transpose(t bool) blas.Transpose {
	if t {
		return blas.Trans
	}
	return blas.NoTrans
}

// run computes the case with a backend's sgemm directly, bypassing the
// small-size dispatch, on a copy of C.
func (g *gemmCase) run(f gemmFunc) []float32 {
	c := append([]float32(nil), g.cBefore...)
	f(transpose(g.tA), transpose(g.tB), g.m, g.n, g.k, g.alpha, g.a, g.lda, g.b, g.ldb, g.beta, c, g.ldc)
	return c
}

// gemmShapes returns random odd shapes, small ones and some large enough for
// OpenBLAS's multithreaded path, each with all four transpose combinations.
func gemmCases(rng *rand.Rand) []*gemmCase {
	var cs []*gemmCase
	for it := 0; it < 40; it++ {
		m, n, k := 1+rng.IntN(70), 1+rng.IntN(70), 1+rng.IntN(70)
		if it%8 == 0 {
			m, n, k = 100+rng.IntN(200), 30+rng.IntN(150), 50+rng.IntN(300)
		}
		for _, tt := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			cs = append(cs, newGemmCase(rng, tt[0], tt[1], m, n, k))
		}
	}
	return cs
}

func TestGemmBackends(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	cs := gemmCases(rng)
	t.Run("gonum", func(t *testing.T) {
		for _, g := range cs {
			g.check(t, "gonum", g.run(gonumGemm))
		}
	})
	t.Run("openblas", func(t *testing.T) {
		ob := openBLASForTest(t)
		t.Logf("comparing %s", ob.name())
		for _, g := range cs {
			g.check(t, "openblas", g.run(ob.sgemm))
		}
		// Through Gemm, small and large products, with the dispatch.
		defer useBLAS(ob)()
		for _, g := range cs {
			g.check(t, "Gemm on openblas", g.run(func(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
				Gemm(tA == blas.Trans, tB == blas.Trans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
			}))
		}
	})
}

// TestGemmConcurrent runs Gemm from several goroutines at once on the
// current backend (OpenBLAS must be safe to call from several threads).
func TestGemmConcurrent(t *testing.T) {
	t.Logf("backend: %s", BLASName())
	rng := rand.New(rand.NewPCG(5, 6))
	var cs []*gemmCase
	for i := 0; i < 8; i++ {
		cs = append(cs, newGemmCase(rng, i%2 == 1, i%4 >= 2, 150+rng.IntN(100), 60+rng.IntN(60), 200+rng.IntN(300)))
	}
	var wg sync.WaitGroup
	out := make([][]float32, len(cs))
	for i, g := range cs {
		wg.Go(func() {
			for range 5 {
				out[i] = g.run(func(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
					Gemm(tA == blas.Trans, tB == blas.Trans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
				})
			}
		})
	}
	wg.Wait()
	for i, g := range cs {
		g.check(t, "concurrent", out[i])
	}
}

func TestLoadBLAS(t *testing.T) {
	var warn bytes.Buffer
	if b := loadBLAS("gonum", &warn); b != gonumBackend || warn.Len() != 0 {
		t.Errorf(`loadBLAS("gonum") = %q, warning %q; want gonum, silently`, b.name(), warn.String())
	}
	if b := loadBLAS("", &warn); warn.Len() != 0 {
		t.Errorf(`loadBLAS("") warned %q; the automatic choice must be silent`, warn.String())
	} else {
		t.Logf("automatic choice: %s", b.name())
		if b != gonumBackend && !strings.HasPrefix(b.name(), "openblas ") && !strings.HasPrefix(b.name(), "capa ") {
			t.Errorf(`loadBLAS("") = %q, want capa, openblas or gonum`, b.name())
		}
		if ks := sgemmKernels(); len(ks) > 0 && ks[0].nr == 32 && !strings.HasPrefix(b.name(), "capa AVX-512") {
			t.Errorf(`loadBLAS("") = %q on an AVX-512 CPU, want Capa's AVX-512 sgemm`, b.name())
		}
	}
	if b := loadBLAS("capa", &warn); len(sgemmKernels()) > 0 && (!strings.HasPrefix(b.name(), "capa ") || warn.Len() != 0) {
		t.Errorf(`loadBLAS("capa") = %q, warning %q`, b.name(), warn.String())
	}
	b := loadBLAS("/nonexistent/libblas.so", &warn)
	if b != gonumBackend {
		t.Errorf("nonexistent library gave %q, want gonum", b.name())
	}
	if w := warn.String(); strings.Count(w, "\n") != 1 || !strings.HasSuffix(w, "\n") || !strings.Contains(w, "CAPA_BLAS=/nonexistent/libblas.so") || !strings.Contains(w, "gonum") {
		t.Errorf("warning for a nonexistent library = %q, want one line naming it and gonum", w)
	}
}

func TestUseBLASHook(t *testing.T) {
	restore := useBLAS(gonumBackend)
	if got := BLASName(); got != "gonum (pure Go)" {
		t.Errorf("BLASName() = %q with gonum selected", got)
	}
	SetBLASThreads(1) // a no-op on gonum
	restore()
}

func TestSetBLASThreads(t *testing.T) {
	ob := openBLASForTest(t)
	defer useBLAS(ob)()
	SetBLASThreads(1)
	if got := BLASName(); !strings.Contains(got, "1 thread,") {
		t.Errorf("after SetBLASThreads(1), BLASName() = %q", got)
	}
	SetBLASThreads(0)
	if got, want := BLASName(), fmt.Sprintf("%d thread", defaultThreads()); defaultThreads() > 0 && !strings.Contains(got, want) {
		t.Errorf("after SetBLASThreads(0), BLASName() = %q, want %q", got, want)
	}
}

// TestCAPABLASEnv runs this test binary again with CAPA_BLAS set, to check
// the variable itself rather than the hook.
func TestCAPABLASEnv(t *testing.T) {
	if os.Getenv("CAPA_BLAS_CHILD") != "" {
		fmt.Printf("BLASName=%s\n", BLASName())
		return
	}
	if testing.Short() {
		t.Skip("runs a child process")
	}
	for _, tc := range []struct{ env, want, stderr string }{
		{"gonum", "BLASName=gonum (pure Go)", ""},
		{"/nonexistent.so", "BLASName=gonum (pure Go)", "capa: CAPA_BLAS=/nonexistent.so: "},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCAPABLASEnv$")
		cmd.Env = append(os.Environ(), "CAPA_BLAS_CHILD=1", "CAPA_BLAS="+tc.env)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("CAPA_BLAS=%s: %v\n%s", tc.env, err, stderr.String())
		}
		if !strings.Contains(stdout.String(), tc.want+"\n") {
			t.Errorf("CAPA_BLAS=%s: output %q, want %q", tc.env, stdout.String(), tc.want)
		}
		if !strings.HasPrefix(stderr.String(), tc.stderr) || (tc.stderr == "") != (stderr.Len() == 0) || strings.Count(stderr.String(), "\n") > 1 {
			t.Errorf("CAPA_BLAS=%s: stderr %q, want one line starting %q", tc.env, stderr.String(), tc.stderr)
		}
	}
}
