//go:build !capa_noasm

package kernels

// AVX2 versions of the Winograd transforms (simd_amd64.s), bit for bit
// the pure-Go loops of winograd.go (NaN payloads aside): the same additions,
// subtractions and halvings in the same order, eight channels (or filters)
// at a time.

// winoFilterAVX2 is winoFilterGeneric on the flat indices [0, n) of u and
// the kernel w (n a positive multiple of 8; the planes are ck values apart).
//
//go:noescape
func winoFilterAVX2(u, w *float32, n, ck int)

// winoInputAVX2 is winoInputGeneric on the channels [0, c8) (c8 a positive
// multiple of 8, tiles > 0); srcAdj and dstAdj are the byte steps from the
// end of one tile's channels to the start of the next's: 4·(2c - c8) and
// 4·(16c - c8).
//
//go:noescape
func winoInputAVX2(dst, src *float32, tiles, c8, c, rs, srcAdj, dstAdj int)

// winoOutputAVX2 is winoOutputGeneric on the filters [0, f8) (f8 a positive
// multiple of 8, tiles > 0); srcAdj and dstAdj are 4·(16f - f8) and
// 4·(2f - f8).
//
//go:noescape
func winoOutputAVX2(dst, src *float32, tiles, f8, f, rs, srcAdj, dstAdj int)

func winoFilter(u, g []float32, lo, hi, ck int) {
	n := 0
	if useSIMD {
		if n = (hi - lo) &^ 7; n > 0 {
			_, _ = g[8*ck+hi-1], u[15*ck+hi-1]
			winoFilterAVX2(&u[lo], &g[lo], n, ck)
		}
	}
	winoFilterGeneric(u, g, lo+n, hi, ck)
}

func winoInput(dst, src []float32, tiles, c, rs int) {
	c8 := 0
	if useSIMD && tiles > 0 {
		if c8 = c &^ 7; c8 > 0 {
			_, _ = dst[16*tiles*c-1], src[2*(tiles-1)*c+3*rs+4*c-1]
			winoInputAVX2(&dst[0], &src[0], tiles, c8, c, rs, 4*(2*c-c8), 4*(16*c-c8))
		}
	}
	if c8 < c {
		winoInputGeneric(dst, src, tiles, c, rs, c8)
	}
}

func winoOutput(dst, src []float32, tiles, f, rs int) {
	f8 := 0
	if useSIMD && tiles > 0 {
		if f8 = f &^ 7; f8 > 0 {
			_, _ = src[16*tiles*f-1], dst[2*(tiles-1)*f+rs+2*f-1]
			winoOutputAVX2(&dst[0], &src[0], tiles, f8, f, rs, 4*(16*f-f8), 4*(2*f-f8))
		}
	}
	if f8 < f {
		winoOutputGeneric(dst, src, tiles, f, rs, f8)
	}
}

// winoInput4AVX2 is winoInput4Generic on the channels [0, c8) (c8 a
// positive multiple of 8, tiles > 0), with tmp 288 floats of scratch;
// srcAdj and dstAdj are 4·(4c - c8) and 4·(36c - c8).
//
//go:noescape
func winoInput4AVX2(dst, src, tmp *float32, tiles, c8, c, rs, srcAdj, dstAdj int)

// winoOutput4AVX2 is winoOutput4Generic on the filters [0, f8) (f8 a
// positive multiple of 8, tiles > 0), with tmp 192 floats of scratch;
// srcAdj and dstAdj are 4·(36f - f8) and 4·(4f - f8).
//
//go:noescape
func winoOutput4AVX2(dst, src, tmp *float32, tiles, f8, f, rs, srcAdj, dstAdj int)

func winoInput4(dst, src []float32, tiles, c, rs int) {
	c8 := 0
	if useSIMD && tiles > 0 {
		if c8 = c &^ 7; c8 > 0 {
			_, _ = dst[36*tiles*c-1], src[4*(tiles-1)*c+5*rs+6*c-1]
			var tmp [288]float32
			winoInput4AVX2(&dst[0], &src[0], &tmp[0], tiles, c8, c, rs, 4*(4*c-c8), 4*(36*c-c8))
		}
	}
	if c8 < c {
		winoInput4Generic(dst, src, tiles, c, rs, c8)
	}
}

func winoOutput4(dst, src []float32, tiles, f, rs int) {
	f8 := 0
	if useSIMD && tiles > 0 {
		if f8 = f &^ 7; f8 > 0 {
			_, _ = src[36*tiles*f-1], dst[4*(tiles-1)*f+3*rs+4*f-1]
			var tmp [192]float32
			winoOutput4AVX2(&dst[0], &src[0], &tmp[0], tiles, f8, f, rs, 4*(36*f-f8), 4*(4*f-f8))
		}
	}
	if f8 < f {
		winoOutput4Generic(dst, src, tiles, f, rs, f8)
	}
}

// winoFilter4AVX2 is winoFilter4Generic on the flat indices [0, n) of u
// and the kernel w (n a positive multiple of 8; the planes are ck values
// apart), with tmp 144 floats of scratch.
//
//go:noescape
func winoFilter4AVX2(u, w, tmp *float32, n, ck int)

func winoFilter4(u, g []float32, lo, hi, ck int) {
	n := 0
	if useSIMD {
		if n = (hi - lo) &^ 7; n > 0 {
			_, _ = g[8*ck+hi-1], u[35*ck+hi-1]
			var tmp [144]float32
			winoFilter4AVX2(&u[lo], &g[lo], &tmp[0], n, ck)
		}
	}
	winoFilter4Generic(u, g, lo+n, hi, ck)
}
