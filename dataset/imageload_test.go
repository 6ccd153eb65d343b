package dataset

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/capa-ml/capa/internal/fulltest"
)

// pngChunk appends a PNG chunk (length, type, data, CRC of type and data).
func pngChunk(b []byte, typ string, data []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	start := len(b)
	b = append(b, typ...)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:]))
}

// pngHeader is a PNG signature and an IHDR chunk declaring a w×h 8-bit
// image of colour type ct (6: RGBA, 0: gray), with a correct CRC, and
// nothing else: what the header check reads.
func pngHeader(w, h uint32, ct byte) []byte {
	b := []byte("\x89PNG\r\n\x1a\n")
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, ct, 0, 0, 0) // depth, colour type, compression, filter, interlace
	return pngChunk(b, "IHDR", ihdr)
}

// writeRGBAPNG streams a w×h 8-bit RGBA PNG to out, a row at a time,
// without holding the image: a dark square on white in the middle third.
// An 8192×8192 image compresses to a few hundred kB.
func writeRGBAPNG(out io.Writer, w, h int) error {
	bw := bufio.NewWriter(out)
	if _, err := bw.Write(pngHeader(uint32(w), uint32(h), 6)); err != nil {
		return err
	}
	// IDAT chunks of at most 64 kB from the zlib stream.
	idat := &chunkWriter{w: bw}
	zw := zlib.NewWriter(idat)
	row := make([]byte, 1+4*w) // filter byte 0 (none), then RGBA
	for y := range h {
		for x := range w {
			v := byte(255)
			if x > w/3 && x < 2*w/3 && y > h/3 && y < 2*h/3 {
				v = 20
			}
			copy(row[1+4*x:], []byte{v, v, v, 255})
		}
		if _, err := zw.Write(row); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := idat.flush(); err != nil {
		return err
	}
	if _, err := bw.Write(pngChunk(nil, "IEND", nil)); err != nil {
		return err
	}
	return bw.Flush()
}

// chunkWriter cuts what is written to it into IDAT chunks.
type chunkWriter struct {
	w   io.Writer
	buf []byte
}

func (c *chunkWriter) Write(p []byte) (int, error) {
	c.buf = append(c.buf, p...)
	for len(c.buf) >= 1<<16 {
		if _, err := c.w.Write(pngChunk(nil, "IDAT", c.buf[:1<<16])); err != nil {
			return 0, err
		}
		c.buf = c.buf[1<<16:]
	}
	return len(p), nil
}

func (c *chunkWriter) flush() error {
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.w.Write(pngChunk(nil, "IDAT", c.buf))
	c.buf = nil
	return err
}

// jpegHeader is a JPEG SOI and a baseline SOF0 segment declaring a w×h
// one-component image, after a JFIF marker: what jpeg.DecodeConfig reads.
func jpegHeader(w, h uint16) []byte {
	b := []byte{0xFF, 0xD8, // SOI
		0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, // APP0 JFIF
		0xFF, 0xC0, 0, 11, 8} // SOF0, 8 bits
	b = binary.BigEndian.AppendUint16(b, h)
	b = binary.BigEndian.AppendUint16(b, w)
	return append(b, 1, 1, 0x11, 0)
}

func totalAlloc() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

// Images whose header declares more pixels than the limit are refused
// before their pixels are allocated, with a message that names the size,
// the limit and how to raise it.
func TestReadImageTooLarge(t *testing.T) {
	cases := []struct {
		name   string
		in     []byte
		opts   ImageOptions
		inMsg  []string
		format string
	}{
		{"png 100000x100000", pngHeader(100000, 100000, 6), ImageOptions{},
			[]string{"png image of 100000×100000 = 10000000000 pixels", "limit of 16777216 pixels", "38147 MB", "raise ImageOptions.MaxPixels to at least 10000000000"}, "png"},
		{"png 8192x8192 gray, CLI hint", pngHeader(8192, 8192, 0), ImageOptions{RaiseHint: "--max-pixels"},
			[]string{"8192×8192 = 67108864 pixels", "(decoding it would take 64 MB)", "raise --max-pixels to at least 67108864"}, "png"},
		{"png over a small limit", pngHeader(101, 100, 6), ImageOptions{MaxPixels: 100 * 100}, []string{"limit of 10000 pixels"}, "png"},
		{"jpeg 65535x65535", jpegHeader(65535, 65535), ImageOptions{}, []string{"jpeg image of 65535×65535", "limit of 16777216"}, "jpeg"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.opts.Height, c.opts.Width = 28, 28
			before := totalAlloc()
			// MultiReader: not seekable, as an HTTP body.
			_, err := ReadImage(io.MultiReader(bytes.NewReader(c.in)), c.opts)
			if alloc := totalAlloc() - before; alloc > 1<<20 {
				t.Errorf("allocated %d bytes to refuse a %d-byte header", alloc, len(c.in))
			}
			var big *ImageTooLargeError
			if !errors.Is(err, ErrImageTooLarge) || !errors.As(err, &big) || big.Format != c.format {
				t.Fatalf("err = %v, want an *ImageTooLargeError for %s", err, c.format)
			}
			for _, s := range c.inMsg {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("message %q lacks %q", err, s)
				}
			}
		})
	}

	// From a file, the message names it.
	path := writeFile(t, filepath.Join(t.TempDir(), "huge.png"), pngHeader(100000, 100000, 6))
	_, err := LoadImageFileWith(path, ImageOptions{Height: 28, Width: 28, RaiseHint: "--max-pixels"})
	if !errors.Is(err, ErrImageTooLarge) || !strings.Contains(err.Error(), "dataset: "+path+": png image") || !strings.Contains(err.Error(), "--max-pixels") {
		t.Errorf("LoadImageFileWith: %v", err)
	}
	if _, err := LoadImageFile(path, 28, 28); !errors.Is(err, ErrImageTooLarge) {
		t.Errorf("LoadImageFile: %v", err)
	}
}

// An image at the limit decodes; one pixel more does not.
func TestReadImageLimit(t *testing.T) {
	var b bytes.Buffer
	if err := writeRGBAPNG(&b, 300, 200); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		max int64
		ok  bool
	}{{300 * 200, true}, {300*200 - 1, false}, {0, true}} {
		v, err := ReadImage(bytes.NewReader(b.Bytes()), ImageOptions{Height: 28, Width: 28, MaxPixels: c.max})
		if c.ok != (err == nil) || (err != nil && !errors.Is(err, ErrImageTooLarge)) {
			t.Errorf("MaxPixels %d: err = %v", c.max, err)
			continue
		}
		if c.ok && bbox(v, 28, 28).Empty() {
			t.Errorf("MaxPixels %d: no object found in the decoded image", c.max)
		}
	}
	if _, err := ReadImage(bytes.NewReader(b.Bytes()), ImageOptions{Height: 28, Width: 28, MaxPixels: -1}); err == nil || !strings.Contains(err.Error(), "MaxPixels -1") {
		t.Errorf("MaxPixels -1: %v", err)
	}
	if _, err := ReadImage(bytes.NewReader(b.Bytes()), ImageOptions{Height: 28, Width: 28, Channels: 2}); err == nil || !strings.Contains(err.Error(), "channels 2") {
		t.Errorf("Channels 2: %v", err)
	}
}

// Decoding and converting an image allocates the decoded image and a few
// rows, not full-size float copies (the conversion used to make two).
func TestReadImageMemory(t *testing.T) {
	const n = 2048 // 16 MiB decoded as RGBA, 16 MiB more per float32 copy
	var b bytes.Buffer
	if err := writeRGBAPNG(&b, n, n); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []int{1, 3} {
		runtime.GC()
		before := totalAlloc()
		v, err := ReadImage(bytes.NewReader(b.Bytes()), ImageOptions{Height: 28, Width: 28, Channels: ch})
		if err != nil {
			t.Fatal(err)
		}
		alloc := totalAlloc() - before
		if limit := uint64(n*n*4 + n*n/2 + 2<<20); alloc > limit {
			t.Errorf("%d channels: allocated %d MiB for a %d MiB image, want under %d MiB", ch, alloc>>20, n*n*4>>20, limit>>20)
		}
		if len(v) != 28*28*ch {
			t.Errorf("%d channels: %d values", ch, len(v))
		}
	}
}

// Truncated and corrupt images are errors, never panics.
func TestReadImageBroken(t *testing.T) {
	img := filled(40, 30, color.White, color.Black, image.Rect(10, 10, 30, 20))
	var p, j bytes.Buffer
	if err := png.Encode(&p, img); err != nil {
		t.Fatal(err)
	}
	if err := jpeg.Encode(&j, img, nil); err != nil {
		t.Fatal(err)
	}
	opts := ImageOptions{Height: 28, Width: 28}
	for _, f := range []struct {
		name string
		b    []byte
	}{{"png", p.Bytes()}, {"jpeg", j.Bytes()}} {
		if _, err := ReadImage(bytes.NewReader(f.b), opts); err != nil {
			t.Fatalf("%s: the intact image: %v", f.name, err)
		}
		for n := range len(f.b) {
			if f.name == "jpeg" && n >= len(f.b)-2 {
				break // Go's JPEG decoder accepts a missing EOI marker
			}
			_, err := ReadImage(bytes.NewReader(f.b[:n]), opts)
			if err == nil || !strings.HasPrefix(err.Error(), "dataset: ") {
				t.Fatalf("%s cut to %d of %d bytes: err = %v", f.name, n, len(f.b), err)
			}
		}
		// Every byte flipped in turn: an error or an image, never a panic.
		for i := range f.b {
			c := bytes.Clone(f.b)
			c[i] ^= 0xFF
			if v, err := ReadImage(bytes.NewReader(c), opts); err == nil && len(v) != 28*28 {
				t.Fatalf("%s with byte %d flipped: %d values", f.name, i, len(v))
			}
		}
	}
	// A header declaring more than 2^31 pixels a side: the PNG decoder's
	// own refusal, as an error.
	if _, err := ReadImage(bytes.NewReader(pngHeader(1<<31-1, 1<<31-1, 6)), opts); err == nil || !strings.Contains(err.Error(), "reading the png header") {
		t.Errorf("2^31-1 square: %v", err)
	}
	// A corrupt PNG data chunk: the decoding error, with the image's size.
	c := bytes.Clone(p.Bytes())
	i := bytes.Index(c, []byte("IDAT"))
	c[i+6] ^= 0xFF
	if _, err := ReadImage(bytes.NewReader(c), opts); err == nil || !strings.Contains(err.Error(), "decoding the png image of 40×30") {
		t.Errorf("corrupt IDAT: %v", err)
	}
	// Truncated in the header: named as such.
	if _, err := ReadImage(bytes.NewReader(p.Bytes()[:20]), opts); err == nil || !strings.Contains(err.Error(), "reading the png header") {
		t.Errorf("truncated header: %v", err)
	}
	if _, err := ReadImage(strings.NewReader("GIF89a"), opts); err == nil || !strings.Contains(err.Error(), "not a PNG or JPEG image") {
		t.Errorf("GIF: %v", err)
	}
	path := writeFile(t, filepath.Join(t.TempDir(), "cut.png"), p.Bytes()[:len(p.Bytes())/2])
	if _, err := LoadImageFileWith(path, opts); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("truncated file: %v", err)
	}
}

// The image folder loader applies the limit too, naming the file.
func TestLoadImageFolderMaxPixels(t *testing.T) {
	dir := t.TempDir()
	writeImage(t, filepath.Join(dir, "a", "1.png"), solid(20, 20, color.Black))
	writeImage(t, filepath.Join(dir, "b", "1.png"), solid(30, 30, color.White))
	if _, _, err := LoadImageFolderWith(dir, ImageOptions{Height: 8, Width: 8, Channels: 3}); err != nil {
		t.Fatal(err)
	}
	_, _, err := LoadImageFolderWith(dir, ImageOptions{Height: 8, Width: 8, Channels: 3, MaxPixels: 500})
	if !errors.Is(err, ErrImageTooLarge) || !strings.Contains(err.Error(), filepath.Join(dir, "b", "1.png")) {
		t.Errorf("err = %v", err)
	}
}

// The full-size case: an 8192×8192 RGBA PNG, a few hundred kB, is refused
// under the default limit and decodes, into 28×28, with the limit raised.
// It needs 256 MiB for the decoded image: go test -tags full ./dataset.
func TestReadImage8192(t *testing.T) {
	var b bytes.Buffer
	if err := writeRGBAPNG(&b, 8192, 8192); err != nil {
		t.Fatal(err)
	}
	t.Logf("8192×8192 RGBA PNG: %d bytes", b.Len())
	_, err := ReadImage(bytes.NewReader(b.Bytes()), ImageOptions{Height: 28, Width: 28})
	if !errors.Is(err, ErrImageTooLarge) {
		t.Fatalf("default limit: err = %v", err)
	}
	if !fulltest.Enabled {
		t.Skip("decoding 8192×8192 takes 256 MiB: go test -tags full ./dataset")
	}
	v, err := ReadImage(bytes.NewReader(b.Bytes()), ImageOptions{Height: 28, Width: 28, MaxPixels: 8192 * 8192})
	if err != nil {
		t.Fatal(err)
	}
	// The dark middle third, on white, becomes a light object filling the
	// 28×28 frame.
	if got := bbox(v, 28, 28); got.Dx() < 20 || got.Dy() < 20 {
		t.Errorf("object at %v", got)
	}
}
