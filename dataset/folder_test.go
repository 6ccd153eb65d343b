package dataset

import (
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeImage(t *testing.T, path string, img image.Image) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if strings.HasSuffix(path, ".png") {
		err = png.Encode(f, img)
	} else {
		err = jpeg.Encode(f, img, &jpeg.Options{Quality: 95})
	}
	if err != nil {
		t.Fatal(err)
	}
}

func solid(w, h int, c color.Color) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, c)
		}
	}
	return img
}

func TestLoadImageFolder(t *testing.T) {
	dir := t.TempDir()
	writeImage(t, filepath.Join(dir, "dog", "a.png"), solid(40, 20, color.RGBA{255, 0, 0, 255}))
	writeImage(t, filepath.Join(dir, "dog", "b.jpg"), solid(10, 10, color.RGBA{0, 0, 255, 255}))
	gray := image.NewGray(image.Rect(0, 0, 5, 5))
	for i := range gray.Pix {
		gray.Pix[i] = 128
	}
	writeImage(t, filepath.Join(dir, "cat", "c.png"), gray)
	os.WriteFile(filepath.Join(dir, "cat", "notes.txt"), []byte("skip me"), 0o644)
	s, classes, err := LoadImageFolder(dir, 8, 8, 3)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(classes, ",") != "cat,dog" || s.N != 3 || s.H != 8 || s.C != 3 {
		t.Fatalf("classes %v, set %dx%dx%dx%d", classes, s.N, s.H, s.W, s.C)
	}
	if s.Labels[0] != 0 || s.Labels[1] != 1 || s.Labels[2] != 1 {
		t.Errorf("labels %v", s.Labels)
	}
	if px := s.Image(0)[:3]; px[0] != px[1] || px[1] != px[2] || px[0] < 0.49 || px[0] > 0.51 {
		t.Errorf("gray pixel %v, want equal channels near 0.5", px)
	}
	if px := s.Image(1)[:3]; px[0] < 0.99 || px[1] > 0.01 {
		t.Errorf("red pixel %v", px)
	}
	if px := s.Image(2)[:3]; px[2] < 0.95 || px[0] > 0.05 {
		t.Errorf("blue pixel %v", px)
	}

	// Errors: one class, an empty class, a corrupt image.
	one := t.TempDir()
	writeImage(t, filepath.Join(one, "only", "a.png"), gray)
	if _, _, err := LoadImageFolder(one, 8, 8, 3); err == nil || !strings.Contains(err.Error(), "at least 2") {
		t.Errorf("one class: %v", err)
	}
	os.MkdirAll(filepath.Join(one, "empty"), 0o755)
	if _, _, err := LoadImageFolder(one, 8, 8, 3); err == nil || !strings.Contains(err.Error(), `"empty"`) {
		t.Errorf("empty class: %v", err)
	}
	os.WriteFile(filepath.Join(one, "empty", "bad.png"), []byte("not a png"), 0o644)
	if _, _, err := LoadImageFolder(one, 8, 8, 3); err == nil || !strings.Contains(err.Error(), "bad.png") {
		t.Errorf("corrupt image: %v", err)
	}
}

func TestToRGB(t *testing.T) {
	s := &Set{N: 1, H: 2, W: 2, C: 1, Images: []float32{0.1, 0.2, 0.3, 0.4}, Labels: []uint8{7}}
	r := ToRGB(s, 4)
	if r.H != 4 || r.W != 4 || r.C != 3 || r.Labels[0] != 7 {
		t.Fatalf("%+v", r)
	}
	// (0, 0) of the source lands at (1, 1).
	if px := r.Images[(1*4+1)*3 : (1*4+1)*3+3]; px[0] != 0.1 || px[2] != 0.1 {
		t.Errorf("pixel %v", px)
	}
	if r.Images[0] != 0 {
		t.Error("padding not zero")
	}
}
