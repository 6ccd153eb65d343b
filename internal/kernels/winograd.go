package kernels

import (
	"os"
	"strings"
	"sync"
)

// Winograd convolution (Lavin and Gray, "Fast Algorithms for Convolutional
// Neural Networks", 2015) for 3x3 windows with stride 1, in two variants:
// F(2x2, 3x3) and F(4x4, 3x3).
//
// The output is cut into r x r tiles (r = 2 or 4); tile t reads an a x a
// patch d of the input (a = r+2, overlapping its neighbours by 2 pixels)
// and gives
//
//	Y = Aᵀ [ Σ_c (G g_c Gᵀ) ⊙ (Bᵀ d_c B) ] A
//
// per filter, with g_c the filter's 3x3 window on channel c. For F(2x2, 3x3)
//
//	Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
//	G  = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1]
//	Aᵀ = [1 1 1 0; 0 1 -1 -1],
//
// and for F(4x4, 3x3) (interpolation points 0, ±1, ±2 and ∞)
//
//	Bᵀ = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0;
//	      0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
//	G  = [¼ 0 0; -⅙ -⅙ -⅙; -⅙ ⅙ -⅙; 1/24 1/12 ⅙; 1/24 -1/12 ⅙; 0 0 1]
//	Aᵀ = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1].
//
// The sum over channels is a² matrix products, one per element ξ of the
// a x a transformed tile: M_ξ (tiles × F) = V_ξ (tiles × C) · U_ξ (C × F).
// F(2x2, 3x3) takes 16·C·F multiply-adds per tile of 4 outputs, F(4x4, 3x3)
// 36·C·F per tile of 16, where the direct convolution (im2col and one
// product) takes 9·C·F per output: 2.25 and 4 times fewer. F(2x2, 3x3)'s
// transforms only add, subtract and halve, so its results stay within a few
// ulps of the direct sum; F(4x4, 3x3)'s multiply by up to 8 and by 1/6, and
// lose a few more bits (relative errors of about 1e-6 on VGG16's layers, a
// few times F(2x2, 3x3)'s). F(4x4, 3x3) runs where the products dominate its
// costlier transforms and its larger tiles waste little at the borders:
// wide layers of outputs 4x4 and up (see winoUse4); the others run F(2x2,
// 3x3).
//
// Conv2DWinogradTo transforms the filters into U (a² × C × F) at each call,
// then works through blocks of tiles small enough to stay in cache: the
// input transform writes V for the block, a² products write M, the output
// transform writes the block's outputs. Each phase is spread over the
// workers. The transforms are plain loops over the channels (the innermost,
// contiguous axis of NHWC); on amd64 with AVX2 they run in assembly, with
// the results of the Go loops bit for bit (NaN payloads aside).
//
// The filters are transformed at every call of Conv2DWinogradTo rather than
// cached: the weights are updated in place by optimizers and loaders, with
// nothing to tell that they changed. Conv2DWinogradReuseTo lets a caller
// that checks the weights itself skip the transform.

// winogradOn enables UseWinograd. The environment variable CAPA_WINOGRAD=0
// (or off, false, no) disables it from the start.
var winogradOn = !envOff(os.Getenv("CAPA_WINOGRAD"))

// winoTile forces the variant: 2 for F(2x2, 3x3) everywhere, 4 for F(4x4,
// 3x3) everywhere, 0 to choose by the layer's width (winoUse4). The
// environment variable CAPA_WINOGRAD=2 or 4 sets it; tests and benchmarks
// flip it to compare the variants.
var winoTile = envTile(os.Getenv("CAPA_WINOGRAD"))

func envOff(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "0", "off", "false", "no":
		return true
	}
	return false
}

func envTile(v string) int {
	switch strings.TrimSpace(v) {
	case "2":
		return 2
	case "4":
		return 4
	}
	return 0
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

// winoF4MinC and winoF4MinF are the fewest input channels and filters for
// which F(4x4, 3x3) may replace F(2x2, 3x3): narrower layers would spend
// more of their time in its transforms, which cost more per output.
const (
	winoF4MinC = 64
	winoF4MinF = 64
)

// winoMinTiles is the fewest tiles (the rows of each of the a² products)
// for which UseWinograd chooses a Winograd variant, and F(4x4, 3x3) rather
// than F(2x2, 3x3): with fewer, a product reads its transformed filters,
// a²/9 times the kernel's size, for too few rows of the 14-row
// microkernel to pay for them. On ResNet's layers at 224x224 batch 1
// (AVX-512, 2 cores), F(2x2, 3x3) at 14x14 (16 tiles of F(4x4, 3x3))
// took 0.59 ms against F(4x4, 3x3)'s 0.80, and the streamed im2col at 7x7
// (16 tiles of F(2x2, 3x3)) 1.17 ms against 1.18 and 1.46, without the
// transformed filters' 16 MB.
const winoMinTiles = 32

// winoUse4 reports whether a convolution over p with f filters runs F(4x4,
// 3x3) rather than F(2x2, 3x3): the layer is wide enough and the products
// of F(4x4, 3x3), 36 per 4x4 tile, are at most 4/5 of F(2x2, 3x3)'s, 16
// per 2x2 tile (small outputs waste most of the larger tiles: at 2x2,
// F(4x4, 3x3) takes 2.25 times the products). On VGG16's layers of 4x4
// outputs and up, from 64 channels and filters, F(4x4, 3x3) took 0.3 to
// 0.9 the time of F(2x2, 3x3) (AVX2, 2 cores).
func winoUse4(p Window, f int) bool {
	switch winoTile {
	case 2:
		return false
	case 4:
		return true
	}
	oh, ow := p.OutH(), p.OutW()
	p4 := 36 * ((oh + 3) / 4) * ((ow + 3) / 4)
	p2 := 16 * ((oh + 1) / 2) * ((ow + 1) / 2)
	return p.C >= winoF4MinC && f >= winoF4MinF && 5*p4 <= 4*p2 && p.N*((oh+3)/4)*((ow+3)/4) >= winoMinTiles
}

// UseWinograd reports whether a forward convolution over p with f filters
// should run Conv2DWinogradTo rather than im2col: it is enabled
// (SetWinograd), it applies (WinogradApplies) and it is expected to be
// faster (enough input channels, and enough tiles: winoMinTiles).
func UseWinograd(p Window, f int) bool {
	return winogradOn && p.WinogradApplies() && f > 0 && p.C >= winoMinC && !singlePixel(p) &&
		p.N*((p.OutH()+1)/2)*((p.OutW()+1)/2) >= winoMinTiles
}

// winoBlockBytes bounds the transformed input and output of one block of
// tiles, 4·a²·(C+F) bytes per tile, so that the products read V while it
// is still in cache and the output transform reads M likewise.
var winoBlockBytes = 4 << 20

// winoMinBlock and winoMaxBlock bound the tiles per block: the products'
// first dimension.
const (
	winoMinBlock = 128
	winoMaxBlock = 2048
)

// winoHead is the floats before the transformed filters in the scratch:
// the first holds the tile size r of the variant that wrote them, so that
// a reuse across a change of variant (winoTile) transforms them again.
const winoHead = 16

// winoGeom is the tiling of one Winograd convolution.
type winoGeom struct {
	p                Window
	f                int
	r, a, nx         int  // output tile size, input tile size, a² products
	oh, ow           int  // output size
	th, tw           int  // tiles per image, vertically and horizontally
	tiles            int  // N·th·tw
	tb               int  // tiles per block
	xa, xb           int  // tile columns [xa, xb) whose a input columns are inside the image
	nb               int  // blocks
	byBlock          bool // each worker runs whole blocks (else each block is shared)
	parts            int  // workers
	patchLen, tmpLen int  // per-part scratch of the border tiles
	vLen, mLen, uLen int
	partLen, scratch int
}

func newWinoGeom(p Window, f int) winoGeom {
	g := winoGeom{p: p, f: f, r: 2, oh: p.OutH(), ow: p.OutW()}
	if winoUse4(p, f) {
		g.r = 4
	}
	r := g.r
	g.a = r + 2
	g.nx = g.a * g.a
	g.th, g.tw = (g.oh+r-1)/r, (g.ow+r-1)/r
	g.tiles = p.N * g.th * g.tw
	tb := winoBlockBytes / (4 * g.nx * max(p.C+f, 1))
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
	g.xa = (p.PadLeft + r - 1) / r
	if e := p.W - g.a + p.PadLeft; e >= 0 {
		g.xb = min(e/r+1, g.tw)
	}
	g.patchLen, g.tmpLen = g.nx*p.C, r*r*f
	g.uLen, g.vLen, g.mLen = g.nx*p.C*f, g.tb*g.nx*p.C, g.tb*g.nx*f
	g.partLen = g.vLen + g.mLen + g.patchLen + g.tmpLen
	g.scratch = winoHead + g.uLen + g.parts*g.partLen
	return g
}

// part returns worker part's scratch: a block of transformed tiles v and
// of products m, a border patch and an output tile.
func (g *winoGeom) part(scratch []float32, part int) (v, m, patch, tmp []float32) {
	s := scratch[winoHead+g.uLen+part*g.partLen : winoHead+g.uLen+(part+1)*g.partLen]
	return s[:g.vLen], s[g.vLen : g.vLen+g.mLen], s[g.vLen+g.mLen : g.vLen+g.mLen+g.patchLen], s[g.vLen+g.mLen+g.patchLen:]
}

// WinogradScratchLen is the scratch length Conv2DWinogradTo needs for a
// convolution over p with f filters: the transformed filters, one block of
// transformed tiles and products, and a few pixels per worker.
func (p Window) WinogradScratchLen(f int) int { return newWinoGeom(p, f).scratch }

// Conv2DWinogradTo computes the same convolution as Conv2DTo, for a 3x3
// window with stride 1 (p.WinogradApplies()), with Winograd's F(2x2, 3x3)
// or F(4x4, 3x3) algorithm (see above): 2.25 or 4 times fewer
// multiply-adds, results within float32 rounding of Conv2DTo's. scratch
// holds p.WinogradScratchLen(f) values, overwritten; nothing is allocated
// but the workers' goroutines. dst must not alias x, kernel or scratch.
//
// It panics with ErrShape if the window does not apply, on the conditions
// of Conv2DTo, or if len(scratch) != p.WinogradScratchLen(f).
func Conv2DWinogradTo(dst, x, kernel []float32, p Window, f int, scratch []float32) {
	Conv2DWinogradReuseTo(dst, x, kernel, p, f, scratch, false, Epilogue{})
}

// Conv2DWinogradReuseTo is Conv2DWinogradTo that, with reuse true, skips
// transforming the filters: the caller guarantees that scratch still holds,
// from an earlier call with the same p.C and f, the transformed filters of
// a kernel with the same values (inference on fixed weights transforms them
// once instead of at every call). If that call ran the other variant (see
// CAPA_WINOGRAD), the filters are transformed anyway. The epilogue ep
// runs over dst once the convolution is complete (the output tiles are
// not whole rows of dst).
func Conv2DWinogradReuseTo(dst, x, kernel []float32, p Window, f int, scratch []float32, reuse bool, ep Epilogue) {
	if !p.WinogradApplies() {
		panic(ErrShape)
	}
	checkConv(p, f, len(x), len(kernel), len(dst), p.ColLen())
	ep.check(f, len(dst))
	defer ep.applyRows(dst, f)
	g := newWinoGeom(p, f)
	if len(scratch) != g.scratch {
		panic(ErrShape)
	}
	c, ck, nx := p.C, p.C*f, g.nx
	u := scratch[winoHead : winoHead+g.uLen]
	if !reuse || scratch[0] != float32(g.r) {
		if g.r == 4 {
			forRange(ck, 1024, func(lo, hi int) { winoFilter4(u, kernel, lo, hi, ck) })
		} else {
			forRange(ck, 1024, func(lo, hi int) { winoFilter(u, kernel, lo, hi, ck) })
		}
		scratch[0] = float32(g.r)
	}
	if g.byBlock {
		// Worker i runs blocks i, i+parts, ...: transforms and a²
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
				for xi := 0; xi < nx; xi++ {
					Gemm(false, false, nt, f, c, 1, v[xi*c:], nx*c, u[xi*ck:(xi+1)*ck], f, 0, m[xi*f:], nx*f)
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
			g.input(v[lo*nx*c:hi*nx*c], x, b0+lo, b0+hi, patch)
		})
		forRange(nx, 1, func(lo, hi int) {
			for xi := lo; xi < hi; xi++ {
				Gemm(false, false, nt, f, c, 1, v[xi*c:], nx*c, u[xi*ck:(xi+1)*ck], f, 0, m[xi*f:], nx*f)
			}
		})
		forParts(nt, 16, func(part, lo, hi int) {
			_, _, _, tmp := g.part(scratch, part)
			g.output(dst, m[lo*nx*f:hi*nx*f], b0+lo, b0+hi, tmp)
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

// transformIn runs the variant's input transform of tiles tiles along a row
// (see winoInputGeneric and winoInput4Generic).
func (g *winoGeom) transformIn(dst, src []float32, tiles, c, rs int) {
	if g.r == 4 {
		winoInput4(dst, src, tiles, c, rs)
	} else {
		winoInput(dst, src, tiles, c, rs)
	}
}

// transformOut runs the variant's output transform of tiles tiles along a
// row (see winoOutputGeneric and winoOutput4Generic).
func (g *winoGeom) transformOut(dst, src []float32, tiles, f, rs int) {
	if g.r == 4 {
		winoOutput4(dst, src, tiles, f, rs)
	} else {
		winoOutput(dst, src, tiles, f, rs)
	}
}

// input writes into v the transformed input tiles [t0, t1), a²·C values
// per tile (ξ major, channel minor). Tiles whose a x a patch lies inside
// the image are read in place, a row of them at a time; the others are
// gathered into patch (a²·C values) with zeros outside the image.
func (g *winoGeom) input(v, x []float32, t0, t1 int, patch []float32) {
	p, c, r, a, nx := g.p, g.p.C, g.r, g.a, g.nx
	per := g.th * g.tw
	for t := t0; t < t1; {
		n, rem := t/per, t%per
		ty, tx := rem/g.tw, rem%g.tw
		end := min(g.tw, tx+t1-t) // the run of tiles in this row
		iy0 := r*ty - p.PadTop
		rowIn := iy0 >= 0 && iy0+a <= p.H
		for tx < end {
			vt := v[(t-t0)*nx*c:]
			if rowIn && tx >= g.xa && tx < g.xb {
				e := min(end, g.xb)
				ix0 := r*tx - p.PadLeft
				g.transformIn(vt[:(e-tx)*nx*c], x[((n*p.H+iy0)*p.W+ix0)*c:], e-tx, c, p.W*c)
				t, tx = t+e-tx, e
				continue
			}
			ix0 := r*tx - p.PadLeft
			for i := 0; i < a; i++ {
				iy := iy0 + i
				for j := 0; j < a; j++ {
					ix := ix0 + j
					d := patch[(i*a+j)*c : (i*a+j+1)*c]
					if iy < 0 || iy >= p.H || ix < 0 || ix >= p.W {
						clear(d)
						continue
					}
					copy(d, x[((n*p.H+iy)*p.W+ix)*c:])
				}
			}
			g.transformIn(vt[:nx*c], patch, 1, c, a*c)
			t, tx = t+1, tx+1
		}
	}
}

// output writes the outputs of tiles [t0, t1) into the NHWC dst from their
// products m (a²·F values per tile). Tiles with r x r outputs inside the
// image are written in place, a row of them at a time; the others (the
// last row or column of an output size not a multiple of r) go through
// tmp (r²·F values).
func (g *winoGeom) output(dst, m []float32, t0, t1 int, tmp []float32) {
	f, r, nx := g.f, g.r, g.nx
	per := g.th * g.tw
	full := g.ow / r // tile columns with r output columns
	for t := t0; t < t1; {
		n, rem := t/per, t%per
		ty, tx := rem/g.tw, rem%g.tw
		end := min(g.tw, tx+t1-t)
		oy := r * ty
		fullRow := oy+r <= g.oh
		for tx < end {
			mt := m[(t-t0)*nx*f:]
			if fullRow && tx < full {
				e := min(end, full)
				g.transformOut(dst[((n*g.oh+oy)*g.ow+r*tx)*f:], mt[:(e-tx)*nx*f], e-tx, f, g.ow*f)
				t, tx = t+e-tx, e
				continue
			}
			g.transformOut(tmp, mt[:nx*f], 1, f, r*f)
			for i := 0; i < r && oy+i < g.oh; i++ {
				for j := 0; j < r && r*tx+j < g.ow; j++ {
					copy(dst[((n*g.oh+oy+i)*g.ow+r*tx+j)*f:][:f], tmp[(i*r+j)*f:])
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

// wino4In is the 1-D input transform of F(4x4, 3x3), Bᵀ d for a column d
// of 6 values, in the order of the assembly (the products by 2 and 4 are
// exact; the conversions keep the compiler from fusing them).
func wino4In(d0, d1, d2, d3, d4, d5 float32) (t0, t1, t2, t3, t4, t5 float32) {
	e := d4 - d2
	a := d4 - float32(4*d2)
	b := d3 - float32(4*d1)
	h := float32(2 * (d3 - d1))
	return float32(4*(d0-d2)) + e, a + b, a - b, e + h, e - h, float32(4*(d1-d3)) + (d5 - d3)
}

// wino4Out is the 1-D output transform of F(4x4, 3x3), Aᵀ m for a column m
// of 6 values, in the order of the assembly.
func wino4Out(m0, m1, m2, m3, m4, m5 float32) (y0, y1, y2, y3 float32) {
	s, d := m1+m2, m1-m2
	s2, d2 := m3+m4, m3-m4
	return m0 + s + s2, d + float32(2*d2), s + float32(4*s2), d + float32(8*d2) + m5
}

// wino4Filt is the 1-D filter transform of F(4x4, 3x3), G g for a column g
// of 3 values.
func wino4Filt(g0, g1, g2 float32) (u0, u1, u2, u3, u4, u5 float32) {
	const sixth = float32(1.0 / 6)
	q0, q1 := float32(g0*0.25), float32(g1*0.5)
	return q0, float32((g0 + g1 + g2) * -sixth), float32((g0 - g1 + g2) * -sixth),
		float32((q0 + q1 + g2) * sixth), float32((q0 - q1 + g2) * sixth), g2
}

// winoFilter4Generic writes into u the transformed filters G g Gᵀ of
// F(4x4, 3x3) for the flat (channel, filter) indices [lo, hi): g is the
// kernel (3, 3, C, F), nine planes of ck = C·F values; u is 36 such planes.
// It is the fallback of winoFilter4 and the reference of its assembly.
func winoFilter4Generic(u, g []float32, lo, hi, ck int) {
	g = g[:9*ck]
	u = u[:36*ck]
	for i := lo; i < hi; i++ {
		var t [6][3]float32 // G g
		for j := 0; j < 3; j++ {
			t[0][j], t[1][j], t[2][j], t[3][j], t[4][j], t[5][j] = wino4Filt(g[j*ck+i], g[(3+j)*ck+i], g[(6+j)*ck+i])
		}
		for r := 0; r < 6; r++ {
			o := 6 * r * ck
			u[o+i], u[o+ck+i], u[o+2*ck+i], u[o+3*ck+i], u[o+4*ck+i], u[o+5*ck+i] = wino4Filt(t[r][0], t[r][1], t[r][2])
		}
	}
}

// winoInput4Generic writes into dst the transformed tiles Bᵀ d B of F(4x4,
// 3x3) of tiles tiles, for the channels [c0, c): tile k's 6x6 patch d
// starts at src[4·k·c] (rows rs apart, pixels c apart) and its result at
// dst[36·k·c] (ξ·c + ch for element ξ). It is the fallback of winoInput4
// and the reference of its assembly.
func winoInput4Generic(dst, src []float32, tiles, c, rs, c0 int) {
	for k := 0; k < tiles; k++ {
		s := src[4*k*c : 4*k*c+5*rs+6*c]
		d := dst[36*k*c : 36*(k+1)*c]
		for ch := c0; ch < c; ch++ {
			var t [6][6]float32 // Bᵀ d, column by column
			for j := 0; j < 6; j++ {
				o := j*c + ch
				t[0][j], t[1][j], t[2][j], t[3][j], t[4][j], t[5][j] = wino4In(s[o], s[rs+o], s[2*rs+o], s[3*rs+o], s[4*rs+o], s[5*rs+o])
			}
			for i := 0; i < 6; i++ {
				ti := &t[i]
				o := 6*i*c + ch
				d[o], d[o+c], d[o+2*c], d[o+3*c], d[o+4*c], d[o+5*c] = wino4In(ti[0], ti[1], ti[2], ti[3], ti[4], ti[5])
			}
		}
	}
}

// winoOutput4Generic writes the 4x4 outputs Aᵀ m A of F(4x4, 3x3) of
// tiles tiles for the filters [f0, f): tile k's products m start at
// src[36·k·f] (ξ·f + j) and its outputs at dst[4·k·f] (rows rs apart,
// pixels f apart). It is the fallback of winoOutput4 and the reference of
// its assembly.
func winoOutput4Generic(dst, src []float32, tiles, f, rs, f0 int) {
	for k := 0; k < tiles; k++ {
		s := src[36*k*f : 36*(k+1)*f]
		d := dst[4*k*f : 4*k*f+3*rs+4*f]
		for j := f0; j < f; j++ {
			var t [4][6]float32 // Aᵀ m, column by column
			for q := 0; q < 6; q++ {
				o := q*f + j
				t[0][q], t[1][q], t[2][q], t[3][q] = wino4Out(s[o], s[6*f+o], s[12*f+o], s[18*f+o], s[24*f+o], s[30*f+o])
			}
			for i := 0; i < 4; i++ {
				ti := &t[i]
				o := i*rs + j
				d[o], d[o+f], d[o+2*f], d[o+3*f] = wino4Out(ti[0], ti[1], ti[2], ti[3], ti[4], ti[5])
			}
		}
	}
}
