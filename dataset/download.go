package dataset

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
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
		opts.Progress = os.Stderr
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

// download fetches url into dst atomically: it writes a temporary file in
// dst's directory, checks its MD5 against wantMD5 (if not empty), syncs it
// and renames it to dst. On any failure dst is left untouched and the
// temporary file is removed.
func download(client *http.Client, url, dst, wantMD5 string, progress io.Writer) (err error) {
	resp, err := client.Get(url)
	if err != nil {
		return fmt.Errorf("download %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("download %s: HTTP status %s", url, resp.Status)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), filepath.Base(dst)+".*.part")
	if err != nil {
		return fmt.Errorf("download %s: %w", url, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := md5.New()
	p := &progressWriter{w: progress, name: filepath.Base(dst), total: resp.ContentLength}
	n, err := io.Copy(io.MultiWriter(tmp, h, p), resp.Body)
	p.done()
	if err != nil {
		return fmt.Errorf("download %s: after %d bytes: %w", url, n, err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return fmt.Errorf("download %s: got %d bytes, want %d", url, n, resp.ContentLength)
	}
	if got := hex.EncodeToString(h.Sum(nil)); wantMD5 != "" && got != wantMD5 {
		return fmt.Errorf("download %s: MD5 %s, want %s: %w", url, got, wantMD5, ErrChecksum)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("download %s: %w", url, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("download %s: %w", url, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("download %s: %w", url, err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("download %s: %w", url, err)
	}
	return nil
}

// progressWriter prints "name: done / total" to w, at most every 200 ms.
type progressWriter struct {
	w     io.Writer
	name  string
	total int64 // -1 if unknown
	n     int64
	last  time.Time
}

func (p *progressWriter) Write(b []byte) (int, error) {
	p.n += int64(len(b))
	if t := time.Now(); t.Sub(p.last) >= 200*time.Millisecond {
		p.last = t
		p.print("")
	}
	return len(b), nil
}

func (p *progressWriter) done() { p.print("\n") }

func (p *progressWriter) print(end string) {
	if p.total > 0 {
		fmt.Fprintf(p.w, "\rdownloading %s: %d / %d bytes (%d%%)%s", p.name, p.n, p.total, p.n*100/p.total, end)
	} else {
		fmt.Fprintf(p.w, "\rdownloading %s: %d bytes%s", p.name, p.n, end)
	}
}
