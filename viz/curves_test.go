package viz

import (
	"bytes"
	"image/color"
	"image/png"
	"path/filepath"
	"testing"
)

func TestChart(t *testing.T) {
	c := Chart{Title: "accuracy", XLabel: "epoch", Series: []Series{
		{Name: "train", Y: []float64{0.8, 0.88, 0.9, 0.92}},
		{Name: "validation", Y: []float64{0.82, 0.87, 0.89, 0.895}},
	}}
	img := c.Draw()
	if b := img.Bounds(); b.Dx() != 640 || b.Dy() != 400 {
		t.Fatalf("size %v", b)
	}
	// Both series' colours appear.
	seen := map[color.RGBA]bool{}
	for y := 0; y < 400; y++ {
		for x := 0; x < 640; x++ {
			seen[img.RGBAAt(x, y)] = true
		}
	}
	for i := range c.Series {
		if !seen[palette[i]] {
			t.Errorf("series %d not drawn", i)
		}
	}
	path := filepath.Join(t.TempDir(), "c.png")
	if err := c.WritePNG(path); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(&b); err != nil {
		t.Fatal(err)
	}
	// Degenerate inputs do not panic.
	Chart{}.Draw()
	Chart{Series: []Series{{Y: []float64{1}}}}.Draw()
	if err := (Chart{}).WritePNG(filepath.Join(t.TempDir(), "missing", "x.png")); err == nil {
		t.Error("a write into a missing directory succeeded")
	}
}
