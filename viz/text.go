package viz

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"strings"
	"unicode/utf8"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// MaxPixels bounds the size of every picture this package draws (64 Mi
// pixels, 256 MiB): larger requests, such as a huge scale, return an error
// instead of exhausting memory.
const MaxPixels = 1 << 26

// Metrics of basicfont.Face7x13 and the layout.
const (
	charW  = 7  // advance of every glyph
	glyphH = 13 // ascent 11 + descent 2
	ascent = 11
	lineH  = 14 // a text line: a glyph and one pixel of leading
	margin = 8  // around every picture
	gap    = 8  // between the cells of a grid
)

var (
	black     = color.RGBA{0, 0, 0, 255}
	white     = color.RGBA{255, 255, 255, 255}
	frameGray = color.RGBA{190, 190, 190, 255}
	noteGray  = color.RGBA{90, 90, 90, 255}
)

// newCanvas returns a white w×h image, or an error if the size is not
// positive or exceeds MaxPixels.
func newCanvas(what string, w, h int) (*image.RGBA, error) {
	if w < 1 || h < 1 || w > MaxPixels || h > MaxPixels || w*h > MaxPixels {
		return nil, fmt.Errorf("viz: %s: a %dx%d picture is too large (at most %d pixels)", what, w, h, MaxPixels)
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	return img, nil
}

// textWidth is the width in pixels of s drawn in one line.
func textWidth(s string) int { return charW * utf8.RuneCountInString(s) }

// drawText draws s with the top-left corner of its line box at (x, y).
func drawText(img draw.Image, x, y int, s string, c color.Color) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y+ascent)}
	d.DrawString(s)
}

// drawTextCentered draws s centred on x, its line box's top at y.
func drawTextCentered(img draw.Image, cx, y int, s string, c color.Color) {
	drawText(img, cx-textWidth(s)/2, y, s, c)
}

// drawTextUp draws s turned a quarter counterclockwise, reading upwards,
// its line box occupying columns x..x+glyphH-1 and ending at row y (the
// first character at the bottom).
func drawTextUp(img *image.RGBA, x, y int, s string, c color.RGBA) {
	w := textWidth(s)
	if w == 0 {
		return
	}
	m := image.NewAlpha(image.Rect(0, 0, w, glyphH))
	d := font.Drawer{Dst: m, Src: image.Opaque, Face: basicfont.Face7x13, Dot: fixed.P(0, ascent)}
	d.DrawString(s)
	for ty := 0; ty < glyphH; ty++ {
		for tx := 0; tx < w; tx++ {
			if a := m.AlphaAt(tx, ty).A; a > 0 {
				blend(img, x+ty, y-tx, c, a)
			}
		}
	}
}

// blend paints c over the pixel (x, y) with coverage a (0..255).
func blend(img *image.RGBA, x, y int, c color.RGBA, a uint8) {
	if !(image.Point{x, y}.In(img.Rect)) {
		return
	}
	o := img.RGBAAt(x, y)
	mix := func(f, b uint8) uint8 { return uint8((int(f)*int(a) + int(b)*(255-int(a)) + 127) / 255) }
	img.SetRGBA(x, y, color.RGBA{mix(c.R, o.R), mix(c.G, o.G), mix(c.B, o.B), 255})
}

// fillRect paints the rectangle [x0, x1)×[y0, y1) with c.
func fillRect(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	draw.Draw(img, image.Rect(x0, y0, x1, y1), image.NewUniform(c), image.Point{}, draw.Src)
}

// frame draws a one-pixel rectangle just outside [x0, x1)×[y0, y1).
func frame(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	fillRect(img, x0-1, y0-1, x1+1, y0, c)
	fillRect(img, x0-1, y1, x1+1, y1+1, c)
	fillRect(img, x0-1, y0, x0, y1, c)
	fillRect(img, x1, y0, x1+1, y1, c)
}

// wrap breaks s into lines of at most width pixels: at "\n", and between
// words, keeping a parenthesized group such as "(was Coat)" together. A
// word or group wider than width gets a line of its own.
func wrap(s string, width int) []string {
	var lines []string
	for _, para := range strings.Split(s, "\n") {
		var units []string
		for _, w := range strings.Fields(para) {
			if n := len(units); n > 0 && strings.HasPrefix(units[n-1], "(") && !strings.HasSuffix(units[n-1], ")") {
				units[n-1] += " " + w
			} else {
				units = append(units, w)
			}
		}
		line := ""
		for _, u := range units {
			switch {
			case line == "":
				line = u
			case textWidth(line+" "+u) <= width:
				line += " " + u
			default:
				lines = append(lines, line)
				line = u
			}
		}
		lines = append(lines, line)
	}
	return lines
}

// Titled returns img with title written above it, on a white band: one
// line of text per "\n"-separated line, left-aligned. The picture is
// widened (white on the right) when the title is wider than img. Handy in
// notebooks, where a picture has no caption of its own.
func Titled(title string, img image.Image) *image.RGBA {
	lines := strings.Split(title, "\n")
	b := img.Bounds()
	w := b.Dx()
	for _, l := range lines {
		w = max(w, textWidth(l)+2*margin)
	}
	top := 6 + len(lines)*lineH + 4
	out := image.NewRGBA(image.Rect(0, 0, max(w, 1), top+b.Dy()))
	for i := range out.Pix {
		out.Pix[i] = 255
	}
	for i, l := range lines {
		drawText(out, margin, 6+i*lineH, l, black)
	}
	draw.Draw(out, image.Rect(0, top, b.Dx(), top+b.Dy()), img, b.Min, draw.Src)
	return out
}
