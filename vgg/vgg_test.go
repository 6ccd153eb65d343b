package vgg

import (
	"strings"
	"testing"
)

func TestParamCounts(t *testing.T) {
	for _, c := range []struct {
		depth int
		top   bool
		want  int
	}{
		{16, false, 14714688}, // Keras: VGG16(include_top=False).count_params()
		{16, true, 138357544},
		{19, false, 20024384},
	} {
		m, err := New(c.depth, Config{IncludeTop: c.top})
		if err != nil {
			t.Fatal(err)
		}
		tr, non := m.CountParams()
		if tr+non != c.want {
			t.Errorf("VGG%d top=%v: %d params, want %d", c.depth, c.top, tr+non, c.want)
		}
	}
}

func TestShapesAndNames(t *testing.T) {
	m, err := VGG16(Config{Height: 32, Width: 32})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.OutputShape().String(); got != "(None, 1, 1, 512)" {
		t.Errorf("32x32 output %s", got)
	}
	s := m.Summary()
	for _, name := range append(ConvLayers(16), "block5_pool (MaxPooling2D)") {
		if !strings.Contains(s, name) {
			t.Errorf("summary lacks %s", name)
		}
	}
	if _, err := VGG16(Config{IncludeTop: true, Height: 32, Width: 32}); err == nil || !strings.Contains(err.Error(), "224x224") {
		t.Errorf("top at 32x32: %v", err)
	}
	if _, err := VGG16(Config{Height: 16, Width: 16}); err == nil {
		t.Error("16x16 accepted")
	}
	if _, err := New(11, Config{}); err == nil {
		t.Error("depth 11 accepted")
	}
}

func TestClasses(t *testing.T) {
	if len(ImageNetClasses) != 1000 || ImageNetClasses[0] != "tench" || ImageNetClasses[999] == "" {
		t.Fatalf("%d classes, first %q", len(ImageNetClasses), ImageNetClasses[0])
	}
	p := make([]float32, 2000)
	p[3], p[1000+999], p[1000+7] = 1, 0.6, 0.4
	d := DecodePredictions(p, 1000, 2)
	if len(d) != 2 || d[0][0].Class != 3 || d[1][0].Class != 999 || d[1][1].Class != 7 || d[1][0].Name != ImageNetClasses[999] {
		t.Errorf("decoded %+v", d)
	}
}

func TestPreprocess(t *testing.T) {
	src := []float32{1, 0.5, 0}
	dst := make([]float32, 3)
	PreprocessCaffe(dst, src)
	want := []float32{0 - 103.939, 127.5 - 116.779, 255 - 123.68}
	for i := range dst {
		if d := dst[i] - want[i]; d > 1e-3 || d < -1e-3 {
			t.Errorf("caffe %v, want %v", dst, want)
		}
	}
	PreprocessTorch(dst, src)
	if d := dst[0] - (1-0.485)/0.229; d > 1e-5 || d < -1e-5 {
		t.Errorf("torch %v", dst)
	}
}
