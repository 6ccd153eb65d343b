package main

import (
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestAugmentPreview(t *testing.T) {
	needData(t)
	path := filepath.Join(t.TempDir(), "preview.png")
	out := run(t, "augment", "--preview", path, "--n", "3", "--copies", "4", "--scale", "2")
	if !strings.Contains(out, "Flip(horizontal)") || !strings.Contains(out, "3 originals") {
		t.Errorf("output:\n%s", out)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	// pad 2, 56-pixel images, a gap of 6 after the original.
	if b := img.Bounds(); b.Dx() != 2+56+6+4*(56+2) || b.Dy() != 2+3*(56+2) {
		t.Errorf("preview is %v", b)
	}
	if out, err := exec.Command(capaBin, "augment").CombinedOutput(); err == nil || !strings.Contains(string(out), "--preview FILE.png is required") {
		t.Errorf("capa augment without --preview: %v\n%s", err, out)
	}
}
