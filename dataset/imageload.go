package dataset

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
)

// DefaultMaxPixels is the largest image, in pixels (width × height), that
// ReadImage and LoadImageFileWith decode when ImageOptions.MaxPixels is 0:
// 4096×4096, 16.7 Mpixel. Decoding holds the whole image in memory, 1 to 8
// bytes a pixel (8-bit gray to 16-bit RGBA), so the default caps that at
// 134 MB; the conversion to the model's input adds only a few rows.
const DefaultMaxPixels = 4096 * 4096

// ErrImageTooLarge is matched (errors.Is) by the *ImageTooLargeError of an
// image whose header declares more pixels than the limit.
var ErrImageTooLarge = errors.New("dataset: image too large")

// ImageTooLargeError reports an image refused from its header, before its
// pixels are decoded.
type ImageTooLargeError struct {
	Format        string // "png", "jpeg"
	Width, Height int    // as declared by the header
	MaxPixels     int64  // the limit in force
}

func (e *ImageTooLargeError) Error() string {
	return fmt.Sprintf("dataset: %s image of %d×%d = %d pixels exceeds the limit of %d pixels (raise ImageOptions.MaxPixels to decode it)",
		e.Format, e.Width, e.Height, int64(e.Width)*int64(e.Height), e.MaxPixels)
}

// Is makes errors.Is(err, ErrImageTooLarge) true.
func (e *ImageTooLargeError) Is(target error) bool { return target == ErrImageTooLarge }

// ImageOptions configure ReadImage and LoadImageFileWith.
type ImageOptions struct {
	// Height and Width are the size of the result, the model's input.
	Height, Width int
	// Channels is 1 (the default) for a grayscale image prepared as
	// Fashion-MNIST's were (see FromImage), or 3 for RGB, the whole image
	// resized to Height×Width by area averaging, HWC (as LoadImageFolder
	// reads images).
	Channels int
	// MaxPixels is the largest width × height to decode (0:
	// DefaultMaxPixels). A larger image is refused from its header with an
	// *ImageTooLargeError, before its pixels are allocated.
	MaxPixels int64
}

func (o *ImageOptions) check() error {
	if o.Height <= 0 || o.Width <= 0 {
		return fmt.Errorf("dataset: image target size %d×%d, want positive", o.Height, o.Width)
	}
	if o.Channels == 0 {
		o.Channels = 1
	}
	if o.Channels != 1 && o.Channels != 3 {
		return fmt.Errorf("dataset: image channels %d, want 1 or 3", o.Channels)
	}
	if o.MaxPixels == 0 {
		o.MaxPixels = DefaultMaxPixels
	}
	if o.MaxPixels < 0 {
		return fmt.Errorf("dataset: image MaxPixels %d, want positive (0: %d)", o.MaxPixels, DefaultMaxPixels)
	}
	return nil
}

// ReadImage decodes a PNG or JPEG image from r and converts it into
// opts.Height × opts.Width × opts.Channels values in [0, 1], HWC. It reads
// the header first and refuses an image beyond opts.MaxPixels with an
// *ImageTooLargeError; within the limit, memory is the decoded image plus
// a few rows: the conversion reads the decoded pixels directly, without
// full-size copies. r need not be seekable (an HTTP request body will do).
func ReadImage(r io.Reader, opts ImageOptions) ([]float32, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	img, err := decodeImage(r, opts.MaxPixels)
	if err != nil {
		return nil, err
	}
	if opts.Channels == 3 {
		return resizeRGB(img, opts.Height, opts.Width, 3), nil
	}
	return FromImage(img, opts.Height, opts.Width), nil
}

// LoadImageFileWith is ReadImage on the file at path; errors name the file.
func LoadImageFileWith(path string, opts ImageOptions) ([]float32, error) {
	if err := opts.check(); err != nil {
		return nil, fmt.Errorf("%w (loading %s)", err, path)
	}
	img, err := decodeImageFile(path, opts.MaxPixels)
	if err != nil {
		return nil, err
	}
	if opts.Channels == 3 {
		return resizeRGB(img, opts.Height, opts.Width, 3), nil
	}
	return FromImage(img, opts.Height, opts.Width), nil
}

// decodeImageFile decodes the PNG or JPEG file at path, refusing it from
// its header beyond maxPixels. Errors name the file.
func decodeImageFile(path string, maxPixels int64) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	img, err := decodeImage(f, maxPixels)
	if err != nil {
		var big *ImageTooLargeError
		if errors.As(err, &big) {
			return nil, fmt.Errorf("dataset: %s: %w", path, err)
		}
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return img, nil
}

// decodeImage reads the header of a PNG or JPEG image from r, checks the
// declared size against maxPixels, then decodes the image: the bytes the
// header check consumed are replayed from memory, so r is read once.
func decodeImage(r io.Reader, maxPixels int64) (image.Image, error) {
	var head bytes.Buffer
	cfg, format, err := image.DecodeConfig(io.TeeReader(r, &head))
	if err != nil {
		return nil, fmt.Errorf("dataset: not a PNG or JPEG image: %w", err)
	}
	if cfg.Width < 0 || cfg.Height < 0 || int64(cfg.Width)*int64(cfg.Height) > maxPixels {
		return nil, &ImageTooLargeError{Format: format, Width: cfg.Width, Height: cfg.Height, MaxPixels: maxPixels}
	}
	img, _, err := image.Decode(io.MultiReader(&head, r))
	if err != nil {
		return nil, fmt.Errorf("dataset: decoding the %s image of %d×%d pixels: %w", format, cfg.Width, cfg.Height, err)
	}
	return img, nil
}

// pixelFunc returns a function giving the alpha-premultiplied 16-bit
// colour of pixel (x, y) of img (image coordinates), as img.At(x,
// y).RGBA() does, but without an allocation per pixel for the types the
// standard decoders return.
func pixelFunc(img image.Image) func(x, y int) (r, g, b, a uint32) {
	switch m := img.(type) {
	case *image.Gray:
		return func(x, y int) (r, g, b, a uint32) { return m.GrayAt(x, y).RGBA() }
	case *image.Gray16:
		return func(x, y int) (r, g, b, a uint32) { return m.Gray16At(x, y).RGBA() }
	case *image.RGBA:
		return func(x, y int) (r, g, b, a uint32) { return m.RGBAAt(x, y).RGBA() }
	case *image.NRGBA:
		return func(x, y int) (r, g, b, a uint32) { return m.NRGBAAt(x, y).RGBA() }
	case *image.RGBA64:
		return func(x, y int) (r, g, b, a uint32) { return m.RGBA64At(x, y).RGBA() }
	case *image.NRGBA64:
		return func(x, y int) (r, g, b, a uint32) { return m.NRGBA64At(x, y).RGBA() }
	case *image.YCbCr:
		return func(x, y int) (r, g, b, a uint32) { return m.YCbCrAt(x, y).RGBA() }
	case *image.CMYK:
		return func(x, y int) (r, g, b, a uint32) { return m.CMYKAt(x, y).RGBA() }
	case *image.Paletted:
		if len(m.Palette) == 0 {
			break
		}
		pal := make([][4]uint32, len(m.Palette))
		for i, c := range m.Palette {
			pr, pg, pb, pa := c.RGBA()
			pal[i] = [4]uint32{pr, pg, pb, pa}
		}
		return func(x, y int) (r, g, b, a uint32) {
			i := int(m.ColorIndexAt(x, y))
			if i >= len(pal) { // a corrupt index: whatever At does
				return m.At(x, y).RGBA()
			}
			c := pal[i]
			return c[0], c[1], c[2], c[3]
		}
	}
	return func(x, y int) (r, g, b, a uint32) { return img.At(x, y).RGBA() }
}

// lumaOf is the luma in [0, 1] of a premultiplied 16-bit colour
// composited over white.
func lumaOf(r, g, b, a uint32) float32 {
	white := float32(0xffff - a)
	l := 0.299*(float32(r)+white) + 0.587*(float32(g)+white) + 0.114*(float32(b)+white)
	return min(l/0xffff, 1)
}
