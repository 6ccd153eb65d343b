package kernels

import (
	"os"
	"strings"
	"sync"
)

// Winograd F(2x2, 3x3) convolution (Lavin and Gray, "Fast Algorithms for
// Convolutional Neural Networks", 2015) for 3x3 windows with stride 1.
//
// The output is cut into 2x2 tiles; tile t reads a 4x4 patch d of the input
// (overlapping its neighbours by 2 pixels) and gives
//
//	Y = Aᵀ [ Σ_c (G g_c Gᵀ) ⊙ (Bᵀ d_c B) ] A
//
// per filter, with g_c the filter's 3x3 window on channel c and
//
//	Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
//	G  = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1]
//	Aᵀ = [1 1 1 0; 0 1 -1 -1].
//
// The sum over channels is 16 matrix products, one per element ξ of the
// 4x4 transformed tile: M_ξ (tiles × F) = V_ξ (tiles × C) · U_ξ (C × F),
// 16·C·F multiply-adds per tile of 4 outputs where the direct convolution
// (im2col and one product) takes 36·C·F: 2.25 times fewer. The transforms
// only add and subtract (and halve, for the filters), so the float32 results
// stay within a few ulps of the direct sum.
//
// Conv2DWinogradTo transforms the filters into U (16 × C × F) at each call,
// then works through blocks of tiles small enough to stay in cache: the
// input transform writes V for the block, 16 products write M, the output
// transform writes the block's outputs. Each phase is spread over the
// workers. The transforms are plain loops over the channels (the innermost,
// contiguous axis of NHWC); on amd64 with AVX2 they run in assembly, with
// the results of the Go loops bit for bit (NaN payloads aside).
//
// The filters are transformed at every call rather than cached: the weights
// are updated in place by optimizers and loaders, with nothing to tell that
// they changed, and checking them against a copy would still read twice
// the kernel, to save part of a transform that costs about 5% of VGG16's
// forward pass.

// winogradOn enables UseWinograd. The environment variable CAPA_WINOGRAD=0
// (or off, false, no) disables it from the start.
var winogradOn = !envOff(os.Getenv("CAPA_WINOGRAD"))

func envOff(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "0", "off", "false", "no":
		return true
	}
	return false
}

// SetWinograd enables or disables the Winograd convolution (UseWinograd
// then reports false: convolutions go through im2col) and returns the
// previous setting. The default is on unless CAPA_WINOGRAD=0. It must not
// run concurrently with kernels.
func SetWinograd(on bool) (prev bool) {
	prev, winogradOn = winogradOn, on
	return prev
}

// WinogradEnabled reports the setting of SetWinograd.
func WinogradEnabled() bool { return winogradOn }

// WinogradApplies reports whether Conv2DWinogradTo can compute a
// convolution over p: a 3x3 window with stride 1 (any padding).
func (p Window) WinogradApplies() bool {
	return p.KH == 3 && p.KW == 3 && p.SH == 1 && p.SW == 1 && p.OutH() > 0 && p.OutW() > 0
}

// winoMinC is the fewest input channels for which UseWinograd chooses the
// Winograd convolution: with fewer the 16 products are too thin (their
// inner dimension is C) and im2col's single product, of inner dimension
// 9·C, is faster (VGG's first layer has C = 3).
const winoMinC = 16

// UseWinograd reports whether a forward convolution over p with f filters
// should run Conv2DWinogradTo rather than im2col: it is enabled
// (SetWinograd), it applies (WinogradApplies) and it is expected to be
// faster (enough input channels).
func UseWinograd(p Window, f int) bool {
	return winogradOn && p.WinogradApplies() && f > 0 && p.C >= winoMinC
}

// winoBlockBytes bounds the transformed input and output of one block of
// tiles, 64·(C+F) bytes per tile, so that the products read V while it is
// still in cache and the output transform reads M likewise.
var winoBlockBytes = 4 << 20

// winoMinBlock and winoMaxBlock bound the tiles per block: the products'
// first dimension.
const (
	winoMinBlock = 128
	winoMaxBlock = 2048
)

// winoGeom is the tiling of one Winograd convolution.
type winoGeom struct {
	p                Window
	f                int
	oh, ow           int  // output size
	th, tw           int  // tiles per image, vertically and horizontally
	tiles            int  // N·th·tw
	tb               int  // tiles per block
	xa, xb           int  // tile columns [xa, xb) whose 4 input columns are inside the image
	nb               int  // blocks
	byBlock          bool // each worker runs whole blocks (else each block is shared)
	parts            int  // workers
	patchLen, tmpLen int  // per-part scratch of the border tiles
	vLen, mLen, uLen int
	partLen, scratch int
}

func newWinoGeom(p Window, f int) winoGeom {
	g := winoGeom{p: p, f: f, oh: p.OutH(), ow: p.OutW()}
	g.th, g.tw = (g.oh+1)/2, (g.ow+1)/2
	g.tiles = p.N * g.th * g.tw
	tb := winoBlockBytes / (64 * max(p.C+f, 1))
	tb = max(min(max(tb, winoMinBlock), winoMaxBlock, g.tiles), 1)
	nb := max((g.tiles+tb-1)/tb, 1)
	g.parts = workers
	if g.parts > 1 && g.tiles >= g.parts*winoMinBlock/2 {
		// Enough tiles for every worker to run whole blocks of its own:
		// as many blocks as a multiple of the workers, no barriers.
		g.byBlock = true
		nb = (nb + g.parts - 1) / g.parts * g.parts
	}
	g.nb = nb
	g.tb = (g.tiles + nb - 1) / nb // blocks of equal size
	g.xa = (p.PadLeft + 1) / 2
	if r := p.W - 4 + p.PadLeft; r >= 0 {
		g.xb = min(r/2+1, g.tw)
	}
	g.patchLen, g.tmpLen = 16*p.C, 4*f
	g.uLen, g.vLen, g.mLen = 16*p.C*f, g.tb*16*p.C, g.tb*16*f
	g.partLen = g.vLen + g.mLen + g.patchLen + g.tmpLen
	g.scratch = g.uLen + g.parts*g.partLen
	return g
}

// part returns worker part's scratch: a block of transformed tiles v and
// of products m, a border patch and an output tile.
func (g *winoGeom) part(scratch []float32, part int) (v, m, patch, tmp []float32) {
	s := scratch[g.uLen+part*g.partLen : g.uLen+(part+1)*g.partLen]
	return s[:g.vLen], s[g.vLen : g.vLen+g.mLen], s[g.vLen+g.mLen : g.vLen+g.mLen+g.patchLen], s[g.vLen+g.mLen+g.patchLen:]
}

// WinogradScratchLen is the scratch length Conv2DWinogradTo needs for a
// convolution over p with f filters: the transformed filters, one block of
// transformed tiles and products, and a few pixels per worker.
func (p Window) WinogradScratchLen(f int) int { return newWinoGeom(p, f).scratch }

// Conv2DWinogradTo computes the same convolution as Conv2DTo, for a 3x3
// window with stride 1 (p.WinogradApplies()), with Winograd's F(2x2, 3x3)
// algorithm (see above): about 2.25 times fewer multiply-adds, results
// within float32 rounding of Conv2DTo's. scratch holds
// p.WinogradScratchLen(f) values, overwritten; nothing is allocated but the
// workers' goroutines. dst must not alias x, kernel or scratch.
//
// It panics with ErrShape if the window does not apply, on the conditions
// of Conv2DTo, or if len(scratch) != p.WinogradScratchLen(f).
func Conv2DWinogradTo(dst, x, kernel []float32, p Window, f int, scratch []float32) {
	Conv2DWinogradReuseTo(dst, x, kernel, p, f, scratch, false)
}

// Conv2DWinogradReuseTo is Conv2DWinogradTo that, with reuse true, skips
// transforming the filters: the caller guarantees that scratch still holds,
// from an earlier call with the same p.C and f, the transformed filters of
// a kernel with the same values (inference on fixed weights transforms them
// once instead of at every call).
func Conv2DWinogradReuseTo(dst, x, kernel []float32, p Window, f int, scratch []float32, reuse bool) {
	if !p.WinogradApplies() {
		panic(ErrShape)
	}
	checkConv(p, f, len(x), len(kernel), len(dst), p.ColLen())
	g := newWinoGeom(p, f)
	if len(scratch) != g.scratch {
		panic(ErrShape)
	}
	c, ck := p.C, p.C*f
	u := scratch[:g.uLen]
	if !reuse {
		forRange(ck, 1024, func(lo, hi int) { winoFilter(u, kernel, lo, hi, ck) })
	}
	if g.byBlock {
		// Worker i runs blocks i, i+parts, ...: transforms and sixteen
		// products on its own scratch, while its tiles are in its cache.
		forParts(g.parts, 1, func(part, _, _ int) {
			v, m, patch, tmp := g.part(scratch, part)
			for b := part; b < g.nb; b += g.parts {
				b0, b1 := b*g.tb, min((b+1)*g.tb, g.tiles)
				if b0 >= b1 {
					break
				}
				nt := b1 - b0
				g.input(v, x, b0, b1, patch)
				for xi := 0; xi < 16; xi++ {
					Gemm(false, false, nt, f, c, 1, v[xi*c:], 16*c, u[xi*ck:(xi+1)*ck], f, 0, m[xi*f:], 16*f)
				}
				g.output(dst, m, b0, b1, tmp)
			}
		})
		return
	}
	v, m, _, _ := g.part(scratch, 0)
	for b0 := 0; b0 < g.tiles; b0 += g.tb {
		b1 := min(b0+g.tb, g.tiles)
		nt := b1 - b0
		forParts(nt, 16, func(part, lo, hi int) {
			_, _, patch, _ := g.part(scratch, part)
			g.input(v[lo*16*c:hi*16*c], x, b0+lo, b0+hi, patch)
		})
		forRange(16, 1, func(lo, hi int) {
			for xi := lo; xi < hi; xi++ {
				Gemm(false, false, nt, f, c, 1, v[xi*c:], 16*c, u[xi*ck:(xi+1)*ck], f, 0, m[xi*f:], 16*f)
			}
		})
		forParts(nt, 16, func(part, lo, hi int) {
			_, _, _, tmp := g.part(scratch, part)
			g.output(dst, m[lo*16*f:hi*16*f], b0+lo, b0+hi, tmp)
		})
	}
}

// forParts is forRange that also tells f the index of its part, in [0,
// Workers()), so that each part can own a piece of scratch.
func forParts(n, minPart int, f func(part, lo, hi int)) {
	w := min(workers, n/max(minPart, 1))
	if w <= 1 {
		f(0, 0, n)
		return
	}
	var wg sync.WaitGroup
	wg.Add(w - 1)
	for i := 1; i < w; i++ {
		go func(i int) {
			defer wg.Done()
			f(i, i*n/w, (i+1)*n/w)
		}(i)
	}
	f(0, 0, n/w)
	wg.Wait()
}

// input writes into v the transformed input tiles [t0, t1), 16·C values
// per tile (ξ major, channel minor). Tiles whose 4x4 patch lies inside the
// image are read in place, a row of them at a time; the others are gathered
// into patch (16·C values) with zeros outside the image.
func (g *winoGeom) input(v, x []float32, t0, t1 int, patch []float32) {
	p, c := g.p, g.p.C
	per := g.th * g.tw
	for t := t0; t < t1; {
		n, r := t/per, t%per
		ty, tx := r/g.tw, r%g.tw
		end := min(g.tw, tx+t1-t) // the run of tiles in this row
		iy0 := 2*ty - p.PadTop
		rowIn := iy0 >= 0 && iy0+4 <= p.H
		for tx < end {
			vt := v[(t-t0)*16*c:]
			if rowIn && tx >= g.xa && tx < g.xb {
				e := min(end, g.xb)
				ix0 := 2*tx - p.PadLeft
				winoInput(vt[:(e-tx)*16*c], x[((n*p.H+iy0)*p.W+ix0)*c:], e-tx, c, p.W*c)
				t, tx = t+e-tx, e
				continue
			}
			ix0 := 2*tx - p.PadLeft
			for i := 0; i < 4; i++ {
				iy := iy0 + i
				for j := 0; j < 4; j++ {
					ix := ix0 + j
					d := patch[(i*4+j)*c : (i*4+j+1)*c]
					if iy < 0 || iy >= p.H || ix < 0 || ix >= p.W {
						clear(d)
						continue
					}
					copy(d, x[((n*p.H+iy)*p.W+ix)*c:])
				}
			}
			winoInput(vt[:16*c], patch, 1, c, 4*c)
			t, tx = t+1, tx+1
		}
	}
}

// output writes the outputs of tiles [t0, t1) into the NHWC dst from their
// products m (16·F values per tile). Tiles with 2x2 outputs inside the
// image are written in place, a row of them at a time; the others (the
// last row or column of an odd output size) go through tmp (4·F values).
func (g *winoGeom) output(dst, m []float32, t0, t1 int, tmp []float32) {
	f := g.f
	per := g.th * g.tw
	full := g.ow / 2 // tile columns with two output columns
	for t := t0; t < t1; {
		n, r := t/per, t%per
		ty, tx := r/g.tw, r%g.tw
		end := min(g.tw, tx+t1-t)
		oy := 2 * ty
		fullRow := oy+2 <= g.oh
		for tx < end {
			mt := m[(t-t0)*16*f:]
			if fullRow && tx < full {
				e := min(end, full)
				winoOutput(dst[((n*g.oh+oy)*g.ow+2*tx)*f:], mt[:(e-tx)*16*f], e-tx, f, g.ow*f)
				t, tx = t+e-tx, e
				continue
			}
			winoOutput(tmp, mt[:16*f], 1, f, 2*f)
			for i := 0; i < 2 && oy+i < g.oh; i++ {
				for j := 0; j < 2 && 2*tx+j < g.ow; j++ {
					copy(dst[((n*g.oh+oy+i)*g.ow+2*tx+j)*f:][:f], tmp[(i*2+j)*f:])
				}
			}
			t, tx = t+1, tx+1
		}
	}
}

// winoFilterGeneric writes into u the transformed filters G g Gᵀ of the
// flat (channel, filter) indices [lo, hi): g is the kernel (3, 3, C, F),
// nine planes of ck = C·F values; u is sixteen such planes. It is the
// fallback of winoFilter and the reference of its assembly.
func winoFilterGeneric(u, g []float32, lo, hi, ck int) {
	g = g[:9*ck]
	u = u[:16*ck]
	for i := lo; i < hi; i++ {
		g00, g01, g02 := g[i], g[ck+i], g[2*ck+i]
		g10, g11, g12 := g[3*ck+i], g[4*ck+i], g[5*ck+i]
		g20, g21, g22 := g[6*ck+i], g[7*ck+i], g[8*ck+i]
		// A = G g, 4x3.
		a10 := (g00 + g10 + g20) * 0.5
		a11 := (g01 + g11 + g21) * 0.5
		a12 := (g02 + g12 + g22) * 0.5
		a20 := (g00 - g10 + g20) * 0.5
		a21 := (g01 - g11 + g21) * 0.5
		a22 := (g02 - g12 + g22) * 0.5
		// U = A Gᵀ, row by row.
		u[i], u[ck+i], u[2*ck+i], u[3*ck+i] = g00, (g00+g01+g02)*0.5, (g00-g01+g02)*0.5, g02
		u[4*ck+i], u[5*ck+i], u[6*ck+i], u[7*ck+i] = a10, (a10+a11+a12)*0.5, (a10-a11+a12)*0.5, a12
		u[8*ck+i], u[9*ck+i], u[10*ck+i], u[11*ck+i] = a20, (a20+a21+a22)*0.5, (a20-a21+a22)*0.5, a22
		u[12*ck+i], u[13*ck+i], u[14*ck+i], u[15*ck+i] = g20, (g20+g21+g22)*0.5, (g20-g21+g22)*0.5, g22
	}
}

// winoInputGeneric writes into dst the transformed tiles Bᵀ d B of tiles
// tiles, for the channels [c0, c): tile k's patch d starts at src[2·k·c]
// (rows rs apart, pixels c apart) and its result at dst[16·k·c] (ξ·c + ch
// for element ξ). It is the fallback of winoInput and the reference of its
// assembly.
func winoInputGeneric(dst, src []float32, tiles, c, rs, c0 int) {
	for k := 0; k < tiles; k++ {
		s := src[2*k*c : 2*k*c+3*rs+4*c]
		d := dst[16*k*c : 16*(k+1)*c]
		r1, r2, r3 := rs, 2*rs, 3*rs
		for ch := c0; ch < c; ch++ {
			// Bᵀ d: rows t0 = d0 - d2, t1 = d1 + d2, t2 = d2 - d1, t3 = d1 - d3.
			var t [4][4]float32
			for j := 0; j < 4; j++ {
				o := j*c + ch
				d0, d1, d2, d3 := s[o], s[r1+o], s[r2+o], s[r3+o]
				t[0][j], t[1][j], t[2][j], t[3][j] = d0-d2, d1+d2, d2-d1, d1-d3
			}
			// (Bᵀ d) B, likewise along each row.
			for i := 0; i < 4; i++ {
				o := 4 * i * c
				ti := &t[i]
				d[o+ch] = ti[0] - ti[2]
				d[o+c+ch] = ti[1] + ti[2]
				d[o+2*c+ch] = ti[2] - ti[1]
				d[o+3*c+ch] = ti[1] - ti[3]
			}
		}
	}
}

// winoOutputGeneric writes the 2x2 outputs Aᵀ m A of tiles tiles for the
// filters [f0, f): tile k's products m start at src[16·k·f] (ξ·f + j) and
// its outputs at dst[2·k·f] (rows rs apart, pixels f apart). It is the
// fallback of winoOutput and the reference of its assembly.
func winoOutputGeneric(dst, src []float32, tiles, f, rs, f0 int) {
	for k := 0; k < tiles; k++ {
		s := src[16*k*f : 16*(k+1)*f]
		d := dst[2*k*f : 2*k*f+rs+2*f]
		for j := f0; j < f; j++ {
			// Aᵀ m: rows s0 = m0 + m1 + m2, s1 = m1 - m2 - m3.
			var s0, s1 [4]float32
			for q := 0; q < 4; q++ {
				m0, m1, m2, m3 := s[q*f+j], s[(4+q)*f+j], s[(8+q)*f+j], s[(12+q)*f+j]
				s0[q] = m0 + m1 + m2
				s1[q] = m1 - m2 - m3
			}
			d[j] = s0[0] + s0[1] + s0[2]
			d[f+j] = s0[1] - s0[2] - s0[3]
			d[rs+j] = s1[0] + s1[1] + s1[2]
			d[rs+f+j] = s1[1] - s1[2] - s1[3]
		}
	}
}
