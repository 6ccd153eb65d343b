package vgg

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKerasWeightsDownload(t *testing.T) {
	body := []byte("pretend HDF5 weights")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, KerasNotopFile) {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	defer srv.Close()
	cache := t.TempDir()
	d := Downloader{BaseURL: srv.URL + "/", CacheDir: cache, Progress: func(string, int64, int64) {}}
	// The wrong MD5 (the real file's) leaves nothing in the cache.
	if _, err := d.KerasWeights(false); !errors.Is(err, ErrNoWeights) || !strings.Contains(err.Error(), "MD5") {
		t.Fatalf("bad MD5: %v", err)
	}
	if ents, _ := os.ReadDir(cache); len(ents) != 0 {
		t.Errorf("cache after a failed download: %v", ents)
	}
	sum := md5.Sum(body)
	old := KerasNotopMD5
	defer func() { setNotopMD5(old) }()
	setNotopMD5(hex.EncodeToString(sum[:]))
	path, err := d.KerasWeights(false)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != string(body) || filepath.Dir(path) != cache {
		t.Errorf("downloaded %q to %s", b, path)
	}
	srv.Close() // cached: no network needed
	if p2, err := d.KerasWeights(false); err != nil || p2 != path {
		t.Errorf("cached: %v %v", p2, err)
	}
	// Offline: a clear message saying how to provide the file.
	d.CacheDir = t.TempDir()
	_, err = d.KerasWeights(true)
	if !errors.Is(err, ErrNoWeights) || !strings.Contains(err.Error(), "--weights FILE") {
		t.Errorf("offline: %v", err)
	}
}

func setNotopMD5(s string) { KerasNotopMD5 = s }
