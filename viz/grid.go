package viz

import (
	"fmt"
	"image"
	"image/color"
	"math"
)

// GridOptions configure Grid.
type GridOptions struct {
	// Cols is the number of columns (default 8, at most the number of
	// images).
	Cols int
	// Scale enlarges every pixel into a Scale×Scale square (default 1).
	Scale int
	// Labels are written under the images: nil, or one per image ("" for
	// none).
	Labels []string
	// LabelColors give each label its color: nil (all black), or one per
	// image (nil entries are black). Green for right and red for wrong
	// predictions read at a glance.
	LabelColors []color.Color
}

// ImageGrid draws n images of shape (H, W, C), stored one after the other
// in x (NHWC, values in [0, 1]; C is 1 for gray or 3 for RGB), in a grid of
// cols columns (fewer if n < cols), each pixel enlarged scale times, with
// labels[i] (labels may be nil) under image i, on a white background.
//
// Labels wrap between words to the width of an image, keeping a
// parenthesized group such as "(was Coat)" on one line; "\n" breaks a line.
// When a word or group is wider than an image, every cell widens to it. Values outside [0, 1] are clipped, NaN is drawn as 0. The
// images keep their colors: Fashion-MNIST's light garments on black. See
// Grid for colored labels.
func ImageGrid(x []float32, n int, shape []int, labels []string, cols, scale int) (*image.RGBA, error) {
	if cols < 1 {
		return nil, fmt.Errorf("viz: ImageGrid: cols must be at least 1, got %d", cols)
	}
	if scale < 1 {
		return nil, fmt.Errorf("viz: ImageGrid: scale must be at least 1, got %d", scale)
	}
	return grid("ImageGrid", x, n, shape, GridOptions{Cols: cols, Scale: scale, Labels: labels})
}

// Grid is ImageGrid with options, zero values meaning defaults, and labels
// in colors.
func Grid(x []float32, n int, shape []int, o GridOptions) (*image.RGBA, error) {
	if o.Cols < 0 || o.Scale < 0 {
		return nil, fmt.Errorf("viz: Grid: Cols and Scale must not be negative, got %d and %d", o.Cols, o.Scale)
	}
	if o.Cols == 0 {
		o.Cols = 8
	}
	if o.Scale == 0 {
		o.Scale = 1
	}
	return grid("Grid", x, n, shape, o)
}

func grid(what string, x []float32, n int, shape []int, o GridOptions) (*image.RGBA, error) {
	if n < 0 {
		return nil, fmt.Errorf("viz: %s: n must not be negative, got %d", what, n)
	}
	if len(shape) != 3 || shape[0] < 1 || shape[1] < 1 || (shape[2] != 1 && shape[2] != 3) {
		return nil, fmt.Errorf("viz: %s: shape must be (height, width, channels) with 1 or 3 channels, got %v", what, shape)
	}
	h, w, c := shape[0], shape[1], shape[2]
	if h > MaxPixels || w > MaxPixels || h*w > MaxPixels || o.Scale > MaxPixels/(h*w) {
		return nil, fmt.Errorf("viz: %s: images of %dx%d enlarged %d times are too large", what, h, w, o.Scale)
	}
	size := h * w * c
	if len(x)%size != 0 || len(x)/size != n {
		return nil, fmt.Errorf("viz: %s: %d values for %d images of shape %v: want %d", what, len(x), n, shape, n*size)
	}
	if o.Labels != nil && len(o.Labels) != n {
		return nil, fmt.Errorf("viz: %s: %d labels for %d images: give one per image or nil", what, len(o.Labels), n)
	}
	if o.LabelColors != nil && len(o.LabelColors) != n {
		return nil, fmt.Errorf("viz: %s: %d label colors for %d images: give one per image or nil", what, len(o.LabelColors), n)
	}
	cols := max(1, min(o.Cols, n))
	rows := (n + cols - 1) / cols
	tw, th := w*o.Scale, h*o.Scale
	// Every cell gets the width of the widest word (or parenthesized group)
	// of any label, then the labels wrap to it, every cell getting room for
	// the most lines.
	cellW, nLines := tw, 0
	for _, l := range o.Labels {
		for _, s := range wrap(l, tw) {
			cellW = max(cellW, textWidth(s))
		}
	}
	lines := make([][]string, n)
	for i, l := range o.Labels {
		if l != "" {
			lines[i] = wrap(l, cellW)
			nLines = max(nLines, len(lines[i]))
		}
	}
	cellH := th
	if nLines > 0 {
		cellH += 3 + nLines*lineH
	}
	if rows > 0 && (cellW+gap > MaxPixels/cols || cellH+gap > MaxPixels/rows) {
		return nil, fmt.Errorf("viz: %s: %d images of %dx%d enlarged %d times are too large", what, n, h, w, o.Scale)
	}
	W := 2*margin + cols*cellW + (cols-1)*gap
	H := 2*margin + rows*cellH + max(rows-1, 0)*gap
	img, err := newCanvas(what, W, H)
	if err != nil {
		return nil, err
	}
	for i := 0; i < n; i++ {
		cx := margin + (i%cols)*(cellW+gap)
		cy := margin + (i/cols)*(cellH+gap)
		x0 := cx + (cellW-tw)/2
		drawImage(img, x0, cy, x[i*size:(i+1)*size], h, w, c, o.Scale)
		frame(img, x0, cy, x0+tw, cy+th, frameGray)
		var col color.Color = black
		if o.LabelColors != nil && o.LabelColors[i] != nil {
			col = o.LabelColors[i]
		}
		for k, s := range lines[i] {
			drawTextCentered(img, cx+cellW/2, cy+th+3+k*lineH, s, col)
		}
	}
	return img, nil
}

// drawImage paints one (h, w, c) image of values in [0, 1] at (x0, y0),
// each pixel a scale×scale square.
func drawImage(img *image.RGBA, x0, y0 int, px []float32, h, w, c, scale int) {
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			p := px[(y*w+x)*c:]
			var col color.RGBA
			if c == 1 {
				g := unit8(p[0])
				col = color.RGBA{g, g, g, 255}
			} else {
				col = color.RGBA{unit8(p[0]), unit8(p[1]), unit8(p[2]), 255}
			}
			fillRect(img, x0+x*scale, y0+y*scale, x0+(x+1)*scale, y0+(y+1)*scale, col)
		}
	}
}

// unit8 maps [0, 1] to 0..255, clipping, NaN to 0.
func unit8(v float32) uint8 {
	if !(v > 0) {
		return 0
	}
	if v >= 1 {
		return 255
	}
	return uint8(math.Round(float64(v) * 255))
}
