package main

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capa-ml/capa"
)

// hugePNG is a PNG signature and an IHDR chunk (correct CRC) declaring a
// w×h RGBA image, and nothing more: 33 bytes.
func hugePNG(w, h uint32) []byte {
	b := []byte("\x89PNG\r\n\x1a\n")
	b = binary.BigEndian.AppendUint32(b, 13)
	b = append(b, "IHDR"...)
	b = binary.BigEndian.AppendUint32(b, w)
	b = binary.BigEndian.AppendUint32(b, h)
	b = append(b, 8, 6, 0, 0, 0)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[12:]))
}

// capa predict and capa visualize refuse an image over --max-pixels from
// its header, exit 1 and say how to raise the limit; a raised limit lets a
// large image through; truncated images are errors, not panics.
func TestImageLimits(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "m.safetensors")
	m, err := capa.PracticalCNN(0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Save(model); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge.png")
	if err := os.WriteFile(huge, hugePNG(100000, 100000), 0o644); err != nil {
		t.Fatal(err)
	}
	// A 600×500 image: over a 500x500 limit, within the default.
	mid := filepath.Join(dir, "mid.png")
	f, err := os.Create(mid)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, image.NewGray(image.Rect(0, 0, 600, 500))); err != nil {
		t.Fatal(err)
	}
	f.Close()
	b, err := os.ReadFile(mid)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.png")
	if err := os.WriteFile(cut, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"predict", "--model", model, huge}, 1, []string{huge, "100000×100000 = 10000000000 pixels", "limit of 16777216 pixels", "raise --max-pixels to at least 10000000000"}},
		{[]string{"predict", "--model", model, "--max-pixels", "500x500", mid}, 1, []string{mid, "600×500", "limit of 250000 pixels", "--max-pixels"}},
		{[]string{"predict", "--model", model, cut}, 1, []string{cut, "decoding the png image of 600×500"}},
		{[]string{"predict", "--model", model, "--max-pixels", "0", mid}, 2, []string{"invalid value \"0\" for flag -max-pixels", "positive"}},
		{[]string{"visualize", "--model", model, "--image", huge, "--out", filepath.Join(dir, "o")}, 1, []string{huge, "--max-pixels"}},
	} {
		out, err := exec.Command(capaBin, c.args...).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != c.code {
			t.Errorf("capa %v: %v, want exit %d:\n%s", c.args, err, c.code, out)
			continue
		}
		if strings.Contains(string(out), "panic") || strings.Contains(string(out), "goroutine") {
			t.Errorf("capa %v panicked:\n%s", c.args, out)
		}
		for _, w := range c.want {
			if !strings.Contains(string(out), w) {
				t.Errorf("capa %v: the error lacks %q:\n%s", c.args, w, out)
			}
		}
	}
	out := run(t, "predict", "--model", model, "--max-pixels", "600x500", mid)
	if !strings.HasPrefix(out, mid+":") {
		t.Errorf("predict with the limit raised: %s", out)
	}
	help := run(t, "predict", "-h")
	if !strings.Contains(help, "-max-pixels") || !strings.Contains(help, "4096x4096") {
		t.Errorf("predict -h does not document --max-pixels:\n%s", help)
	}
}
