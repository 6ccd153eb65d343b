package viz

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"strconv"
)

// ConfusionTitle is the first line written above every confusion matrix.
const ConfusionTitle = "rows: true class, columns: predicted"

// blues is a white-to-dark-blue sequential colormap (ColorBrewer's Blues).
var blues = []color.RGBA{
	{247, 251, 255, 255}, {198, 219, 239, 255}, {107, 174, 214, 255}, {33, 113, 181, 255}, {8, 48, 107, 255},
}

// ConfusionMatrix draws cm as a heat map: cm[i][j] counts the samples of
// true class i predicted as class j, so rows are true classes and columns
// predictions. Each cell shows its count (white on dark cells, zeros in
// gray) and is colored by its share of its row, from white (none) to dark
// blue (the whole row), on a square-root scale so that small confusions
// show: the diagonal shows each class's recall, and the cells off it where
// that class goes wrong. classNames label both axes (nil numbers the
// classes); the column names are written upwards. Two lines on top give
// ConfusionTitle and the overall accuracy.
//
// cm must be square and not empty, its counts not negative; classNames nil
// or one per class.
func ConfusionMatrix(cm [][]int, classNames []string) (*image.RGBA, error) {
	k := len(cm)
	if k == 0 {
		return nil, fmt.Errorf("viz: ConfusionMatrix: empty matrix")
	}
	if classNames != nil && len(classNames) != k {
		return nil, fmt.Errorf("viz: ConfusionMatrix: %d class names for %d classes", len(classNames), k)
	}
	total, right, most := 0, 0, 0
	rowSum := make([]int, k)
	for i, row := range cm {
		if len(row) != k {
			return nil, fmt.Errorf("viz: ConfusionMatrix: row %d has %d counts, want %d (a square matrix)", i, len(row), k)
		}
		for j, v := range row {
			if v < 0 {
				return nil, fmt.Errorf("viz: ConfusionMatrix: count [%d][%d] is negative: %d", i, j, v)
			}
			rowSum[i] += v
			most = max(most, v)
		}
		total += rowSum[i]
		right += row[i]
	}
	names := classNames
	if names == nil {
		names = make([]string, k)
		for i := range names {
			names[i] = strconv.Itoa(i)
		}
	}
	nameW := 0
	for _, s := range names {
		nameW = max(nameW, textWidth(s))
	}
	cs := max(40, textWidth(strconv.Itoa(most))+12) // cell side
	if cs > MaxPixels/k {
		return nil, fmt.Errorf("viz: ConfusionMatrix: %d classes make too large a picture", k)
	}
	summary := "no samples"
	if total > 0 {
		summary = fmt.Sprintf("accuracy %.2f%% (%d of %d)", 100*float64(right)/float64(total), right, total)
	}
	// Layout, top to bottom: two title lines, "predicted", the column names
	// (upwards), the matrix; left to right: "true class" (upwards), the row
	// names (right-aligned), the matrix.
	yPred := margin + 2*lineH + 8
	yNames := yPred + lineH + 4
	gy := yNames + nameW + 6
	gx := margin + glyphH + 8 + nameW + 6
	W := max(gx+k*cs+margin, textWidth(ConfusionTitle)+2*margin, textWidth(summary)+2*margin)
	H := gy + k*cs + margin
	img, err := newCanvas("ConfusionMatrix", W, H)
	if err != nil {
		return nil, err
	}
	drawText(img, margin, margin, ConfusionTitle, black)
	drawText(img, margin, margin+lineH, summary, noteGray)
	drawTextCentered(img, gx+k*cs/2, yPred, "predicted", black)
	drawTextUp(img, margin, gy+k*cs/2+textWidth("true class")/2, "true class", black)
	for i, s := range names {
		drawText(img, gx-6-textWidth(s), gy+i*cs+(cs-glyphH)/2, s, black)
		drawTextUp(img, gx+i*cs+(cs-glyphH)/2, gy-6, s, black)
	}
	for i, row := range cm {
		for j, v := range row {
			f := 0.0
			if rowSum[i] > 0 {
				f = float64(v) / float64(rowSum[i])
			}
			bg := ramp(blues, math.Sqrt(f))
			x0, y0 := gx+j*cs, gy+i*cs
			fillRect(img, x0, y0, x0+cs, y0+cs, bg)
			fg := black
			switch {
			case luma(bg) < 140:
				fg = white
			case v == 0:
				fg = color.RGBA{170, 170, 170, 255}
			}
			drawTextCentered(img, x0+cs/2, y0+(cs-glyphH)/2, strconv.Itoa(v), fg)
		}
	}
	// Thin lines between the cells and a frame around the matrix.
	for i := 1; i < k; i++ {
		fillRect(img, gx+i*cs, gy, gx+i*cs+1, gy+k*cs, color.RGBA{225, 225, 225, 255})
		fillRect(img, gx, gy+i*cs, gx+k*cs, gy+i*cs+1, color.RGBA{225, 225, 225, 255})
	}
	frame(img, gx, gy, gx+k*cs, gy+k*cs, frameGray)
	return img, nil
}

// ramp interpolates linearly between the colors of a colormap, t in [0, 1]
// (clipped; NaN is 0).
func ramp(stops []color.RGBA, t float64) color.RGBA {
	if !(t > 0) {
		return stops[0]
	}
	if t >= 1 {
		return stops[len(stops)-1]
	}
	p := t * float64(len(stops)-1)
	i := int(p)
	f := p - float64(i)
	a, b := stops[i], stops[i+1]
	mix := func(u, v uint8) uint8 { return uint8(float64(u) + (float64(v)-float64(u))*f + 0.5) }
	return color.RGBA{mix(a.R, b.R), mix(a.G, b.G), mix(a.B, b.B), 255}
}

// luma is the perceived brightness of c, 0..255.
func luma(c color.RGBA) float64 { return 0.299*float64(c.R) + 0.587*float64(c.G) + 0.114*float64(c.B) }
