package kernels

// This file holds the implicit GEMM of convolutions at inference: the
// product of the im2col matrix by the kernel, computed with the matrix's
// rows read in place from the input instead of gathered first.
//
// Without padding, the im2col row of output pixel (n, oy, ox) is KH
// segments of KW*C contiguous input values (one row of the window each,
// channels innermost), W*C values apart, the first at the pixel's corner
// ((n*H + oy*SH)*W + ox*SW)*C; and the pixels of one output row start SW*C
// values apart. The microkernel (sgemm12x32ImplicitAVX512) takes its 12
// rows as 3 groups of 4 consecutive pixels of one output row, each group
// with its own base, so a group never crosses a row's end when OutW is a
// multiple of 4, and jumps all bases to the next segment as it goes. The
// k dimension is blocked as sgemmSerial blocks it (sgemmKC steps, each
// block's sum added to C), so the values are those of im2col followed by
// Gemm, bit for bit. On the practical's CNN the second convolution's
// im2col matrix is 205 kB per image, written and read back: a sixth of an
// inference batch; the first one (one channel) went through a transposed
// im2col matrix, built and multiplied at half the second's rate.

// implicitKernel is the signature of the implicit microkernel.
type implicitKernel func(k, first, seglen, jump int, a0, a1, a2 *float32, lda int, b *float32, ldb int, c *float32, ldc int, load int)

// The implicit kernel's tile: 3 groups of implicitGroup rows by implicitNR
// columns.
const (
	implicitGroup = 4
	implicitMR    = 3 * implicitGroup
	implicitNR    = 32
)

// implicitConv returns the implicit kernel that computes the convolution
// over p with f filters, or nil if it cannot: the backend is not Capa's
// sgemm with that kernel, or the window has padding, an output width not a
// multiple of 4 or a filter count not a multiple of 32.
func implicitConv(p Window, f int) implicitKernel {
	ker := currentBLAS().implicit
	if ker == nil || f%implicitNR != 0 || p.OutW()%implicitGroup != 0 {
		return nil
	}
	if p.PadTop != 0 || p.PadBottom != 0 || p.PadLeft != 0 || p.PadRight != 0 {
		return nil
	}
	return ker
}

// convImplicit computes into y the convolution's output rows [r, re),
// counted over (n, oy), with ker reading x in place, on the calling
// goroutine.
func convImplicit(ker implicitKernel, y, x, kernel []float32, p Window, f, r, re int) {
	ow, oh := p.OutW(), p.OutH()
	m, k := (re-r)*ow, p.KH*p.KW*p.C
	seglen, segstride, lda := p.KW*p.C, p.W*p.C, p.SW*p.C
	// corner is the offset in x of the window of output pixel q (counted
	// over the batch).
	corner := func(q int) int {
		row, ox := q/ow, q%ow
		n, oy := row/oh, row%oh
		return ((n*p.H+oy*p.SH)*p.W + ox*p.SW) * p.C
	}
	var tile [implicitMR * implicitNR]float32
	for t := 0; t < m; t += implicitMR {
		rows := min(implicitMR, m-t)
		var base [3]int
		for g := range base {
			// A last, partial tile repeats its last group; its extra
			// rows go to the scratch tile and are dropped.
			base[g] = corner(r*ow + t + min(g*implicitGroup, rows-implicitGroup))
		}
		for j := 0; j < f; j += implicitNR {
			c, ldc := y[t*f+j:], f
			if rows < implicitMR {
				c, ldc = tile[:], implicitNR
			}
			for pc := 0; pc < k; pc += sgemmKC {
				kc := min(sgemmKC, k-pc)
				o := pc/seglen*segstride + pc%seglen
				load := 0
				if pc > 0 {
					load = 1
				}
				ker(kc, seglen-pc%seglen, seglen, segstride-seglen, &x[base[0]+o], &x[base[1]+o], &x[base[2]+o], lda,
					&kernel[pc*f+j], f, &c[0], ldc, load)
			}
			if rows < implicitMR {
				for i := 0; i < rows; i++ {
					copy(y[(t+i)*f+j:(t+i)*f+j+implicitNR], tile[i*implicitNR:(i+1)*implicitNR])
				}
			}
		}
	}
}
