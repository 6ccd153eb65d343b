package vgg

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/capa-ml/capa/internal/download"

	"github.com/capa-ml/capa/internal/progress"
)

// The official locations of Keras's VGG16 weights and the MD5 digests Keras
// publishes for them.
const (
	KerasBaseURL   = "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
	KerasNotopFile = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
	KerasTopFile   = "vgg16_weights_tf_dim_ordering_tf_kernels.h5"
	KerasTopMD5    = "64373286793e3c8b2b4e3219cbf3544b"
)

// KerasNotopMD5 is the digest Keras publishes for KerasNotopFile (a
// variable only so that tests can serve another file).
var KerasNotopMD5 = "6d6bbae143d832006294945121d1f1fc"

// ErrNoWeights is returned by KerasWeights when the file is neither in the
// cache nor downloadable.
var ErrNoWeights = errors.New("vgg: pretrained weights not available")

// Downloader fetches Keras's weight files; tests replace its fields.
type Downloader struct {
	BaseURL  string       // default KerasBaseURL
	CacheDir string       // default os.UserCacheDir()/capa/vgg16
	Client   *http.Client // default: 30-minute timeout
	// Progress is called as the download advances (file name, bytes so
	// far, total or -1); default: a progress bar on os.Stderr.
	Progress func(file string, done, total int64)
}

// KerasWeights returns the path of Keras's VGG16 weight file (with or
// without the top) in the user cache, downloading it from the official
// location first if needed, with a progress bar, and checking the MD5 that
// Keras publishes. Offline, the error says how to provide the file.
func KerasWeights(includeTop bool) (string, error) {
	return Downloader{}.KerasWeights(includeTop)
}

// KerasWeights is the package function with d's settings.
func (d Downloader) KerasWeights(includeTop bool) (string, error) {
	name, sum := KerasNotopFile, KerasNotopMD5
	if includeTop {
		name, sum = KerasTopFile, KerasTopMD5
	}
	if d.BaseURL == "" {
		d.BaseURL = KerasBaseURL
	}
	if d.CacheDir == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("vgg: no cache directory: %w", err)
		}
		d.CacheDir = filepath.Join(c, "capa", "vgg16")
	}
	if d.Client == nil {
		d.Client = &http.Client{Timeout: 30 * time.Minute}
	}
	if d.Progress == nil {
		d.Progress = progress.Downloads(os.Stderr)
	}
	path := filepath.Join(d.CacheDir, name)
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := d.download(d.BaseURL+name, path, sum); err != nil {
		return "", fmt.Errorf("%w: %v\nTo use the pretrained weights without a network, copy %s (Keras) or vgg16-397923af.pth (torchvision) to this machine and pass its path (--weights FILE), or put %s in %s", ErrNoWeights, err, name, name, d.CacheDir)
	}
	return path, nil
}

// download fetches url to dst with internal/download: resumed from a
// partial file, checked against the MD5 Keras publishes, renamed into place
// only when complete and correct.
func (d Downloader) download(url, dst, wantMD5 string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	name := filepath.Base(dst)
	err := download.File(context.Background(), url, dst, download.Options{Client: d.Client, Hash: md5.New, Sum: wantMD5,
		Progress: func(done, total int64) { d.Progress(name, done, total) }})
	if errors.Is(err, download.ErrChecksum) {
		return fmt.Errorf("the MD5 is not the one Keras publishes: %w", err)
	}
	return err
}
