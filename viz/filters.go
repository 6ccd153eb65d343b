package viz

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"strconv"
)

// MaxFeatureMaps is the number of channels FeatureMaps draws at most: the
// first ones; a note under the picture says how many there were.
const MaxFeatureMaps = 64

// viridis is matplotlib's default colormap, dark purple (low) to yellow
// (high), sampled at nine points.
var viridis = []color.RGBA{
	{68, 1, 84, 255}, {71, 44, 122, 255}, {59, 81, 139, 255}, {44, 113, 142, 255}, {33, 144, 141, 255},
	{39, 173, 129, 255}, {92, 200, 99, 255}, {170, 220, 50, 255}, {253, 231, 37, 255},
}

// diverging maps t in [-1, 1] to blue (-1), white (0) and red (+1), linearly
// (matplotlib's "bwr"); NaN is white.
func diverging(t float64) color.RGBA {
	switch {
	case t < 0:
		v := uint8(math.Round(255 * (1 + max(t, -1))))
		return color.RGBA{v, v, 255, 255}
	case t > 0:
		v := uint8(math.Round(255 * (1 - min(t, 1))))
		return color.RGBA{255, v, v, 255}
	}
	return white
}

// Filters draws convolution kernels in Keras's layout (kh, kw, in, out),
// one tile per output filter, in a grid numbered by filter index. With
// in == 3 a tile is the filter's RGB image, scaled to its own min..max;
// otherwise it is the filter averaged over its input channels, in a
// diverging colormap centered on zero: blue negative, white zero, red
// positive, scaled to the filter's own largest |weight| (so full red or
// blue is that weight). Every weight becomes a scale×scale square; a
// legend under the grid explains the colors.
func Filters(kernel []float32, shape []int, scale int) (*image.RGBA, error) {
	if len(shape) != 4 || shape[0] < 1 || shape[1] < 1 || shape[2] < 1 || shape[3] < 1 {
		return nil, fmt.Errorf("viz: Filters: shape must be (kh, kw, in, out), all positive, got %v", shape)
	}
	if scale < 1 {
		return nil, fmt.Errorf("viz: Filters: scale must be at least 1, got %d", scale)
	}
	kh, kw, in, out := shape[0], shape[1], shape[2], shape[3]
	size, ok := product(shape)
	if !ok || len(kernel) != size {
		return nil, fmt.Errorf("viz: Filters: %d values for a kernel of shape %v", len(kernel), shape)
	}
	at := func(y, x, c, o int) float64 { return float64(kernel[((y*kw+x)*in+c)*out+o]) }
	ts := tileSet{
		n: out, cols: min(out, int(math.Ceil(math.Sqrt(2*float64(out))))),
		h: kh, w: kw, scale: scale,
		label: strconv.Itoa,
	}
	if in == 3 {
		ts.note = []string{"RGB, each filter scaled to its own min..max"}
		ts.paint = func(o, y, x int) color.RGBA {
			lo, hi := math.Inf(1), math.Inf(-1)
			for i := 0; i < kh*kw*3; i++ { // the filter's range: recomputed per pixel, kernels are small
				v := at(i/(kw*3), i/3%kw, i%3, o)
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
			ch := func(c int) uint8 {
				if !(hi > lo) {
					return 128
				}
				return unit8(float32((at(y, x, c, o) - lo) / (hi - lo)))
			}
			return color.RGBA{ch(0), ch(1), ch(2), 255}
		}
	} else {
		mean := make([]float64, kh*kw*out)
		for y := 0; y < kh; y++ {
			for x := 0; x < kw; x++ {
				for o := 0; o < out; o++ {
					s := 0.0
					for c := 0; c < in; c++ {
						s += at(y, x, c, o)
					}
					mean[(y*kw+x)*out+o] = s / float64(in)
				}
			}
		}
		peak := make([]float64, out)
		for i, v := range mean {
			peak[i%out] = math.Max(peak[i%out], math.Abs(v))
		}
		ts.bar, ts.barLabels = diverging, [3]string{"-max", "0", "+max"}
		if in > 1 {
			ts.note = []string{fmt.Sprintf("mean over %d input channels;", in)}
		}
		ts.note = append(ts.note, "each filter scaled to its largest |weight|")
		ts.paint = func(o, y, x int) color.RGBA {
			if peak[o] == 0 {
				return white
			}
			return diverging(mean[(y*kw+x)*out+o] / peak[o])
		}
	}
	return ts.draw("Filters")
}

// FeatureMaps draws one sample's activations of shape (H, W, C), stored
// channels-last in maps, as one tile per channel in a grid of cols columns,
// each value a scale×scale square. Each channel is scaled to its own
// min..max in the viridis colormap (dark purple low, yellow high); a
// channel with one value everywhere (such as a ReLU channel that is all 0)
// is drawn dark and labeled with that value. At most MaxFeatureMaps
// channels are drawn, the first ones, and a note says so. The picture has
// no title: add one with Titled.
func FeatureMaps(maps []float32, shape []int, cols, scale int) (*image.RGBA, error) {
	if len(shape) != 3 || shape[0] < 1 || shape[1] < 1 || shape[2] < 1 {
		return nil, fmt.Errorf("viz: FeatureMaps: shape must be (height, width, channels), all positive, got %v", shape)
	}
	if cols < 1 {
		return nil, fmt.Errorf("viz: FeatureMaps: cols must be at least 1, got %d", cols)
	}
	if scale < 1 {
		return nil, fmt.Errorf("viz: FeatureMaps: scale must be at least 1, got %d", scale)
	}
	h, w, c := shape[0], shape[1], shape[2]
	size, ok := product(shape)
	if !ok || len(maps) != size {
		return nil, fmt.Errorf("viz: FeatureMaps: %d values for maps of shape %v", len(maps), shape)
	}
	n := min(c, MaxFeatureMaps)
	lo, hi := make([]float64, n), make([]float64, n)
	for ch := 0; ch < n; ch++ {
		lo[ch], hi[ch] = math.Inf(1), math.Inf(-1)
		for i := ch; i < size; i += c {
			if v := float64(maps[i]); !math.IsNaN(v) {
				lo[ch], hi[ch] = math.Min(lo[ch], v), math.Max(hi[ch], v)
			}
		}
	}
	ts := tileSet{
		n: n, cols: min(cols, n), h: h, w: w, scale: scale,
		bar: func(t float64) color.RGBA { return ramp(viridis, (t+1)/2) }, barLabels: [3]string{"min", "", "max"},
		note: []string{"each map scaled to its own min..max"},
		label: func(ch int) string {
			switch {
			case lo[ch] == hi[ch]:
				return fmt.Sprintf("%d (all %.3g)", ch, lo[ch])
			case lo[ch] > hi[ch]:
				return fmt.Sprintf("%d (NaN)", ch)
			}
			return strconv.Itoa(ch)
		},
		paint: func(ch, y, x int) color.RGBA {
			if !(hi[ch] > lo[ch]) {
				return viridis[0]
			}
			return ramp(viridis, (float64(maps[(y*w+x)*c+ch])-lo[ch])/(hi[ch]-lo[ch]))
		},
	}
	if c > n {
		ts.note = append(ts.note, fmt.Sprintf("channels 0-%d of %d shown", n-1, c))
	}
	return ts.draw("FeatureMaps")
}

// product multiplies dims, reporting false on overflow past MaxPixels*4.
func product(dims []int) (int, bool) {
	p := 1
	for _, d := range dims {
		if d > MaxPixels*4/p {
			return 0, false
		}
		p *= d
	}
	return p, true
}

// tileSet is a grid of n labeled h×w tiles painted pixel by pixel, with an
// optional colorbar and notes under it.
type tileSet struct {
	n, cols, h, w, scale int
	label                func(i int) string
	paint                func(i, y, x int) color.RGBA
	bar                  func(t float64) color.RGBA // t in [-1, 1]; nil: no colorbar
	barLabels            [3]string                  // under the bar's left end, middle, right end
	note                 []string
}

const barW, barH = 160, 10

func (ts tileSet) draw(what string) (*image.RGBA, error) {
	if ts.h*ts.w > MaxPixels || ts.scale > MaxPixels/(ts.h*ts.w) {
		return nil, fmt.Errorf("viz: %s: tiles of %dx%d enlarged %d times are too large", what, ts.h, ts.w, ts.scale)
	}
	tw, th := ts.w*ts.scale, ts.h*ts.scale
	cellW := tw
	for i := 0; i < ts.n; i++ {
		cellW = max(cellW, textWidth(ts.label(i)))
	}
	cellH := th + 3 + lineH
	rows := (ts.n + ts.cols - 1) / ts.cols
	if cellW+gap > MaxPixels/ts.cols || cellH+gap > MaxPixels/rows {
		return nil, fmt.Errorf("viz: %s: %d tiles of %dx%d enlarged %d times are too large", what, ts.n, ts.h, ts.w, ts.scale)
	}
	gridW := ts.cols*cellW + (ts.cols-1)*gap
	W := 2*margin + gridW
	H := 2*margin + rows*cellH + (rows-1)*gap + 6
	if ts.bar != nil {
		W = max(W, 2*margin+barW)
		H += barH + 3 + lineH
	}
	for _, s := range ts.note {
		W = max(W, 2*margin+textWidth(s))
		H += lineH
	}
	img, err := newCanvas(what, W, H)
	if err != nil {
		return nil, err
	}
	for i := 0; i < ts.n; i++ {
		cx := margin + (i%ts.cols)*(cellW+gap)
		cy := margin + (i/ts.cols)*(cellH+gap)
		x0 := cx + (cellW-tw)/2
		for y := 0; y < ts.h; y++ {
			for x := 0; x < ts.w; x++ {
				fillRect(img, x0+x*ts.scale, cy+y*ts.scale, x0+(x+1)*ts.scale, cy+(y+1)*ts.scale, ts.paint(i, y, x))
			}
		}
		frame(img, x0, cy, x0+tw, cy+th, frameGray)
		drawTextCentered(img, cx+cellW/2, cy+th+3, ts.label(i), black)
	}
	y := margin + rows*cellH + (rows-1)*gap + 6
	if ts.bar != nil {
		for x := 0; x < barW; x++ {
			fillRect(img, margin+x, y, margin+x+1, y+barH, ts.bar(2*float64(x)/float64(barW-1)-1))
		}
		frame(img, margin, y, margin+barW, y+barH, frameGray)
		y += barH + 3
		drawText(img, margin, y, ts.barLabels[0], noteGray)
		drawTextCentered(img, margin+barW/2, y, ts.barLabels[1], noteGray)
		drawText(img, margin+barW-textWidth(ts.barLabels[2]), y, ts.barLabels[2], noteGray)
		y += lineH
	}
	for _, s := range ts.note {
		drawText(img, margin, y, s, noteGray)
		y += lineH
	}
	return img, nil
}
