package kernels

import "gonum.org/v1/gonum/blas"

// gemmImpl is the single entry point to the BLAS used by every kernel. It
// computes the row-major C = alpha*op(A)*op(B) + beta*C with arguments already
// checked and m, n, k > 0. The default, dispatchGemm, runs OpenBLAS when it
// can be loaded at run time and gonum's pure-Go sgemm otherwise (see
// blas_backend.go, BLASName and CAPA_BLAS). Another BLAS can be swapped in by
// assigning this variable (not concurrently with kernel calls).
var gemmImpl = dispatchGemm

// Gemm computes C = alpha*op(A)*op(B) + beta*C on row-major matrices, where
// op(A) is m×k, op(B) is k×n and C is m×n. If transA is false A is stored as
// an m×k matrix with row stride lda, otherwise as a k×m matrix (A is then
// read transposed); likewise B is k×n (or n×k when transB) with stride ldb.
// C has row stride ldc. With beta == 0, C need not be initialised (NaNs in
// it are overwritten).
//
// Gemm runs on the backend BLASName describes. With OpenBLAS it may use
// several threads per call (SetBLASThreads): callers that run Gemm from
// several goroutines at once should lower that number.
//
// Gemm panics with ErrShape if a dimension is negative, a stride is smaller
// than its row length or a slice is too short for its matrix. C must not
// alias A or B.
func Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(ErrShape)
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	checkMat(a, ar, ac, lda)
	checkMat(b, br, bc, ldb)
	checkMat(c, m, n, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			if beta == 0 {
				clear(row)
				continue
			}
			for j := range row {
				row[j] *= beta
			}
		}
		return
	}
	tA, tB := blas.NoTrans, blas.NoTrans
	if transA {
		tA = blas.Trans
	}
	if transB {
		tB = blas.Trans
	}
	gemmImpl(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// checkMat panics with ErrShape unless s holds a rows×cols row-major matrix
// with row stride ld.
func checkMat(s []float32, rows, cols, ld int) {
	if ld < max(1, cols) {
		panic(ErrShape)
	}
	if rows > 0 && cols > 0 && len(s) < (rows-1)*ld+cols {
		panic(ErrShape)
	}
}
