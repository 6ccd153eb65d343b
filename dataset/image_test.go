package dataset

import (
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// filled returns a w×h image of colour bg with a rectangle r of colour fg.
func filled(w, h int, bg, fg color.Color, r image.Rectangle) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := bg
			if (image.Point{x, y}).In(r) {
				c = fg
			}
			img.Set(x, y, c)
		}
	}
	return img
}

// bbox returns the bounding box of values > 0.5 in an h×w image.
func bbox(v []float32, h, w int) image.Rectangle {
	r := image.Rectangle{Min: image.Pt(w, h)}
	for y := range h {
		for x := range w {
			if v[y*w+x] > 0.5 {
				r.Min.X, r.Min.Y = min(r.Min.X, x), min(r.Min.Y, y)
				r.Max.X, r.Max.Y = max(r.Max.X, x+1), max(r.Max.Y, y+1)
			}
		}
	}
	return r
}

func TestFromImageDarkOnWhiteWide(t *testing.T) {
	// A 240×80 white image with a black 90×30 rectangle off-centre.
	img := filled(240, 80, color.White, color.Black, image.Rect(20, 40, 110, 70))
	v := FromImage(img, 28, 28)
	if len(v) != 784 {
		t.Fatalf("len %d", len(v))
	}
	// Inverted: the object is light, the background 0.
	if v[0] != 0 || v[14*28+14] < 0.99 {
		t.Errorf("corner %v centre %v", v[0], v[14*28+14])
	}
	// Trimmed and fitted: 90×30 -> 28 wide, 28*30/90 = 9.33 -> 9 rows, centred.
	if got, want := bbox(v, 28, 28), image.Rect(0, 9, 28, 18); got != want {
		t.Errorf("object at %v, want %v", got, want)
	}
	for _, x := range v {
		if x < 0 || x > 1 || math.IsNaN(float64(x)) {
			t.Fatalf("value %v out of [0, 1]", x)
		}
	}
}

func TestFromImageLightOnDarkTall(t *testing.T) {
	// Not inverted: a grey (luma ~0.5) 10×40 bar on black, in a 100×100 image.
	img := filled(100, 100, color.Black, color.Gray{128}, image.Rect(50, 10, 60, 50))
	v := FromImage(img, 28, 28)
	// 10×40 -> 7×28, centred: columns 10..17.
	if got, want := bbox(v, 28, 28), image.Rect(10, 0, 17, 28); got != want {
		t.Errorf("object at %v, want %v", got, want)
	}
	if c := v[14*28+13]; math.Abs(float64(c)-128.0/255) > 0.01 {
		t.Errorf("object level %v, want %v", c, 128.0/255)
	}
	// Non-square target: fits the height.
	v = FromImage(img, 20, 40)
	if got, want := bbox(v, 20, 40), image.Rect(17, 0, 22, 20); got != want {
		t.Errorf("20×40: object at %v, want %v", got, want)
	}
}

func TestFromImageDownscaleAverages(t *testing.T) {
	// A 56×56 checkerboard of single pixels on a border of black: averages to 0.5.
	img := image.NewGray(image.Rect(0, 0, 56, 56))
	for y := range 56 {
		for x := range 56 {
			if (x+y)%2 == 0 {
				img.SetGray(x, y, color.Gray{255})
			}
		}
	}
	v := FromImage(img, 28, 28)
	if c := v[10*28+10]; math.Abs(float64(c)-0.5) > 0.02 {
		t.Errorf("averaged value %v, want 0.5", c)
	}
}

func TestFromImageEdgeCases(t *testing.T) {
	// Uniform image: all background.
	for _, v := range FromImage(filled(30, 10, color.White, color.White, image.Rectangle{}), 28, 28) {
		if v != 0 {
			t.Fatalf("uniform image gave %v", v)
		}
	}
	// Empty image.
	if v := FromImage(image.NewGray(image.Rect(0, 0, 0, 5)), 4, 4); len(v) != 16 {
		t.Errorf("empty: len %d", len(v))
	}
	// Transparent background (over white) with an opaque dark object: inverted.
	img := image.NewNRGBA(image.Rect(0, 0, 20, 20))
	for y := 8; y < 13; y++ { // 10×5 object -> 10×5 in rows 2..6 of 10×10
		for x := 5; x < 15; x++ {
			img.Set(x, y, color.NRGBA{20, 20, 20, 255})
		}
	}
	v := FromImage(img, 10, 10)
	if got, want := bbox(v, 10, 10), image.Rect(0, 2, 10, 7); v[0] != 0 || v[45] < 0.9 || got != want {
		t.Errorf("transparent: corner %v centre %v object at %v, want %v", v[0], v[45], got, want)
	}
	defer func() {
		if recover() == nil {
			t.Error("no panic for size 0")
		}
	}()
	FromImage(img, 0, 28)
}

func TestLoadImageFile(t *testing.T) {
	dir := t.TempDir()
	img := filled(120, 40, color.White, color.Black, image.Rect(10, 10, 70, 30))
	for _, enc := range []struct {
		name string
		f    func(*os.File) error
	}{
		{"a.png", func(f *os.File) error { return png.Encode(f, img) }},
		{"a.jpg", func(f *os.File) error { return jpeg.Encode(f, img, &jpeg.Options{Quality: 95}) }},
	} {
		p := filepath.Join(dir, enc.name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := enc.f(f); err != nil {
			t.Fatal(err)
		}
		f.Close()
		v, err := LoadImageFile(p, 28, 28)
		if err != nil {
			t.Fatal(err)
		}
		// 60×20 -> 28×9 (rows 9..18), inverted.
		if got, want := bbox(v, 28, 28), image.Rect(0, 9, 28, 18); got != want {
			t.Errorf("%s: object at %v, want %v", enc.name, got, want)
		}
	}
	bad := writeFile(t, filepath.Join(dir, "bad.png"), []byte("GIF89a not supported"))
	if _, err := LoadImageFile(bad, 28, 28); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("bad file: %v", err)
	}
	if _, err := LoadImageFile(filepath.Join(dir, "a.png"), 0, 28); err == nil {
		t.Error("size 0 accepted")
	}
}
