package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestSgemmKernels compares each of this CPU's sgemm kernels with gonum's
// sgemm on shapes around the tile and block sizes, with both transposes,
// strides wider than the rows, alpha and beta (beta 0 with NaNs in C), on
// one goroutine and split over two.
func TestSgemmKernels(t *testing.T) {
	ks := sgemmKernels()
	if len(ks) == 0 {
		t.Skip("no sgemm kernel for this CPU or build")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	shapes := [][3]int{{1, 1, 1}, {14, 32, 1}, {13, 31, 7}, {15, 33, 9}, {6, 16, 3}, {7, 17, 300}, {169, 65, 257}, {28, 1025, 20}, {576, 32, 25}, {64, 64, 800}, {300, 10, 512}, {3, 2000, 5}}
	old := sgemmThreads
	defer func() { sgemmThreads = old }()
	for _, ker := range ks {
		for _, threads := range []int{1, 2} {
			sgemmThreads = threads
			for _, s := range shapes {
				for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
					for _, ab := range [][2]float32{{1, 0}, {0.5, 1}, {-1.5, 0.25}} {
						m, n, k := s[0], s[1], s[2]
						name := fmt.Sprintf("%s/%dthreads/%dx%dx%d/trans%v/alpha%v,beta%v", ker.name, threads, m, n, k, tr, ab[0], ab[1])
						checkSgemm(t, name, ker, rng, m, n, k, tr[0], tr[1], ab[0], ab[1])
					}
				}
			}
		}
	}
}

func checkSgemm(t *testing.T, name string, ker *sgemmKernel, rng *rand.Rand, m, n, k int, transA, transB bool, alpha, beta float32) {
	t.Helper()
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	lda, ldb, ldc := ac+3, bc+1, n+5
	fill := func(rows, ld int) []float32 {
		x := make([]float32, rows*ld)
		for i := range x {
			x[i] = rng.Float32()*2 - 1
		}
		return x
	}
	a, b := fill(ar, lda), fill(br, ldb)
	c := fill(m, ldc)
	if beta == 0 {
		for i := range c {
			c[i] = float32(math.NaN())
		}
	}
	orig := append([]float32(nil), c...)
	want := append([]float32(nil), c...)
	if beta == 0 {
		clear(want)
	}
	tA, tB := transpose(transA), transpose(transB)
	gonumGemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, want, ldc)
	sgemmWith(ker, tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	for i := 0; i < m; i++ {
		for j := 0; j < ldc; j++ {
			got, w := c[i*ldc+j], want[i*ldc+j]
			if j >= n {
				if math.Float32bits(got) != math.Float32bits(orig[i*ldc+j]) {
					t.Fatalf("%s: C[%d][%d], past the row, = %v, was %v", name, i, j, got, orig[i*ldc+j])
				}
				continue
			}
			if d := math.Abs(float64(got - w)); d > 1e-5*float64(k)+1e-6 || got != got {
				t.Fatalf("%s: C[%d][%d] = %v, gonum %v", name, i, j, got, w)
			}
		}
	}
}
