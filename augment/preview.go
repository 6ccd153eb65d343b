package augment

import (
	"fmt"
	"image"
	"image/color"
	"math"
)

// Preview returns a grid for a person to judge a pipeline by: one row per
// image of x (n images of shape (H, W, C), NHWC, values in [0, 1]), the
// original on the left, then a gap, then copies augmented versions, every
// pixel drawn as a scale×scale square, on a mid-grey background. One or two
// channels are drawn grey (the first), three or more as RGB (the first
// three). The pipeline's random state advances; x is not changed.
func Preview(p *Pipeline, x []float32, n int, shape []int, copies, scale int) (*image.RGBA, error) {
	h, w, c, err := checkShape(x, n, shape)
	if err != nil {
		return nil, err
	}
	if n < 1 || copies < 1 || scale < 1 {
		return nil, fmt.Errorf("augment: Preview needs images, copies and a scale, got %d, %d, %d", n, copies, scale)
	}
	const pad = 2 // pixels between images
	cw, ch := w*scale, h*scale
	gap := 3 * pad // between the original and its copies
	width := pad + cw + gap + copies*(cw+pad)
	height := pad + n*(ch+pad)
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	bg := color.RGBA{128, 128, 128, 255}
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = bg.R, bg.G, bg.B, bg.A
	}
	size := h * w * c
	aug := make([]float32, copies*size)
	for i := 0; i < n; i++ {
		orig := x[i*size : (i+1)*size]
		top := pad + i*(ch+pad)
		draw(img, pad, top, orig, h, w, c, scale)
		for k := 0; k < copies; k++ {
			copy(aug[k*size:], orig)
		}
		if err := p.Apply(aug, copies, []int{h, w, c}); err != nil {
			return nil, err
		}
		for k := 0; k < copies; k++ {
			draw(img, pad+cw+gap+k*(cw+pad), top, aug[k*size:(k+1)*size], h, w, c, scale)
		}
	}
	return img, nil
}

func draw(dst *image.RGBA, left, top int, src []float32, h, w, c, scale int) {
	b := func(v float32) uint8 {
		return uint8(math.Round(float64(min(max(v, 0), 1)) * 255))
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			px := src[(y*w+x)*c:]
			col := color.RGBA{b(px[0]), b(px[0]), b(px[0]), 255}
			if c >= 3 {
				col.G, col.B = b(px[1]), b(px[2])
			}
			for dy := 0; dy < scale; dy++ {
				for dx := 0; dx < scale; dx++ {
					dst.SetRGBA(left+x*scale+dx, top+y*scale+dy, col)
				}
			}
		}
	}
}
