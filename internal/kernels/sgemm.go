package kernels

import (
	"fmt"
	"sync"

	"gonum.org/v1/gonum/blas"
)

// Capa's own sgemm: cache-blocked and packed as in GotoBLAS and BLIS, with
// an assembly microkernel for this CPU (sgemm_amd64.s: AVX-512 14×32, or
// AVX2 6×16). The loops, outermost first:
//
//	jc: NC columns of B and C        (B's block, kc×NC, stays in L2/L3)
//	pc: KC of the k dimension         (B block packed in NR-wide panels)
//	ic: MC rows of A and C            (A's block, MC×kc, in L2)
//	jr, ir: NR×MR tiles               (a B panel, kc×NR, in L1)
//
// Packing copies B (and A times alpha, when alpha is not 1) into panels
// laid out in the order the microkernel reads them, zero-padded to whole
// tiles. A row-major or transposed A with alpha 1 is read in place by the
// Direct and Trans kernels (a last, partial panel as the last MR rows,
// overlapping the panel before), and a row-major B of a short product (m
// at most sgemmDirectB) too, but for its last, partial panel.
// Tiles at C's edges are computed into a scratch tile and the valid part
// copied. With beta == 0, C is written without being read (NaNs in it are
// overwritten). The block sizes follow the caches of the 2-core Zen 5:
// kc·NR·4 bytes is 32 kB (a B panel in L1's 48 kB), MC·kc·4 is 168 kB (an
// A block in L2's 1 MB); they were chosen from those sizes, not yet tuned
// by measurement.
const (
	sgemmKC = 256
	sgemmMC = 168 // 12 × 14 and 28 × 6
	sgemmNC = 1024
)

// sgemmKernel is one microkernel and its tile.
type sgemmKernel struct {
	name   string
	mr, nr int
	fn     func(k int, a, b *float32, ldb int, c *float32, ldc int, load int)
	// direct is fn reading A unpacked, MR rows lda floats apart.
	direct func(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, load int)
	// trans is fn reading a transposed A unpacked: column p's MR values
	// together, lda floats apart from column to column.
	trans func(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, load int)
	// implicit, if not nil, is the kernel of convolutions read in place
	// (conv_implicit.go), of implicitMR×implicitNR tiles.
	implicit implicitKernel
}

// sgemmThreads is the number of goroutines one large product is split
// over (SetBLASThreads sets it, as it sets OpenBLAS's threads).
var sgemmThreads = 1

// sgemmDirectB is the largest m for which a row-major B is read in place
// rather than packed: 8 row tiles of the AVX-512 kernel.
const sgemmDirectB = 112

// sgemmParallel is the m*n*k from which a product is split over
// sgemmThreads goroutines.
const sgemmParallel = 1 << 21

// capaBackend is the Gemm backend of kernel k. Products too thin for its
// tiles (fewer rows than MR, or fewer columns than NR/2: a dense layer of
// 10 units, a batch of one) run on the fallback backend instead, where
// padding the tiles would waste most of the kernel's work.
func capaBackend(k *sgemmKernel, fallback *blasBackend) *blasBackend {
	sgemmThreads = max(1, defaultThreads())
	return &blasBackend{
		sgemm: func(tA, tB blas.Transpose, m, n, kk int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
			if m < k.mr || 2*n < k.nr {
				runGemm(fallback, tA, tB, m, n, kk, alpha, a, lda, b, ldb, beta, c, ldc)
				return
			}
			sgemmWith(k, tA, tB, m, n, kk, alpha, a, lda, b, ldb, beta, c, ldc)
		},
		name: func() string {
			return fmt.Sprintf("capa %s sgemm (Go assembly, %dx%d tiles, %d %s; thin products on %s)", k.name, k.mr, k.nr, sgemmThreads, plural(sgemmThreads, "thread"), fallback.name())
		},
		setThreads: func(n int) {
			sgemmThreads = max(1, n)
			if fallback.setThreads != nil {
				fallback.setThreads(n)
			}
		},
		inGo:     true,
		implicit: k.implicit,
	}
}

func plural(n int, s string) string {
	if n == 1 {
		return s
	}
	return s + "s"
}

var sgemmPool = sync.Pool{New: func() any { return new(sgemmBuffers) }}

type sgemmBuffers struct{ a, b []float32 }

// sgemmWith is gemmImpl on kernel ker.
func sgemmWith(ker *sgemmKernel, tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	transA, transB := tA != blas.NoTrans, tB != blas.NoTrans
	t := sgemmThreads
	if t <= 1 || m*n*k < sgemmParallel {
		sgemmSerial(ker, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	// Split the longer side in whole tiles, one part per goroutine.
	var wg sync.WaitGroup
	if n >= m {
		step := (n + t - 1) / t
		step = (step + ker.nr - 1) / ker.nr * ker.nr
		for j0 := 0; j0 < n; j0 += step {
			nn := min(step, n-j0)
			bo := j0
			if transB {
				bo = j0 * ldb
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				sgemmSerial(ker, transA, transB, m, nn, k, alpha, a, lda, b[bo:], ldb, beta, c[j0:], ldc)
			}()
		}
	} else {
		step := (m + t - 1) / t
		step = (step + ker.mr - 1) / ker.mr * ker.mr
		for i0 := 0; i0 < m; i0 += step {
			mm := min(step, m-i0)
			ao := i0 * lda
			if transA {
				ao = i0
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				sgemmSerial(ker, transA, transB, mm, n, k, alpha, a[ao:], lda, b, ldb, beta, c[i0*ldc:], ldc)
			}()
		}
	}
	wg.Wait()
}

// sgemmSerial computes C = alpha*op(A)*op(B) + beta*C on this goroutine.
func sgemmSerial(ker *sgemmKernel, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	mr, nr := ker.mr, ker.nr
	if beta != 0 && beta != 1 {
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			for j := range row {
				row[j] *= beta
			}
		}
	}
	buf := sgemmPool.Get().(*sgemmBuffers)
	defer sgemmPool.Put(buf)
	kcMax := min(k, sgemmKC)
	if need := kcMax * min(sgemmMC, roundUp(m, mr)); len(buf.a) < need {
		buf.a = make([]float32, need)
	}
	if need := kcMax * min(sgemmNC, roundUp(n, nr)); len(buf.b) < need {
		buf.b = make([]float32, need)
	}
	var tile [14 * 32]float32 // the largest kernel's tile
	for jc := 0; jc < n; jc += sgemmNC {
		nc := min(sgemmNC, n-jc)
		for pc := 0; pc < k; pc += sgemmKC {
			kc := min(sgemmKC, k-pc)
			// A row-major B is read in place when few row tiles would
			// share its packed copy (a convolution's weights at batch 1):
			// only its last, partial panel is packed.
			bInPlace := 0
			if !transB && m <= sgemmDirectB {
				bInPlace = nc / nr * nr
				if bInPlace < nc {
					packB(buf.b[bInPlace*kc:], b, ldb, false, pc, kc, jc+bInPlace, nc-bInPlace, nr)
				}
			} else {
				packB(buf.b, b, ldb, transB, pc, kc, jc, nc, nr)
			}
			load := 0
			if pc > 0 || beta != 0 {
				load = 1
			}
			for ic := 0; ic < m; ic += sgemmMC {
				mc := min(sgemmMC, m-ic)
				// A times 1 is read in place. A last, partial panel is then
				// computed as the last MR rows of A (overlapping the panel
				// before it, when m holds at least MR rows) and only its
				// new rows are kept: no packing at all.
				direct, overlap := 0, false
				inPlace := ker.direct
				if transA {
					inPlace = ker.trans
				}
				if alpha == 1 && inPlace != nil {
					direct = mc / mr * mr
					overlap = m >= mr
					if direct < mc && !overlap {
						packA(buf.a[direct*kc:], a, lda, transA, ic+direct, mc-direct, pc, kc, mr, 1)
					}
				} else {
					packA(buf.a, a, lda, transA, ic, mc, pc, kc, mr, alpha)
				}
				for jr := 0; jr < nc; jr += nr {
					nrr := min(nr, nc-jr)
					bp, bs := &buf.b[jr*kc], nr
					if jr < bInPlace {
						bp, bs = &b[pc*ldb+jc+jr], ldb
					}
					for ir := 0; ir < mc; ir += mr {
						mrr := min(mr, mc-ir)
						ci := (ic+ir)*ldc + jc + jr
						skip := 0 // rows of the tile already computed by the panel before
						if ir < direct || overlap {
							row := ic + ir
							if ir >= direct {
								row = ic + mc - mr // the last MR rows of A's block, possibly before ic
								skip = ic + ir - row
							}
							ai := row*lda + pc
							if transA {
								ai = pc*lda + row
							}
							ap := &a[ai]
							if skip == 0 && nrr == nr {
								inPlace(kc, ap, lda, bp, bs, &c[ci], ldc, load)
								continue
							}
							inPlace(kc, ap, lda, bp, bs, &tile[0], nr, 0)
						} else {
							ap := &buf.a[ir*kc]
							if mrr == mr && nrr == nr {
								ker.fn(kc, ap, bp, bs, &c[ci], ldc, load)
								continue
							}
							ker.fn(kc, ap, bp, bs, &tile[0], nr, 0)
						}
						for i := 0; i < mrr; i++ {
							dst := c[ci+i*ldc : ci+i*ldc+nrr]
							src := tile[(skip+i)*nr : (skip+i)*nr+nrr]
							if load == 0 {
								copy(dst, src)
								continue
							}
							for j, v := range src {
								dst[j] += v
							}
						}
					}
				}
			}
		}
	}
}

func roundUp(x, to int) int { return (x + to - 1) / to * to }

// packA copies alpha × op(A)[i0:i0+mc, p0:p0+kc] into panels of mr rows:
// panel q holds, for each p, rows q·mr to q·mr+mr-1 of column p (zeros
// past mc).
func packA(dst, a []float32, lda int, trans bool, i0, mc, p0, kc, mr int, alpha float32) {
	for q := 0; q < mc; q += mr {
		panel := dst[q*kc : (q+mr)*kc]
		rows := min(mr, mc-q)
		if trans {
			// op(A)[i, p] = a[p*lda + i]: column p's rows are contiguous.
			for p := 0; p < kc; p++ {
				src := a[(p0+p)*lda+i0+q:][:rows]
				d := panel[p*mr : p*mr+mr]
				for i, v := range src {
					d[i] = alpha * v
				}
				clear(d[rows:])
			}
			continue
		}
		for i := 0; i < rows; i++ {
			src := a[(i0+q+i)*lda+p0:][:kc]
			for p, v := range src {
				panel[p*mr+i] = alpha * v
			}
		}
		for i := rows; i < mr; i++ {
			for p := 0; p < kc; p++ {
				panel[p*mr+i] = 0
			}
		}
	}
}

// packB copies op(B)[p0:p0+kc, j0:j0+nc] into panels of nr columns: panel
// q holds, for each p, columns q·nr to q·nr+nr-1 of row p (zeros past nc).
func packB(dst, b []float32, ldb int, trans bool, p0, kc, j0, nc, nr int) {
	for q := 0; q < nc; q += nr {
		panel := dst[q*kc : (q+nr)*kc]
		cols := min(nr, nc-q)
		if !trans {
			for p := 0; p < kc; p++ {
				d := panel[p*nr : p*nr+nr]
				copy(d, b[(p0+p)*ldb+j0+q:][:cols])
				clear(d[cols:])
			}
			continue
		}
		// op(B)[p, j] = b[j*ldb + p]: row j of b is column j of op(B).
		for j := 0; j < cols; j++ {
			src := b[(j0+q+j)*ldb+p0:][:kc]
			for p, v := range src {
				panel[p*nr+j] = v
			}
		}
		for j := cols; j < nr; j++ {
			for p := 0; p < kc; p++ {
				panel[p*nr+j] = 0
			}
		}
	}
}
