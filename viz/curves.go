package viz

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"

	"github.com/capa-ml/capa/internal/atomicfile"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Series is one named line of a chart: Y[i] is plotted at x = i+1 (epochs
// count from 1).
type Series struct {
	Name string
	Y    []float64
}

// Chart is a line chart.
type Chart struct {
	Title         string
	XLabel        string
	YLabel        string
	Series        []Series
	Width, Height int // default 640x400
}

var palette = []color.RGBA{
	{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255},
	{148, 103, 189, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255},
}

// Draw renders the chart.
func (c Chart) Draw() *image.RGBA {
	w, h := c.Width, c.Height
	if w == 0 {
		w = 640
	}
	if h == 0 {
		h = 400
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	left, right, top, bottom := 64, w-16, 28, h-44
	lo, hi, n := math.Inf(1), math.Inf(-1), 0
	for _, s := range c.Series {
		for _, v := range s.Y {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
		n = max(n, len(s.Y))
	}
	if n == 0 || lo > hi {
		lo, hi, n = 0, 1, 1
	}
	if hi-lo < 1e-9 { // a flat line (one epoch): a range around it
		d := max(math.Abs(lo)*0.1, 0.05)
		lo, hi = lo-d, hi+d
	}
	pad := (hi - lo) * 0.05
	lo, hi = lo-pad, hi+pad
	gray := color.RGBA{200, 200, 200, 255}
	black := color.RGBA{0, 0, 0, 255}
	px := func(i float64) int {
		if n == 1 {
			return (left + right) / 2
		}
		return left + int((i-1)/float64(n-1)*float64(right-left))
	}
	py := func(v float64) int { return bottom - int((v-lo)/(hi-lo)*float64(bottom-top)) }
	// Grid and tick labels.
	for t := 0; t <= 4; t++ {
		v := lo + (hi-lo)*float64(t)/4
		y := py(v)
		line(img, left, y, right, y, gray)
		label(img, 4, y+4, fmt.Sprintf("%.3g", v), black)
	}
	step := max(1, (n+9)/10)
	for i := 1; i <= n; i += step {
		x := px(float64(i))
		line(img, x, top, x, bottom, gray)
		label(img, x-4, bottom+14, fmt.Sprint(i), black)
	}
	line(img, left, bottom, right, bottom, black)
	line(img, left, top, left, bottom, black)
	label(img, left, 16, c.Title, black)
	label(img, (left+right)/2-len(c.XLabel)*3, h-8, c.XLabel, black)
	if c.YLabel != "" {
		label(img, 4, 16, c.YLabel, black)
	}
	// Lines and legend.
	for k, s := range c.Series {
		col := palette[k%len(palette)]
		for i := 1; i < len(s.Y); i++ {
			line(img, px(float64(i)), py(s.Y[i-1]), px(float64(i+1)), py(s.Y[i]), col)
			line(img, px(float64(i)), py(s.Y[i-1])+1, px(float64(i+1)), py(s.Y[i])+1, col)
		}
		for i, v := range s.Y {
			dot(img, px(float64(i+1)), py(v), col)
		}
		ly := top + 8 + 14*k
		line(img, right-150, ly-4, right-130, ly-4, col)
		line(img, right-150, ly-3, right-130, ly-3, col)
		label(img, right-124, ly, s.Name, black)
	}
	return img
}

// WritePNG renders the chart into a PNG file, written atomically.
func (c Chart) WritePNG(path string) error { return WritePNG(path, c.Draw()) }

// WritePNG encodes img into the file at path, atomically
// (internal/atomicfile).
func WritePNG(path string, img image.Image) error {
	if err := atomicfile.Write(path, 0o644, func(w io.Writer) error { return png.Encode(w, img) }); err != nil {
		return fmt.Errorf("viz: %s: %w", path, err)
	}
	return nil
}

// Encode writes img as PNG to w.
func Encode(w io.Writer, img image.Image) error { return png.Encode(w, img) }

func label(img draw.Image, x, y int, s string, c color.Color) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

func dot(img *image.RGBA, x, y int, c color.RGBA) {
	for dy := -2; dy <= 2; dy++ {
		for dx := -2; dx <= 2; dx++ {
			if dx*dx+dy*dy <= 5 {
				img.SetRGBA(x+dx, y+dy, c)
			}
		}
	}
}

// line draws a segment with Bresenham's algorithm.
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		img.SetRGBA(x0, y0, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		if e2 := 2 * e; e2 >= dy {
			e += dy
			x0 += sx
		} else {
			e += dx
			y0 += sy
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func sign(v int) int {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

// SideBySide places images next to each other on a white background.
func SideBySide(imgs ...image.Image) *image.RGBA {
	w, h := 0, 0
	for _, m := range imgs {
		w += m.Bounds().Dx()
		h = max(h, m.Bounds().Dy())
	}
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(out, out.Bounds(), image.White, image.Point{}, draw.Src)
	x := 0
	for _, m := range imgs {
		b := m.Bounds()
		draw.Draw(out, image.Rect(x, 0, x+b.Dx(), b.Dy()), m, b.Min, draw.Src)
		x += b.Dx()
	}
	return out
}
