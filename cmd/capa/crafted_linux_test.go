package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/capa-ml/capa/formats/safetensors"
	"github.com/capa-ml/capa/graph"
)

// TestCraftedModelFiles runs capa summary and capa predict on model files
// whose architectures ask for absurd sizes or illegal values (issue 18):
// each must exit 1 with a message naming the file, the layer and the field
// or the limit, with no Go panic or runtime fatal error, and peak under
// 1 GB (measured by the kernel: the child's maximum resident set).
func TestCraftedModelFiles(t *testing.T) {
	dense := func(n int) string { return fmt.Sprintf(`{"class_name":"Dense","config":{"units":%d}}`, n) }
	cases := []struct {
		name, input, layers string
		want                []string
	}{
		{"conv2d-2e9", "28,28,1", `{"class_name":"Conv2D","config":{"filters":2000000000,"kernel_size":[5,5]}}`, []string{`"conv2d"`, "limit", "--max-params"}},
		{"dense-4e8", "4,4,64", `{"class_name":"Flatten","config":{}},` + dense(4e8), []string{`"dense"`, "limit", "--max-params"}},
		{"dense-1e12", "4", dense(1e12), []string{`"dense"`, "5 T weights"}},
		{"dense-5e5", "4,4,64", `{"class_name":"Flatten","config":{}},` + dense(5e5), []string{`"dense"`, "512 M weights"}},
		{"input-2^31", "2147483648,2147483648,2147483648", `{"class_name":"Flatten","config":{}}`, []string{"Input shape", "MaxActivations"}},
		{"2000-dense-4096", "64", strings.TrimSuffix(strings.Repeat(dense(4096)+",", 2000), ","), []string{`"dense_16"`, "limit"}},
		{"strides-0", "8,8,1", `{"class_name":"Conv2D","config":{"filters":2,"kernel_size":[3,3],"strides":[0,0]}}`, []string{"Conv2D", "strides must be positive, got [0 0]"}},
		{"pool-0", "8,8,1", `{"class_name":"MaxPooling2D","config":{"pool_size":[0,0]}}`, []string{"MaxPooling2D", "pool_size must be positive, got [0 0]"}},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.name+".capa")
			arch := fmt.Sprintf(`{"name":"crafted","seed":1,"input_shape":[%s],"layers":[%s]}`, c.input, c.layers)
			meta := map[string]string{graph.MetaFormat: "capa", graph.MetaVersion: "1", graph.MetaModel: arch}
			ts := map[string]safetensors.Tensor{"dense/kernel": safetensors.F32([]int{1, 1}, []float32{0})}
			if err := safetensors.WriteFile(path, ts, meta); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{
				{"summary", "--model", path},
				{"predict", "--model", path, filepath.Join(dir, "x.png")},
			} {
				code, out, errs, rss := capaRSS(t, args...)
				if code != 1 || strings.Contains(errs, "panic") || strings.Contains(errs, "fatal error") {
					t.Errorf("capa %s: status %d, stderr %q; want 1 and an error", args[0], code, errs)
				}
				for _, w := range append([]string{path}, c.want...) {
					if !strings.Contains(errs, w) {
						t.Errorf("capa %s: stderr %q does not mention %q", args[0], errs, w)
					}
				}
				if out != "" {
					t.Errorf("capa %s: stdout %q, want nothing", args[0], out)
				}
				if rss > 1<<30 {
					t.Errorf("capa %s peaked at %d MB, want under 1 GB", args[0], rss>>20)
				}
				t.Logf("capa %s: peak %d MB", args[0], rss>>20)
			}
		})
	}
	// Raising the limit lets a legitimate larger file through to the next
	// check (here: the file does not hold the weights).
	path := filepath.Join(dir, "dense-5e5.capa")
	code, _, errs, _ := capaRSS(t, "summary", "--max-params", "600000000", "--model", path)
	if code != 1 || !strings.Contains(errs, `weight "dense/kernel" has shape [1 1] in the file, the architecture needs [1024 500000]`) {
		t.Errorf("--max-params 6e8: status %d, stderr %q", code, errs)
	}
	if code, _, errs, _ := capaRSS(t, "summary", "--max-params", "0", "--model", path); code != 2 {
		t.Errorf("--max-params 0: status %d, stderr %q; want 2", code, errs)
	}
}

// capaRSS is capaStatus that also returns the child's peak resident set.
func capaRSS(t *testing.T, args ...string) (int, string, string, int64) {
	t.Helper()
	code, out, errs, st := capaRun(t, args...)
	var rss int64
	if ru, ok := st.(*syscall.Rusage); ok {
		rss = ru.Maxrss * 1024 // kB on Linux
	}
	return code, out, errs, rss
}
