package main

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capa-ml/capa/formats/npy"
	"github.com/capa-ml/capa/internal/fulltest"
	"github.com/capa-ml/capa/vgg"
)

func TestVGG16CommandErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "x.npy")
	npy.WriteFile(bad, []int{1, 8, 8, 1}, make([]float32, 64))
	for _, args := range [][]string{
		{"vgg16"},
		{"vgg16", "features"},
		{"vgg16", "features", "--weights", "w.h5", "--input", bad, "--output", filepath.Join(dir, "y.npy")},
		{"vgg16", "features", "--weights", "w.h5", "--input", filepath.Join(dir, "missing.npy"), "--output", "y.npy"},
	} {
		out, err := exec.Command(capaBin, args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "capa vgg16") {
			t.Errorf("capa %v: err %v\n%s", args, err, out)
		}
	}
}

// TestVGG16CommandFull cross-checks `capa vgg16 features` and `predict`
// against PyTorch on the full-size files written by
// scripts/make_vgg_golden.py --full DIR (CAPA_VGG_FULL=DIR, or under
// go test -tags full the user cache, written first if absent).
func TestVGG16CommandFull(t *testing.T) {
	dir := fulltest.Generated(t, "CAPA_VGG_FULL", "vgg16-full", "../../scripts/make_vgg_golden.py", "--full")
	var g struct {
		Base struct {
			Size     int       `json:"size"`
			N        int       `json:"n"`
			Features []float64 `json:"features"`
		} `json:"base"`
		Top struct {
			Probs []float64 `json:"probs"`
		} `json:"top"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(b, &g)
	tmp := t.TempDir()
	image := func(n, size int) string {
		x := make([]float32, n*size*size*3)
		for i := range x {
			x[i] = float32(0.5 + 0.5*math.Sin(0.37*float64(i)+0.11*float64(i/3)))
		}
		vgg.PreprocessCaffe(x, x)
		p := filepath.Join(tmp, "x.npy")
		npy.WriteFile(p, []int{n, size, size, 3}, x)
		return p
	}
	check := func(got []float32, want []float64, what string) {
		var d, s float64
		for i := range want {
			e := float64(got[i]) - want[i]
			d += e * e
			s += want[i] * want[i]
		}
		if r := math.Sqrt(d / s); r > 1e-4 {
			t.Errorf("%s: relative error %.3g", what, r)
		}
	}
	y := filepath.Join(tmp, "y.npy")
	for _, w := range []string{"full_notop_keras1.h5", "full_top_zip.pth"} {
		run(t, "vgg16", "features", "--weights", filepath.Join(dir, w), "--input", image(g.Base.N, g.Base.Size), "--output", y)
		_, f, err := npy.ReadFile(y)
		if err != nil {
			t.Fatal(err)
		}
		check(f, g.Base.Features, w+" features")
	}
	run(t, "vgg16", "predict", "--weights", filepath.Join(dir, "full_top_keras2.h5"), "--input", image(1, 224), "--output", y)
	shape, p, _ := npy.ReadFile(y)
	if len(shape) != 2 || shape[1] != 1000 {
		t.Fatalf("predict shape %v", shape)
	}
	check(p, g.Top.Probs, "predict")
}
