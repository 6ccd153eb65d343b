package dataset

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/capa-ml/capa/formats/idx"
	"github.com/capa-ml/capa/internal/fulltest"
)

// fakeFashion writes a small Fashion-MNIST look-alike (trainN/testN images of
// h×w) as official-named .gz files into dir, and makes the package accept it:
// it replaces the checksum table, points the system directory to an empty
// one and clears $FASHION_MNIST_DIR, all restored after the test. It returns
// the .gz contents by name. mutate, if not nil, may change a file's
// decompressed content before it is written.
func fakeFashion(t *testing.T, dir string, trainN, testN, h, w int, mutate func(name string, data []byte)) map[string][]byte {
	t.Helper()
	old, oldSys := fashionFiles, systemDir
	t.Cleanup(func() { fashionFiles, systemDir = old, oldSys })
	systemDir = t.TempDir()
	t.Setenv(FashionMNISTEnv, "")

	files := map[string][]byte{}
	for i, n := range []int{trainN, trainN, testN, testN} {
		img, lab := synth(n, h, w)
		dims, data := []int{n, h, w}, img
		if i%2 == 1 {
			dims, data = []int{n}, lab
		}
		name := fashionFiles[i].name
		if mutate != nil {
			mutate(name, data)
		}
		raw := idxBytes(t, dims, data, false)
		gz := idxBytes(t, dims, data, true)
		s, m := sha256.Sum256(raw), md5.Sum(gz)
		fashionFiles[i].sha256, fashionFiles[i].gzMD5 = hex.EncodeToString(s[:]), hex.EncodeToString(m[:])
		files[name] = gz
		if dir != "" {
			writeFile(t, filepath.Join(dir, name), gz)
		}
	}
	return files
}

func TestFashionSearchOrder(t *testing.T) {
	explicit, env := t.TempDir(), t.TempDir()
	fakeFashion(t, explicit, 12, 5, 28, 28, nil)
	// env holds the same files decompressed (the other accepted naming).
	for _, f := range fashionFiles {
		b, err := os.ReadFile(filepath.Join(explicit, f.name))
		if err != nil {
			t.Fatal(err)
		}
		zr, err := idx.Decompress(strings.NewReader(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(env, strings.TrimSuffix(f.name, ".gz")), raw)
	}
	t.Setenv(FashionMNISTEnv, env)
	noDL := FashionMNISTOptions{CacheDir: t.TempDir(), NoDownload: true}

	for _, dir := range []string{explicit, ""} {
		opts := noDL
		opts.Dir = dir
		train, test, err := LoadFashionMNISTWith(opts)
		if err != nil {
			t.Fatalf("dir %q: %v", dir, err)
		}
		if train.N != 12 || test.N != 5 || train.H != 28 || train.W != 28 || train.C != 1 || test.Labels[3] != 3 {
			t.Errorf("dir %q: train %d test %d", dir, train.N, test.N)
		}
	}
	// An explicit directory without the files falls through to the env one.
	opts := noDL
	opts.Dir = t.TempDir()
	if _, _, err := LoadFashionMNISTWith(opts); err != nil {
		t.Errorf("fall-through: %v", err)
	}
}

func TestFashionErrors(t *testing.T) {
	tests := []struct {
		name    string
		h, w    int
		mutate  func(string, []byte)
		culprit string
		want    error
		inMsg   string
	}{
		{"label 10", 28, 28, func(n string, d []byte) {
			if n == "t10k-labels-idx1-ubyte.gz" {
				d[3] = 10
			}
		}, "t10k-labels-idx1-ubyte.gz", nil, "label 10 of example 3 (offset 11)"},
		{"image size", 28, 27, nil, "train-images-idx3-ubyte.gz", ErrMismatch, "28×27×1, want 28×28×1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fakeFashion(t, dir, 12, 5, tc.h, tc.w, tc.mutate)
			_, _, err := LoadFashionMNISTWith(FashionMNISTOptions{Dir: dir, NoDownload: true})
			if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, tc.culprit)) ||
				!strings.Contains(err.Error(), tc.inMsg) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Errorf("err = %v; want %v naming %s, containing %q", err, tc.want, tc.culprit, tc.inMsg)
			}
		})
	}

	t.Run("count mismatch", func(t *testing.T) {
		dir := t.TempDir()
		fakeFashion(t, dir, 12, 5, 28, 28, nil)
		// Replace the test labels by 4 labels and accept their checksum.
		raw := idxBytes(t, []int{4}, []byte{0, 1, 2, 3}, false)
		s := sha256.Sum256(raw)
		fashionFiles[3].sha256 = hex.EncodeToString(s[:])
		writeFile(t, filepath.Join(dir, fashionFiles[3].name), idxBytes(t, []int{4}, []byte{0, 1, 2, 3}, true))
		_, _, err := LoadFashionMNISTWith(FashionMNISTOptions{Dir: dir, NoDownload: true})
		if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "has 5 images but") {
			t.Errorf("err = %v", err)
		}
	})

	t.Run("checksum", func(t *testing.T) {
		dir := t.TempDir()
		fakeFashion(t, dir, 12, 5, 28, 28, nil)
		fashionFiles[0].sha256 = strings.Repeat("0", 64)
		_, _, err := LoadFashionMNISTWith(FashionMNISTOptions{Dir: dir, NoDownload: true})
		if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), filepath.Join(dir, fashionFiles[0].name)) {
			t.Errorf("err = %v", err)
		}
	})

	t.Run("corrupt and truncated", func(t *testing.T) {
		dir := t.TempDir()
		files := fakeFashion(t, dir, 12, 5, 28, 28, nil)
		gz := files[fashionFiles[0].name]
		bad := append([]byte(nil), gz...)
		bad[len(bad)/2] ^= 0x55
		writeFile(t, filepath.Join(dir, fashionFiles[0].name), bad)
		writeFile(t, filepath.Join(dir, fashionFiles[2].name), files[fashionFiles[2].name][:100])
		writeFile(t, filepath.Join(dir, fashionFiles[1].name), []byte("not an idx file"))
		_, _, err := LoadFashionMNISTWith(FashionMNISTOptions{Dir: dir, NoDownload: true})
		for _, i := range []int{0, 1, 2} {
			if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, fashionFiles[i].name)) {
				t.Errorf("err = %v; want it to name %s", err, fashionFiles[i].name)
			}
		}
		if !errors.Is(err, idx.ErrFormat) || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("err = %v; want ErrFormat and ErrUnexpectedEOF", err)
		}
	})
}

func TestFashionDownload(t *testing.T) {
	files := fakeFashion(t, "", 12, 5, 28, 28, nil)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		b, ok := files[strings.TrimPrefix(r.URL.Path, "/data/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	defer srv.Close()

	cache := filepath.Join(t.TempDir(), "capa", "fashion-mnist")
	var progress strings.Builder
	last := map[string][2]int64{}
	report := func(f string, done, total int64) {
		fmt.Fprintf(&progress, "downloading %s: %d / %d\n", f, done, total)
		last[f] = [2]int64{done, total}
	}
	opts := FashionMNISTOptions{CacheDir: cache, BaseURL: srv.URL + "/data/", Client: srv.Client(), Progress: report}
	train, test, err := LoadFashionMNISTWith(opts)
	if err != nil {
		t.Fatal(err)
	}
	if train.N != 12 || test.N != 5 || hits.Load() != 4 {
		t.Errorf("train %d test %d hits %d", train.N, test.N, hits.Load())
	}
	for _, f := range fashionFiles {
		if !strings.Contains(progress.String(), "downloading "+f.name+": ") {
			t.Errorf("no progress for %s in %q", f.name, progress.String())
		}
	}
	for f, v := range last {
		if v[0] != v[1] || v[0] != int64(len(files[f])) {
			t.Errorf("last progress of %s: %d / %d, want %d / %d", f, v[0], v[1], len(files[f]), len(files[f]))
		}
	}
	if m, _ := filepath.Glob(filepath.Join(cache, "*.part")); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}

	// Second load: from the cache, no network.
	srv.Close()
	if _, _, err := LoadFashionMNISTWith(opts); err != nil {
		t.Errorf("cached load: %v", err)
	}
}

func TestFashionDownloadBadMD5(t *testing.T) {
	files := fakeFashion(t, "", 12, 5, 28, 28, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := files[strings.TrimPrefix(r.URL.Path, "/")]
		w.Write(b[:len(b)-1]) // one byte short, MD5 differs
	}))
	defer srv.Close()
	cache := t.TempDir()
	_, _, err := LoadFashionMNISTWith(FashionMNISTOptions{CacheDir: cache, BaseURL: srv.URL + "/", Client: srv.Client(), Progress: func(string, int64, int64) {}})
	if !errors.Is(err, ErrChecksum) || !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "MD5") {
		t.Errorf("err = %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(cache, "*")); len(m) != 0 {
		t.Errorf("files left in cache: %v", m)
	}
}

func TestFashionNotFound(t *testing.T) {
	fakeFashion(t, "", 1, 1, 28, 28, nil)
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	for _, opts := range []FashionMNISTOptions{
		{Dir: "/nonexistent", CacheDir: t.TempDir(), NoDownload: true},
		{CacheDir: t.TempDir(), BaseURL: srv.URL + "/", Client: srv.Client(), Progress: func(string, int64, int64) {}},
	} {
		_, _, err := LoadFashionMNISTWith(opts)
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("err = %v", err)
		}
		for _, want := range []string{"apt-get install dataset-fashion-mnist", "FASHION_MNIST_DIR=", "--data", opts.CacheDir, "train-images-idx3-ubyte.gz"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error lacks %q:\n%v", want, err)
			}
		}
	}
}

// TestFashionMNISTReal loads the real data set from the Debian package.
func TestFashionMNISTReal(t *testing.T) {
	if _, ok := findFashion(FashionMNISTSystemDir); !ok {
		fulltest.Missing(t, "Fashion-MNIST not in %s (sudo apt-get install dataset-fashion-mnist)", FashionMNISTSystemDir)
	}
	start := time.Now()
	train, test, err := LoadFashionMNISTWith(FashionMNISTOptions{Dir: FashionMNISTSystemDir, NoDownload: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded Fashion-MNIST in %v", time.Since(start))
	for _, c := range []struct {
		s *Set
		n int
	}{{train, 60000}, {test, 10000}} {
		s := c.s
		if s.N != c.n || s.H != 28 || s.W != 28 || s.C != 1 || len(s.Images) != c.n*784 || len(s.Labels) != c.n {
			t.Fatalf("got N=%d %d×%d×%d", s.N, s.H, s.W, s.C)
		}
		lo, hi := s.Images[0], s.Images[0]
		for _, v := range s.Images {
			lo, hi = min(lo, v), max(hi, v)
		}
		if lo != 0 || hi != 1 {
			t.Errorf("pixel range [%v, %v], want [0, 1]", lo, hi)
		}
		for class, k := range s.ClassCounts(10) {
			if k != c.n/10 {
				t.Errorf("N=%d: class %d (%s) has %d examples, want %d", c.n, class, ClassNames[class], k, c.n/10)
			}
		}
	}
}

// BenchmarkLoadFashionMNIST loads the real data set (Debian package).
func BenchmarkLoadFashionMNIST(b *testing.B) {
	if _, ok := findFashion(FashionMNISTSystemDir); !ok {
		b.Skipf("Fashion-MNIST not in %s", FashionMNISTSystemDir)
	}
	for b.Loop() {
		if _, _, err := LoadFashionMNISTWith(FashionMNISTOptions{Dir: FashionMNISTSystemDir, NoDownload: true}); err != nil {
			b.Fatal(err)
		}
	}
}
