//go:build (linux || freebsd || darwin) && (amd64 || arm64) && !capa_noblas

package kernels

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/ebitengine/purego"
	"gonum.org/v1/gonum/blas"
)

// CBLAS enumerations (cblas.h).
const (
	cblasRowMajor = 101
	cblasNoTrans  = 111
	cblasTrans    = 112
)

// openBLASCandidates lists the names tried, in order, when CAPA_BLAS is
// unset. Generic BLAS names are accepted only if they turn out to be OpenBLAS.
func openBLASCandidates() []string {
	if runtime.GOOS == "darwin" {
		return []string{"libopenblas.dylib", "/opt/homebrew/opt/openblas/lib/libopenblas.dylib", "/usr/local/opt/openblas/lib/libopenblas.dylib"}
	}
	return []string{"libopenblas.so.0", "libopenblas.so", "libblas.so.3"}
}

// cblasLib holds the functions of a dlopened CBLAS. All but sgemm may be nil.
type cblasLib struct {
	file      string
	sgemm     func(order, transA, transB, m, n, k int32, alpha float32, a *float32, lda int32, b *float32, ldb int32, beta float32, c *float32, ldc int32)
	setNum    func(n int32)
	getNum    func() int32
	getConfig func() string
	getCore   func() string
	getPar    func() int32
}

// openCBLAS dlopens file and returns a backend calling its cblas_sgemm. With
// requireOpenBLAS, a library without openblas_set_num_threads is refused
// (and closed), so that a reference libblas is never picked by default.
func openCBLAS(file string, requireOpenBLAS bool) (*blasBackend, error) {
	h, err := purego.Dlopen(file, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return nil, err
	}
	sym := func(name string) uintptr {
		p, err := purego.Dlsym(h, name)
		if err != nil {
			return 0
		}
		return p
	}
	sgemm := sym("cblas_sgemm")
	setNum := sym("openblas_set_num_threads")
	if sgemm == 0 || (requireOpenBLAS && setNum == 0) {
		purego.Dlclose(h)
		if sgemm == 0 {
			return nil, fmt.Errorf("%s exports no cblas_sgemm", file)
		}
		return nil, fmt.Errorf("%s is not OpenBLAS", file)
	}
	l := &cblasLib{file: file}
	purego.RegisterFunc(&l.sgemm, sgemm)
	register := func(fptr any, name string) {
		if p := sym(name); p != 0 {
			purego.RegisterFunc(fptr, p)
		}
	}
	register(&l.setNum, "openblas_set_num_threads")
	register(&l.getNum, "openblas_get_num_threads")
	register(&l.getConfig, "openblas_get_config")
	register(&l.getCore, "openblas_get_corename")
	register(&l.getPar, "openblas_get_parallel")
	b := &blasBackend{sgemm: l.gemm, name: l.name}
	if l.setNum != nil {
		b.setThreads = func(n int) { l.setNum(int32(min(n, 1<<20))) }
		if n := defaultThreads(); n > 0 {
			b.setThreads(n)
		}
	}
	return b, nil
}

// gemm calls cblas_sgemm; Gemm has checked the arguments and that m, n, k > 0.
func (l *cblasLib) gemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	l.sgemm(cblasRowMajor, cblasTranspose(tA), cblasTranspose(tB), int32(m), int32(n), int32(k),
		alpha, &a[0], int32(lda), &b[0], int32(ldb), beta, &c[0], int32(ldc))
}

func cblasTranspose(t blas.Transpose) int32 {
	if t == blas.NoTrans {
		return cblasNoTrans
	}
	return cblasTrans
}

// name describes the library, e.g.
// "openblas 0.3.21 (pthread, 2 threads, SkylakeX, libopenblas.so.0)".
func (l *cblasLib) name() string {
	if l.getConfig == nil {
		return "cblas (" + l.file + ")"
	}
	s := "openblas"
	if f := strings.Fields(l.getConfig()); len(f) > 1 && strings.EqualFold(f[0], "OpenBLAS") {
		s += " " + f[1]
	}
	var info []string
	if l.getPar != nil {
		switch l.getPar() {
		case 0:
			info = append(info, "sequential")
		case 1:
			info = append(info, "pthread")
		case 2:
			info = append(info, "openmp")
		}
	}
	if l.getNum != nil {
		if n := l.getNum(); n == 1 {
			info = append(info, "1 thread")
		} else {
			info = append(info, fmt.Sprintf("%d threads", n))
		}
	}
	if l.getCore != nil {
		info = append(info, l.getCore())
	}
	info = append(info, filepath.Base(l.file))
	return s + " (" + strings.Join(info, ", ") + ")"
}
