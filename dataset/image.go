package dataset

import (
	"fmt"
	"image"
	_ "image/jpeg" // register JPEG for LoadImageFile
	_ "image/png"  // register PNG for LoadImageFile
	"slices"
)

// objectThreshold is how far (on a 0..1 scale) a pixel must differ from the
// background to count as part of the object when trimming.
const objectThreshold = 0.1

// FromImage converts img into an h×w grayscale image in [0, 1], row-major
// (the HWC layout of a Set with C = 1), prepared the way Fashion-MNIST
// images were:
//
//  1. Luma (0.299 R + 0.587 G + 0.114 B), with transparent pixels
//     composited over white.
//  2. Light object on a dark background: the background level is the median
//     of the border pixels; if it is light (> 0.5) the image is inverted.
//     The background is then mapped to 0 and the levels rescaled so the
//     brightest possible object pixel stays 1.
//  3. Trimmed to the bounding box of the pixels that differ from the
//     background by more than 0.1 (the whole image if there are none).
//  4. Scaled, keeping the aspect ratio, so that the longer side fills h or w
//     (area averaging, which also handles enlargement), centred, and padded
//     with the background, 0.
//
// It returns a new slice of length h*w and panics if h or w is not positive.
// An empty image gives all zeros.
func FromImage(img image.Image, h, w int) []float32 {
	if h <= 0 || w <= 0 {
		panic(fmt.Sprintf("dataset: FromImage size %d×%d, want positive", h, w))
	}
	out := make([]float32, h*w)
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	if sw == 0 || sh == 0 {
		return out
	}
	// The image is read three times, a row at a time, and never copied:
	// memory is out, one source row and the border.
	px := pixelFunc(img)
	row := make([]float32, sw)
	lumaRow := func(y, x0, x1 int) []float32 { // luma of pixels [x0, x1) of row y
		r := row[:x1-x0]
		for i := range r {
			r[i] = lumaOf(px(b.Min.X+x0+i, b.Min.Y+y))
		}
		return r
	}

	// Background from the border; invert a light background.
	border := make([]float32, 0, 2*(sw+sh))
	border = append(border, lumaRow(0, 0, sw)...)
	border = append(border, lumaRow(sh-1, 0, sw)...)
	for y := range sh {
		border = append(border, lumaOf(px(b.Min.X, b.Min.Y+y)), lumaOf(px(b.Min.X+sw-1, b.Min.Y+y)))
	}
	slices.Sort(border)
	bg := border[len(border)/2]
	invert := bg > 0.5
	if invert {
		bg = 1 - bg
	}
	// level maps a row of luma to object levels in place.
	level := func(r []float32) []float32 {
		for i, v := range r {
			if invert {
				v = 1 - v
			}
			r[i] = max(0, (v-bg)/(1-bg))
		}
		return r
	}

	// Trim to the object.
	x0, y0, x1, y1 := sw, sh, 0, 0
	for y := range sh {
		for x, v := range level(lumaRow(y, 0, sw)) {
			if v > objectThreshold {
				x0, x1 = min(x0, x), max(x1, x+1)
				y0, y1 = min(y0, y), max(y1, y+1)
			}
		}
	}
	if x0 >= x1 {
		x0, y0, x1, y1 = 0, 0, sw, sh
	}
	ow, oh := x1-x0, y1-y0

	// Fit, keeping the aspect ratio.
	dw, dh := w, h
	if ow*h > oh*w { // relatively wider than the target
		dh = max(1, int(float64(oh)*float64(w)/float64(ow)+0.5))
	} else {
		dw = max(1, int(float64(ow)*float64(h)/float64(oh)+0.5))
	}
	xw := areaWeights(ow, dw)
	yw := areaWeights(oh, dh)
	// The output rows each source row contributes to, in output order.
	type share struct {
		j int
		w float32
	}
	rows := make([][]share, oh)
	for j, ws := range yw {
		for _, c := range ws {
			rows[c.i] = append(rows[c.i], share{j, c.w})
		}
	}

	// Each source row is averaged horizontally into hrow (dw values), then
	// added to the output rows it covers, source rows in order (so each
	// output value sums its terms in the same order as a two-pass resize).
	offX, offY := (w-dw)/2, (h-dh)/2
	hrow := make([]float32, dw)
	for y := range oh {
		if len(rows[y]) == 0 {
			continue
		}
		src := level(lumaRow(y0+y, x0, x1))
		for x, ws := range xw {
			var s float32
			for _, c := range ws {
				s += c.w * src[c.i]
			}
			hrow[x] = s
		}
		for _, sh := range rows[y] {
			dst := out[(offY+sh.j)*w+offX : (offY+sh.j)*w+offX+dw]
			for x := range dst {
				dst[x] += sh.w * hrow[x]
			}
		}
	}
	for i, v := range out {
		out[i] = min(max(v, 0), 1)
	}
	return out
}

// coef is one source index and its weight in an output sample.
type coef struct {
	i int
	w float32
}

// areaWeights returns, for each of the n output samples along an axis of m
// source samples, the source samples it covers and their weights: output j
// spans source interval [j*m/n, (j+1)*m/n), each source sample weighted by
// its overlap, normalised to sum to 1.
func areaWeights(m, n int) [][]coef {
	ws := make([][]coef, n)
	scale := float64(m) / float64(n)
	for j := range ws {
		lo, hi := float64(j)*scale, float64(j+1)*scale
		for i := int(lo); i < m && float64(i) < hi; i++ {
			ov := min(hi, float64(i+1)) - max(lo, float64(i))
			if ov > 1e-9 {
				ws[j] = append(ws[j], coef{i, float32(ov / scale)})
			}
		}
	}
	return ws
}

// LoadImageFile decodes the PNG or JPEG file at path and converts it with
// FromImage into h×w values in [0, 1]: LoadImageFileWith with the default
// pixel limit (DefaultMaxPixels). Errors name the file.
func LoadImageFile(path string, h, w int) ([]float32, error) {
	return LoadImageFileWith(path, ImageOptions{Height: h, Width: w})
}
