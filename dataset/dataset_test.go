package dataset

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capa-ml/capa/formats/idx"
)

// idxBytes encodes a uint8 IDX file, gzip-compressed if gz.
func idxBytes(t testing.TB, dims []int, data []byte, gz bool) []byte {
	t.Helper()
	var b bytes.Buffer
	var w io.Writer = &b
	zw := gzip.NewWriter(&b)
	if gz {
		w = zw
	}
	if err := idx.Write(w, dims, data); err != nil {
		t.Fatal(err)
	}
	if gz {
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func writeFile(t testing.TB, path string, b []byte) string {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// synth returns n h×w images whose pixel (i, y, x) is (i+y+x)%256 and labels
// i%10.
func synth(n, h, w int) (img, lab []byte) {
	img = make([]byte, n*h*w)
	for i := range n {
		for y := range h {
			for x := range w {
				img[(i*h+y)*w+x] = byte(i + y + x)
			}
		}
	}
	lab = make([]byte, n)
	for i := range lab {
		lab[i] = byte(i % 10)
	}
	return img, lab
}

func TestLoadIDX(t *testing.T) {
	dir := t.TempDir()
	img, lab := synth(5, 3, 4)
	ip := writeFile(t, filepath.Join(dir, "img.gz"), idxBytes(t, []int{5, 3, 4}, img, true))
	lp := writeFile(t, filepath.Join(dir, "lab"), idxBytes(t, []int{5}, lab, false))
	s, err := LoadIDX(ip, lp)
	if err != nil {
		t.Fatal(err)
	}
	if s.N != 5 || s.H != 3 || s.W != 4 || s.C != 1 || len(s.Images) != 60 || len(s.Labels) != 5 {
		t.Fatalf("got N=%d H=%d W=%d C=%d len %d/%d", s.N, s.H, s.W, s.C, len(s.Images), len(s.Labels))
	}
	// pixel (2, 1, 3) = 6 -> 6/255
	if got := s.Images[(2*3+1)*4+3]; got != float32(6)/255 {
		t.Errorf("pixel = %v", got)
	}
	if s.Labels[4] != 4 {
		t.Errorf("label = %d", s.Labels[4])
	}

	// 4-dim images give C.
	ip4 := writeFile(t, filepath.Join(dir, "img4"), idxBytes(t, []int{5, 2, 2, 3}, img, false))
	if s, err := LoadIDX(ip4, lp); err != nil || s.C != 3 || s.H != 2 {
		t.Errorf("4-dim: %+v %v", s, err)
	}
}

func TestLoadIDXErrors(t *testing.T) {
	dir := t.TempDir()
	img, lab := synth(5, 3, 4)
	good := idxBytes(t, []int{5, 3, 4}, img, true)
	lp := writeFile(t, filepath.Join(dir, "labels"), idxBytes(t, []int{5}, lab, false))

	corrupt := bytes.Clone(good)
	corrupt[len(corrupt)/2] ^= 0x55
	badCRC := bytes.Clone(good)
	badCRC[len(badCRC)-5] ^= 0xFF
	wrongMagic := idxBytes(t, []int{5, 3, 4}, img, false)
	wrongMagic[1] = 3

	tests := []struct {
		name   string
		images []byte
		labels string
		want   error // nil: only check the message
		inMsg  string
	}{
		{"corrupt gzip", corrupt, lp, nil, ""},
		{"gzip checksum", badCRC, lp, gzip.ErrChecksum, ""},
		{"truncated gzip", good[:len(good)-12], lp, io.ErrUnexpectedEOF, ""},
		{"truncated raw", idxBytes(t, []int{5, 3, 4}, img, false)[:40], lp, io.ErrUnexpectedEOF, "want 60 bytes of data, got 24"},
		{"wrong magic", wrongMagic, lp, idx.ErrFormat, "offset 0"},
		{"count mismatch", idxBytes(t, []int{4, 3, 4}, img[:48], false), lp, ErrMismatch, "has 4 images but"},
		{"2-dim images", idxBytes(t, []int{5, 12}, img, false), lp, ErrMismatch, "image dimensions [5 12]"},
		{"2-dim labels", idxBytes(t, []int{5, 3, 4}, img, false),
			writeFile(t, filepath.Join(dir, "labels2d"), idxBytes(t, []int{5, 1}, lab, false)), ErrMismatch, "label dimensions"},
	}
	for _, tc := range tests {
		ip := writeFile(t, filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")), tc.images)
		_, err := LoadIDX(ip, tc.labels)
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		culprit := ip
		if tc.name == "2-dim labels" {
			culprit = tc.labels
		}
		if !strings.Contains(err.Error(), culprit) || !strings.Contains(err.Error(), tc.inMsg) ||
			(tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: err = %v; want %v naming %s and containing %q", tc.name, err, tc.want, culprit, tc.inMsg)
		}
	}
	if _, err := LoadIDX(filepath.Join(dir, "missing"), lp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestSetViews(t *testing.T) {
	img := make([]float32, 10*2*2)
	for i := range img {
		img[i] = float32(i)
	}
	s := &Set{Images: img, Labels: []uint8{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, N: 10, H: 2, W: 2, C: 1}
	if s.ImageLen() != 4 || s.Image(3)[0] != 12 {
		t.Fatalf("ImageLen %d Image(3) %v", s.ImageLen(), s.Image(3))
	}
	v := s.Slice(2, 5)
	if v.N != 3 || len(v.Images) != 12 || v.Images[0] != 8 || v.Labels[2] != 4 {
		t.Fatalf("Slice: %+v", v)
	}
	v.Images[0] = -1 // a view: shares memory
	if s.Images[8] != -1 {
		t.Error("Slice is not a view")
	}
	tr, val := s.Split(3)
	if tr.N != 7 || val.N != 3 || val.Labels[0] != 7 || len(val.Images) != 12 || len(tr.Images) != 28 {
		t.Errorf("Split: %d %d %v", tr.N, val.N, val.Labels)
	}
	c := s.Clone()
	c.Images[0] = 42
	if s.Images[0] == 42 {
		t.Error("Clone shares memory")
	}
	c.Swap(0, 9)
	if c.Labels[0] != 9 || c.Images[0] != 36 || c.Images[36] != 42 {
		t.Errorf("Swap: %v %v", c.Labels, c.Images[:4])
	}
	c.Shuffle(func(n int, swap func(i, j int)) { swap(1, 2) })
	if c.Labels[1] != 2 {
		t.Errorf("Shuffle: %v", c.Labels)
	}
	if h := s.ClassCounts(10); h[0] != 1 || h[9] != 1 {
		t.Errorf("ClassCounts: %v", h)
	}
	for _, f := range []func(){func() { s.Slice(5, 4) }, func() { s.Slice(0, 11) }, func() { s.Split(11) }, func() { s.Image(10) }} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		}()
	}
}
