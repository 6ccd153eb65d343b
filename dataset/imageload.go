package dataset

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"math"
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
	Path          string // the file, if read from one
	Format        string // "png", "jpeg"
	Width, Height int    // as declared by the header
	MaxPixels     int64  // the limit in force
	// Raise names how to raise the limit, for the message: a CLI flag
	// ("--max-pixels") or, when empty, ImageOptions.MaxPixels.
	Raise string
	// BytesPerPixel is what the decoded image would take a pixel (1 for
	// 8-bit gray to 8 for 16-bit RGBA), from the header's colour model.
	BytesPerPixel int
}

// bytesPerPixel is the memory a pixel of a decoded image of colour model
// m takes, as the standard PNG and JPEG decoders store it.
func bytesPerPixel(m color.Model) int {
	switch m {
	case color.GrayModel:
		return 1
	case color.Gray16Model:
		return 2
	case color.YCbCrModel:
		return 3 // 4:4:4 at most
	case color.RGBA64Model, color.NRGBA64Model:
		return 8
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 4 // RGBA, NRGBA, CMYK
}

func (e *ImageTooLargeError) Error() string {
	raise := e.Raise
	if raise == "" {
		raise = "ImageOptions.MaxPixels"
	}
	bpp := e.BytesPerPixel
	if bpp <= 0 {
		bpp = 4
	}
	mb := "more than 8 EB"
	if p := e.pixels(); p <= math.MaxInt64/int64(bpp) {
		mb = fmt.Sprintf("%d MB", (p*int64(bpp)+(1<<20-1))>>20)
	}
	file := ""
	if e.Path != "" {
		file = e.Path + ": "
	}
	return fmt.Sprintf("dataset: %s%s image of %d×%d = %d pixels exceeds the limit of %d pixels (decoding it would take %s): raise %s to at least %d (%dx%d) to decode it anyway",
		file, e.Format, e.Width, e.Height, e.pixels(), e.MaxPixels, mb, raise, e.pixels(), e.Width, e.Height)
}

// pixels is Width × Height, which cannot overflow (both fit in an int32
// for the standard decoders; negative sizes count as the largest).
func (e *ImageTooLargeError) pixels() int64 {
	if e.Width < 0 || e.Height < 0 {
		return math.MaxInt64
	}
	return int64(e.Width) * int64(e.Height)
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
	// RaiseHint names, in the *ImageTooLargeError's message, how the user
	// raises MaxPixels: a command sets its flag ("--max-pixels"). Empty:
	// "ImageOptions.MaxPixels".
	RaiseHint string
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
	img, err := decodeImage(r, opts)
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
	img, err := decodeImageFile(path, opts)
	if err != nil {
		return nil, err
	}
	if opts.Channels == 3 {
		return resizeRGB(img, opts.Height, opts.Width, 3), nil
	}
	return FromImage(img, opts.Height, opts.Width), nil
}

// decodeImageFile decodes the PNG or JPEG file at path, refusing it from
// its header beyond opts.MaxPixels (checked opts). Errors name the file.
func decodeImageFile(path string, opts ImageOptions) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	img, err := decodeImage(f, opts)
	if err != nil {
		var big *ImageTooLargeError
		if errors.As(err, &big) {
			big.Path = path
			return nil, big
		}
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return img, nil
}

// decodeImage reads the header of a PNG or JPEG image from r, checks the
// declared size against opts.MaxPixels (checked opts), then decodes the
// image: the bytes the header check consumed are replayed from memory, so
// r is read once.
func decodeImage(r io.Reader, opts ImageOptions) (image.Image, error) {
	var head bytes.Buffer
	cfg, format, err := image.DecodeConfig(io.TeeReader(r, &head))
	if errors.Is(err, image.ErrFormat) {
		return nil, fmt.Errorf("dataset: not a PNG or JPEG image: %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("dataset: reading the %s header: %w", format, err)
	}
	if cfg.Width < 0 || cfg.Height < 0 || int64(cfg.Width)*int64(cfg.Height) > opts.MaxPixels {
		return nil, &ImageTooLargeError{Format: format, Width: cfg.Width, Height: cfg.Height, MaxPixels: opts.MaxPixels, Raise: opts.RaiseHint, BytesPerPixel: bytesPerPixel(cfg.ColorModel)}
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
