package dataset

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"testing"
)

// fuzzMaxPixels is the pixel limit of FuzzDecodeImage: an image at
// LoadImageFile's limit (DefaultMaxPixels, 16 Mpixel) takes a fraction of
// a second to decode, so the fuzz target uses a smaller one; the header
// check is the same code.
const fuzzMaxPixels = 1 << 16

// imageSeeds are tiny PNG and JPEG files (30 to 700 bytes): gray, 16-bit
// gray, RGBA with transparency, paletted, NRGBA, and baseline JPEGs in
// color and grayscale.
func imageSeeds(t testing.TB) [][]byte {
	var out [][]byte
	enc := func(img image.Image, jpg bool) {
		var b bytes.Buffer
		var err error
		if jpg {
			err = jpeg.Encode(&b, img, &jpeg.Options{Quality: 50})
		} else {
			err = png.Encode(&b, img)
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b.Bytes())
	}
	gray := image.NewGray(image.Rect(0, 0, 3, 2))
	gray.Pix = []uint8{0, 255, 128, 255, 0, 30}
	enc(gray, false)
	g16 := image.NewGray16(image.Rect(0, 0, 2, 2))
	g16.SetGray16(1, 1, color.Gray16{Y: 0xffff})
	enc(g16, false)
	rgba := image.NewRGBA(image.Rect(0, 0, 4, 3))
	for i := range rgba.Pix {
		rgba.Pix[i] = uint8(i * 37)
	}
	rgba.Pix[3] = 0 // a transparent pixel
	enc(rgba, false)
	pal := image.NewPaletted(image.Rect(0, 0, 2, 3), color.Palette{color.Black, color.White, color.RGBA{255, 0, 0, 255}})
	pal.Pix = []uint8{0, 1, 2, 1, 0, 2}
	enc(pal, false)
	nrgba := image.NewNRGBA(image.Rect(0, 0, 1, 1))
	nrgba.Pix = []uint8{10, 20, 30, 128}
	enc(nrgba, false)
	enc(rgba, true)
	enc(gray, true)
	return out
}

// FuzzDecodeImage feeds arbitrary bytes to the image decoder of
// LoadImageFile and LoadImageFolder and converts what it accepts as both
// do (FromImage, resizeRGB). No input may panic or decode more than the
// pixel limit; every value produced is in [0, 1]. Run it with
//
//	go test -run='^$' -fuzz='^FuzzDecodeImage$' -fuzztime=5m -parallel=1 ./dataset
func FuzzDecodeImage(f *testing.F) {
	for _, b := range imageSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := decodeImage(bytes.NewReader(b), ImageOptions{MaxPixels: fuzzMaxPixels})
		if err != nil {
			return
		}
		r := img.Bounds()
		if int64(r.Dx())*int64(r.Dy()) > fuzzMaxPixels {
			t.Fatalf("decoded %v, over the limit of %d pixels", r, fuzzMaxPixels)
		}
		check := func(what string, v []float32, n int) {
			if len(v) != n {
				t.Fatalf("%s: %d values, want %d", what, len(v), n)
			}
			for i, x := range v {
				if !(x >= 0 && x <= 1) || math.IsNaN(float64(x)) {
					t.Fatalf("%s: value %d is %v", what, i, x)
				}
			}
		}
		check("FromImage", FromImage(img, 5, 4), 20)
		check("resizeRGB", resizeRGB(img, 3, 2, 3), 18)
		check("resizeRGB gray", resizeRGB(img, 2, 3, 1), 6)
	})
}

// TestImageSeeds checks that the seeds are small and decode.
func TestImageSeeds(t *testing.T) {
	for i, b := range imageSeeds(t) {
		if len(b) > 1024 {
			t.Errorf("seed %d is %d bytes, want a small seed", i, len(b))
		}
		if _, err := decodeImage(bytes.NewReader(b), ImageOptions{MaxPixels: fuzzMaxPixels}); err != nil {
			t.Errorf("seed %d: %v", i, err)
		}
	}
	big := image.NewGray(image.Rect(0, 0, 300, 300))
	var b bytes.Buffer
	png.Encode(&b, big)
	if _, err := decodeImage(bytes.NewReader(b.Bytes()), ImageOptions{MaxPixels: fuzzMaxPixels}); err == nil {
		t.Error("an image over the limit decoded")
	}
}
