package augment

import (
	"fmt"
	"math"
)

// FillMode says how a geometric transform fills the output pixels whose
// source lies outside the image, as Keras's fill_mode does. For an input row
// a b c d:
//
//	FillReflect   d c b a | a b c d | d c b a   (Keras's default)
//	FillConstant  k k k k | a b c d | k k k k   (k is the fill value)
//	FillNearest   a a a a | a b c d | d d d d
//	FillWrap      a b c d | a b c d | a b c d
type FillMode int

const (
	FillReflect FillMode = iota
	FillConstant
	FillNearest
	FillWrap
)

var fillNames = [...]string{"reflect", "constant", "nearest", "wrap"}

// String returns Keras's name of the mode ("reflect", ...).
func (f FillMode) String() string {
	if f >= 0 && int(f) < len(fillNames) {
		return fillNames[f]
	}
	return fmt.Sprintf("FillMode(%d)", int(f))
}

// ParseFillMode returns the mode of a Keras fill_mode name; "" is
// FillReflect, Keras's default.
func ParseFillMode(s string) (FillMode, error) {
	if s == "" {
		return FillReflect, nil
	}
	for i, n := range fillNames {
		if s == n {
			return FillMode(i), nil
		}
	}
	return 0, fmt.Errorf("augment: fill mode must be reflect, constant, nearest or wrap, got %q", s)
}

// Interpolation is how a geometric transform samples the input between
// pixel centres.
type Interpolation int

const (
	// Bilinear blends the four nearest pixels (Keras's default).
	Bilinear Interpolation = iota
	// NearestNeighbor takes the nearest pixel (Keras's "nearest").
	NearestNeighbor
)

// String returns Keras's name of the interpolation.
func (i Interpolation) String() string {
	switch i {
	case Bilinear:
		return "bilinear"
	case NearestNeighbor:
		return "nearest"
	}
	return fmt.Sprintf("Interpolation(%d)", int(i))
}

// ParseInterpolation returns the interpolation of a Keras name ("bilinear"
// or "nearest"); "" is Bilinear.
func ParseInterpolation(s string) (Interpolation, error) {
	switch s {
	case "", "bilinear":
		return Bilinear, nil
	case "nearest":
		return NearestNeighbor, nil
	}
	return 0, fmt.Errorf("augment: interpolation must be bilinear or nearest, got %q", s)
}

// affine is an inverse map from output to input coordinates, both measured
// from the image centre ((W-1)/2, (H-1)/2) in pixels, x to the right and y
// down:
//
//	xin = a*x + b*y + c
//	yin = d*x + e*y + f
type affine struct{ a, b, c, d, e, f float64 }

var identity = affine{a: 1, e: 1}

// then returns the inverse map of applying the forward transform of m and
// then that of n: out = N(M(in)), so in = M⁻¹(N⁻¹(out)), and as inverse maps
// the result is m∘n.
func (m affine) then(n affine) affine {
	return affine{
		a: m.a*n.a + m.b*n.d, b: m.a*n.b + m.b*n.e, c: m.a*n.c + m.b*n.f + m.c,
		d: m.d*n.a + m.e*n.d, e: m.d*n.b + m.e*n.e, f: m.d*n.c + m.e*n.f + m.f,
	}
}

func (m affine) isIdentity() bool { return m == identity }

// warpParams are the fixed parameters of a warp.
type warpParams struct {
	h, w, c int
	fill    FillMode
	interp  Interpolation
	value   float32
}

// warpTo writes into dst the HWC image src resampled through the inverse
// map m. dst and src have h*w*c values and must not overlap.
func warpTo(dst, src []float32, m affine, p warpParams) {
	h, w, c := p.h, p.w, p.c
	cx, cy := float64(w-1)/2, float64(h-1)/2
	// Source coordinates in pixels: sx = a*x + b*y + (c + cx) with x, y
	// centred; step along a row by (a, d).
	for y := 0; y < h; y++ {
		yc := float64(y) - cy
		sx := m.a*(-cx) + m.b*yc + m.c + cx
		sy := m.d*(-cx) + m.e*yc + m.f + cy
		row := dst[y*w*c : (y+1)*w*c]
		for x := 0; x < w; x++ {
			px := row[x*c : (x+1)*c]
			switch {
			case p.interp == NearestNeighbor:
				nearestAt(px, src, sx, sy, p)
			case c == 1 && sx >= 0 && sy >= 0 && sx < float64(w-1) && sy < float64(h-1):
				// The common case, inline: one channel, all four
				// neighbours inside the image.
				x0, y0 := int(sx), int(sy)
				ax, ay := float32(sx-float64(x0)), float32(sy-float64(y0))
				i := y0*w + x0
				top := src[i] + ax*(src[i+1]-src[i])
				bot := src[i+w] + ax*(src[i+w+1]-src[i+w])
				px[0] = top + ay*(bot-top)
			default:
				bilinearAt(px, src, sx, sy, p)
			}
			sx += m.a
			sy += m.d
		}
	}
}

// mapCoord maps a coordinate outside [0, n-1] into it by the fill mode (all
// but FillConstant), as TensorFlow's ImageProjectiveTransform does.
func mapCoord(v float64, n int, mode FillMode) float64 {
	hi := float64(n - 1)
	if v >= 0 && v <= hi {
		return v
	}
	if n <= 1 {
		return 0
	}
	switch mode {
	case FillReflect: // half-sample symmetric: -1 -> 0, n -> n-1
		p := 2 * float64(n)
		v = math.Mod(v, p)
		if v < 0 {
			v += p
		}
		if v > float64(n)-0.5 {
			v = p - 1 - v
		}
	case FillWrap:
		v = math.Mod(v, float64(n))
		if v < 0 {
			v += float64(n)
		}
		return v // in [0, n): bilinear wraps its right neighbour
	}
	return min(max(v, 0), hi)
}

func nearestAt(px, src []float32, sx, sy float64, p warpParams) {
	if p.fill != FillConstant {
		sx, sy = mapCoord(sx, p.w, p.fill), mapCoord(sy, p.h, p.fill)
	}
	x, y := int(math.Round(sx)), int(math.Round(sy))
	if p.fill == FillWrap {
		x %= p.w
		y %= p.h
	}
	if x < 0 || x >= p.w || y < 0 || y >= p.h {
		for i := range px {
			px[i] = p.value
		}
		return
	}
	copy(px, src[(y*p.w+x)*p.c:])
}

func bilinearAt(px, src []float32, sx, sy float64, p warpParams) {
	w, h, c := p.w, p.h, p.c
	if p.fill == FillConstant {
		fx, fy := math.Floor(sx), math.Floor(sy)
		x0, y0 := int(fx), int(fy)
		if x0 < -1 || x0 >= w || y0 < -1 || y0 >= h {
			for i := range px {
				px[i] = p.value
			}
			return
		}
		ax, ay := float32(sx-fx), float32(sy-fy)
		w00, w01 := (1-ax)*(1-ay), ax*(1-ay)
		w10, w11 := (1-ax)*ay, ax*ay
		in0, in1 := x0 >= 0, x0+1 < w
		iny0, iny1 := y0 >= 0, y0+1 < h
		if in0 && in1 && iny0 && iny1 {
			i00 := (y0*w + x0) * c
			i10 := i00 + w*c
			for k := range px {
				px[k] = w00*src[i00+k] + w01*src[i00+c+k] + w10*src[i10+k] + w11*src[i10+c+k]
			}
			return
		}
		for k := range px {
			v := func(ok bool, y, x int) float32 {
				if ok {
					return src[(y*w+x)*c+k]
				}
				return p.value
			}
			px[k] = w00*v(in0 && iny0, y0, x0) + w01*v(in1 && iny0, y0, x0+1) +
				w10*v(in0 && iny1, y0+1, x0) + w11*v(in1 && iny1, y0+1, x0+1)
		}
		return
	}
	sx, sy = mapCoord(sx, w, p.fill), mapCoord(sy, h, p.fill)
	fx, fy := math.Floor(sx), math.Floor(sy)
	x0, y0 := int(fx), int(fy)
	ax, ay := float32(sx-fx), float32(sy-fy)
	x1, y1 := x0+1, y0+1
	if p.fill == FillWrap {
		x0, y0, x1, y1 = x0%w, y0%h, x1%w, y1%h
	} else {
		x1, y1 = min(x1, w-1), min(y1, h-1)
	}
	i00, i01 := (y0*w+x0)*c, (y0*w+x1)*c
	i10, i11 := (y1*w+x0)*c, (y1*w+x1)*c
	w00, w01 := (1-ax)*(1-ay), ax*(1-ay)
	w10, w11 := (1-ax)*ay, ax*ay
	for k := range px {
		px[k] = w00*src[i00+k] + w01*src[i01+k] + w10*src[i10+k] + w11*src[i11+k]
	}
}
