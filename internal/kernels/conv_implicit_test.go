package kernels

import (
	"math"
	"math/rand"
	"testing"

	"gonum.org/v1/gonum/blas"
)

// TestImplicitConvMatchesIm2col checks the implicit GEMM against im2col
// followed by Capa's sgemm on the same kernel, bit for bit, and against a
// float64 sum: windows whose k crosses segments and sgemmKC blocks, strides,
// rectangular windows, odd segment lengths, partial tiles of 4 and 8 rows,
// chunks that start inside the batch.
func TestImplicitConvMatchesIm2col(t *testing.T) {
	ks := sgemmKernels()
	if len(ks) == 0 || ks[0].implicit == nil {
		t.Skip("no AVX-512 implicit kernel on this CPU")
	}
	ker := ks[0]
	cases := []struct {
		name  string
		p     Window
		f     int
		r, re int // output rows (n, oy) computed
	}{
		{"practical conv2", Window{N: 3, H: 12, W: 12, C: 32, KH: 5, KW: 5, SH: 1, SW: 1}, 64, 0, 24},
		{"chunk inside the batch", Window{N: 3, H: 12, W: 12, C: 32, KH: 5, KW: 5, SH: 1, SW: 1}, 64, 5, 19},
		{"stride 2", Window{N: 2, H: 9, W: 9, C: 16, KH: 3, KW: 3, SH: 2, SW: 2}, 32, 0, 8},
		{"partial tile of 4 rows", Window{N: 1, H: 6, W: 6, C: 8, KH: 3, KW: 3, SH: 1, SW: 1}, 32, 0, 4},
		{"partial tile of 8 rows", Window{N: 1, H: 10, W: 10, C: 8, KH: 3, KW: 3, SH: 1, SW: 1}, 96, 1, 6},
		{"rectangular, odd segments", Window{N: 2, H: 7, W: 10, C: 5, KH: 2, KW: 3, SH: 1, SW: 1}, 96, 0, 12},
		{"practical conv1, one channel", Window{N: 2, H: 28, W: 28, C: 1, KH: 5, KW: 5, SH: 1, SW: 1}, 32, 0, 48},
		{"wide window", Window{N: 1, H: 14, W: 14, C: 3, KH: 7, KW: 7, SH: 1, SW: 2}, 32, 0, 8},
	}
	rng := rand.New(rand.NewSource(3))
	for _, c := range cases {
		p, f := c.p, c.f
		if implicitConv(p, f) == nil && currentBLAS().implicit != nil {
			t.Fatalf("%s: implicitConv refuses %+v", c.name, p)
		}
		x := make([]float32, p.InLen())
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		k := p.KH * p.KW * p.C
		kernel := make([]float32, k*f)
		for i := range kernel {
			kernel[i] = float32(rng.NormFloat64())
		}
		ow := p.OutW()
		m := (c.re - c.r) * ow
		got := make([]float32, m*f)
		for i := range got {
			got[i] = float32(math.NaN()) // every value must be written
		}
		convImplicit(ker.implicit, got, x, kernel, p, f, c.r, c.re)
		col := make([]float32, m*k)
		im2colRows(col, x, p, c.r, c.re)
		want := make([]float32, m*f)
		sgemmWith(ker, blas.NoTrans, blas.NoTrans, m, f, k, 1, col, k, kernel, f, 0, want, f)
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s: value %d (pixel %d, filter %d) = %v, im2col and sgemm give %v", c.name, i, i/f, i%f, got[i], want[i])
			}
		}
		if p.C == 1 {
			// One channel used to go transposed (im2colT, the Trans kernel).
			colT := make([]float32, m*k)
			im2colTRows(colT, x, p, c.r, c.re)
			sgemmWith(ker, blas.Trans, blas.NoTrans, m, f, k, 1, colT, m, kernel, f, 0, want, f)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s: value %d = %v, im2colT and sgemm give %v", c.name, i, got[i], want[i])
				}
			}
		}
		for i := 0; i < m; i++ {
			for j := 0; j < f; j++ {
				var s float64
				for q := 0; q < k; q++ {
					s += float64(col[i*k+q]) * float64(kernel[q*f+j])
				}
				if d := math.Abs(float64(got[i*f+j]) - s); d > 1e-4*(1+math.Abs(s)) {
					t.Fatalf("%s: value (%d, %d) = %v, the float64 sum is %v", c.name, i, j, got[i*f+j], s)
				}
			}
		}
	}
}

// TestImplicitConvRefuses checks the windows the implicit GEMM leaves to
// im2col.
func TestImplicitConvRefuses(t *testing.T) {
	if currentBLAS().implicit == nil {
		t.Skip("the backend has no implicit kernel")
	}
	ok := Window{N: 1, H: 12, W: 12, C: 32, KH: 5, KW: 5, SH: 1, SW: 1}
	if implicitConv(ok, 64) == nil {
		t.Fatal("implicitConv refuses the practical's second convolution")
	}
	padded := ok
	padded.PadTop, padded.PadBottom, padded.PadLeft, padded.PadRight = 2, 2, 2, 2
	narrow := ok
	narrow.W = 13 // OutW 9
	for name, c := range map[string]struct {
		p Window
		f int
	}{"padding": {padded, 64}, "output width 9": {narrow, 64}, "48 filters": {ok, 48}} {
		if implicitConv(c.p, c.f) != nil {
			t.Errorf("implicitConv takes the window with %s", name)
		}
	}
}
