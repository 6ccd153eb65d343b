package applications

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capa-ml/capa/internal/download"
)

// TestDownloadTorchvision serves a torchvision file named with its
// SHA-256 prefix, as download.pytorch.org does: it is downloaded into the
// cache, loads, and a file whose bytes do not match its name's prefix is
// refused and removed.
func TestDownloadTorchvision(t *testing.T) {
	body, err := os.ReadFile("testdata/resnet18_mini.pth")
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(body)
	good := "resnet18mini-" + hex.EncodeToString(h[:])[:8] + ".pth"
	bad := "resnet18mini-00000000.pth"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/"+good && r.URL.Path != "/"+bad {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	defer srv.Close()
	cache := t.TempDir()
	d := Downloader{BaseURL: srv.URL + "/", CacheDir: cache, Progress: io.Discard}
	a, _ := Lookup("resnet18", "torchvision")
	a.Files = []string{good}
	path, err := d.Download(a, true)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := TorchResNet18(Config{WidthDiv: 16, Classes: 10, Height: 64, Width: 64})
	if err := LoadTorchvision(m, path); err != nil {
		t.Fatalf("the downloaded file does not load: %v", err)
	}
	a.Files = []string{bad}
	if _, err := d.Download(a, true); !errors.Is(err, download.ErrChecksum) {
		t.Errorf("a file not matching its name's prefix: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cache, bad)); err == nil {
		t.Error("the refused file was kept")
	}
	k, _ := Lookup("mobilenet_v2", "keras")
	if _, err := d.Download(k, true); err == nil || !strings.Contains(err.Error(), "publishes no digest") {
		t.Errorf("Keras's MobileNetV2 file (no published digest): %v", err)
	}
}

// TestDownloadKeras serves a Keras file, checked as keras.utils.get_file
// does by the MD5 Keras publishes (the real ResNet50 digests are in the
// registry): it is downloaded and loads; a wrong digest is refused and
// the file removed.
func TestDownloadKeras(t *testing.T) {
	body, err := os.ReadFile("testdata/keras_resnet50_mini.h5")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	defer srv.Close()
	cache := t.TempDir()
	d := Downloader{BaseURL: srv.URL + "/", CacheDir: cache, Progress: io.Discard}
	a, _ := Lookup("resnet50", "keras")
	if len(a.MD5) != 2 || a.MD5[1] != "4d473c1dd8becc155b73f8504c6f6626" {
		t.Fatalf("ResNet50's published digests: %v", a.MD5)
	}
	sum := md5.Sum(body)
	a.MD5 = []string{"00000000000000000000000000000000", hex.EncodeToString(sum[:])}
	path, err := d.Download(a, false)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := KerasResNet50(Config{WidthDiv: 32, NoTop: true, Classes: 10, Height: 64, Width: 64})
	if err := LoadKeras(m, path); err != nil {
		t.Fatalf("the downloaded file does not load: %v", err)
	}
	if _, err := d.Download(a, true); !errors.Is(err, download.ErrChecksum) {
		t.Errorf("a file not matching Keras's digest: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cache, a.File(true))); err == nil {
		t.Error("the refused file was kept")
	}
}
