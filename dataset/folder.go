package dataset

import (
	"fmt"
	"image"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// LoadImageFolder reads a labelled image data set laid out as one
// sub-folder per class (Keras's image_dataset_from_directory): dir/cat/*.jpg,
// dir/dog/*.png, ... The classes are the sub-folders' names in sorted
// order, and each label is the index of its folder. Every PNG or JPEG image
// is resized to h×w (area averaging when shrinking, bilinear when
// enlarging; the aspect is not kept, as Keras does by default) and
// converted to c channels: 3 for RGB (grayscale images are replicated) or 1
// for luma. Values are in [0, 1]. Files with other extensions are skipped;
// an image that cannot be decoded is an error naming it, and so is an image
// over DefaultMaxPixels (see LoadImageFolderWith).
func LoadImageFolder(dir string, h, w, c int) (*Set, []string, error) {
	return LoadImageFolderWith(dir, ImageOptions{Height: h, Width: w, Channels: c})
}

// LoadImageFolderWith is LoadImageFolder with options: opts.Height,
// opts.Width and opts.Channels (0: 1) the size of each image, opts.MaxPixels
// the largest image decoded (0: DefaultMaxPixels); a larger one is refused
// from its header with an *ImageTooLargeError naming the file.
func LoadImageFolderWith(dir string, opts ImageOptions) (*Set, []string, error) {
	h, w, c := opts.Height, opts.Width, opts.Channels
	if h <= 0 || w <= 0 || (c != 0 && c != 1 && c != 3) {
		return nil, nil, fmt.Errorf("dataset: image folder %s: size %dx%dx%d, want positive and 1 or 3 channels", dir, h, w, c)
	}
	if err := opts.check(); err != nil {
		return nil, nil, fmt.Errorf("%w (image folder %s)", err, dir)
	}
	c = opts.Channels
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("dataset: image folder: %w", err)
	}
	var classes []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			classes = append(classes, e.Name())
		}
	}
	sort.Strings(classes)
	if len(classes) < 2 {
		return nil, nil, fmt.Errorf("dataset: image folder %s: found %d class sub-folders, want at least 2 (one folder of images per class)", dir, len(classes))
	}
	if len(classes) > 255 {
		return nil, nil, fmt.Errorf("dataset: image folder %s: %d classes, at most 255 are supported", dir, len(classes))
	}
	s := &Set{H: h, W: w, C: c}
	for label, class := range classes {
		files, err := os.ReadDir(filepath.Join(dir, class))
		if err != nil {
			return nil, nil, fmt.Errorf("dataset: image folder: %w", err)
		}
		n := 0
		for _, f := range files {
			ext := strings.ToLower(filepath.Ext(f.Name()))
			if f.IsDir() || (ext != ".png" && ext != ".jpg" && ext != ".jpeg") {
				continue
			}
			img, err := decodeImageFile(filepath.Join(dir, class, f.Name()), opts)
			if err != nil {
				return nil, nil, err
			}
			s.Images = append(s.Images, resizeRGB(img, h, w, c)...)
			s.Labels = append(s.Labels, uint8(label))
			s.N++
			n++
		}
		if n == 0 {
			return nil, nil, fmt.Errorf("dataset: image folder %s: class %q has no PNG or JPEG image", dir, class)
		}
	}
	return s, classes, nil
}

// resizeRGB resizes img to h×w with c channels (3: RGB, 1: luma), values in
// [0, 1], alpha composited over white. Each output pixel averages the
// source area it covers (the nearest source pixel when enlarging).
func resizeRGB(img image.Image, h, w, c int) []float32 {
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	out := make([]float32, h*w*c)
	px := pixelFunc(img)
	for y := 0; y < h; y++ {
		y0 := y * sh / h
		y1 := max((y+1)*sh/h, y0+1)
		for x := 0; x < w; x++ {
			x0 := x * sw / w
			x1 := max((x+1)*sw/w, x0+1)
			var r, g, bl float64
			for sy := y0; sy < y1; sy++ {
				for sx := x0; sx < x1; sx++ {
					pr, pg, pb, pa := px(b.Min.X+sx, b.Min.Y+sy)
					white := float64(0xffff - pa)
					r += float64(pr) + white
					g += float64(pg) + white
					bl += float64(pb) + white
				}
			}
			k := float64((y1-y0)*(x1-x0)) * 0xffff
			o := (y*w + x) * c
			if c == 1 {
				out[o] = float32((0.299*r + 0.587*g + 0.114*bl) / k)
				continue
			}
			out[o], out[o+1], out[o+2] = float32(r/k), float32(g/k), float32(bl/k)
		}
	}
	return out
}

// ToRGB returns a copy of a one-channel set with the channel replicated
// three times (grayscale to RGB), optionally padded with zeros to at least
// minSize pixels per side (centred), for networks that need colour images
// of some minimum size (VGG16 on 28x28 Fashion-MNIST: 32x32x3).
func ToRGB(s *Set, minSize int) *Set {
	h, w := max(s.H, minSize), max(s.W, minSize)
	oy, ox := (h-s.H)/2, (w-s.W)/2
	out := &Set{H: h, W: w, C: 3, N: s.N, Labels: append([]uint8(nil), s.Labels...), Images: make([]float32, s.N*h*w*3)}
	for n := 0; n < s.N; n++ {
		src := s.Image(n)
		dst := out.Images[n*h*w*3 : (n+1)*h*w*3]
		for y := 0; y < s.H; y++ {
			for x := 0; x < s.W; x++ {
				var v float32
				if s.C == 1 {
					v = src[y*s.W+x]
				} else {
					v = src[(y*s.W+x)*s.C]
				}
				o := ((y+oy)*w + x + ox) * 3
				dst[o], dst[o+1], dst[o+2] = v, v, v
			}
		}
	}
	return out
}
