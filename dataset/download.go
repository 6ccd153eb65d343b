package dataset

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	dl "github.com/capa-ml/capa/internal/download"
	"github.com/capa-ml/capa/internal/progress"
)

// downloadFashion downloads the Fashion-MNIST files missing from
// opts.CacheDir, filling in the option defaults.
func downloadFashion(opts *FashionMNISTOptions) error {
	if opts.NoDownload {
		return fmt.Errorf("download disabled")
	}
	if opts.CacheDir == "" {
		return fmt.Errorf("no cache directory to download into (os.UserCacheDir failed; set FashionMNISTOptions.CacheDir)")
	}
	if opts.BaseURL == "" {
		opts.BaseURL = FashionMNISTURL
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 10 * time.Minute}
	}
	if opts.Progress == nil {
		opts.Progress = progress.Downloads(os.Stderr)
	}
	if err := os.MkdirAll(opts.CacheDir, 0o755); err != nil {
		return fmt.Errorf("creating cache: %w", err)
	}
	for _, f := range fashionFiles {
		dst := filepath.Join(opts.CacheDir, f.name)
		if _, err := os.Stat(dst); err == nil {
			continue
		}
		if err := download(opts.Client, opts.BaseURL+f.name, dst, f.gzMD5, opts.Progress); err != nil {
			return err
		}
	}
	return nil
}

// download fetches url into dst (internal/download: a partial file beside
// dst, resumed on the next attempt, checked against wantMD5 and renamed into
// place only when complete and correct).
func download(client *http.Client, url, dst, wantMD5 string, report func(string, int64, int64)) error {
	name := filepath.Base(dst)
	err := dl.File(context.Background(), url, dst, dl.Options{Client: client, Hash: md5.New, Sum: wantMD5,
		Progress: func(done, total int64) { report(name, done, total) }})
	if errors.Is(err, dl.ErrChecksum) {
		return fmt.Errorf("%w: MD5 of the download is not the official one: %w", ErrChecksum, err)
	}
	return err
}
