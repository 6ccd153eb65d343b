// Package download fetches a file over HTTP into place: the bytes go to a
// partial file beside the target (".NAME.part"), a download that breaks off
// resumes from it with a Range request (and starts over if the server
// ignores Range), the whole file is checked against a digest, and only a
// complete, verified file is renamed into place (internal/atomicfile).
// Progress is reported to a callback; this package prints nothing.
package download

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/capa-ml/capa/internal/atomicfile"
)

// ErrChecksum is wrapped by the error of a download whose digest is not the
// expected one; the partial file is removed.
var ErrChecksum = errors.New("checksum mismatch")

// Options configure File.
type Options struct {
	// Client defaults to http.DefaultClient.
	Client *http.Client
	// Hash and Sum, if set, are the digest the file must have (Sum in
	// hexadecimal), such as md5.New and the digest its publisher gives.
	Hash func() hash.Hash
	Sum  string
	// SumPrefix accepts a digest that begins with Sum (at least 8
	// hexadecimal digits): torch.hub's file names carry the first 8 of
	// the file's SHA-256.
	SumPrefix bool
	// Progress, if set, is called as bytes arrive with the bytes so far
	// (counting a resumed part) and the total (-1 if unknown), and once at
	// the end.
	Progress func(done, total int64)
}

// PartPath is where File keeps the partial download of dst.
func PartPath(dst string) string {
	return filepath.Join(filepath.Dir(dst), "."+filepath.Base(dst)+".part")
}

// File downloads url to dst. A partial file left by an earlier attempt is
// resumed; on a network error the partial file is kept for the next
// attempt; on a checksum mismatch it is removed. dst is replaced only by a
// complete, verified file.
func File(ctx context.Context, url, dst string, o Options) error {
	if err := fetch(ctx, url, dst, o); err != nil {
		return fmt.Errorf("download %s: %w", url, err)
	}
	return nil
}

func fetch(ctx context.Context, url, dst string, o Options) error {
	client := o.Client
	if client == nil {
		client = http.DefaultClient
	}
	part := PartPath(dst)
	var have int64
	if st, err := os.Stat(part); err == nil && st.Mode().IsRegular() {
		have = st.Size()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if have > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(have, 10)+"-")
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	flags := os.O_CREATE | os.O_WRONLY
	total := resp.ContentLength
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		flags |= os.O_APPEND
		if total >= 0 {
			total += have
		}
	case resp.StatusCode == http.StatusOK:
		flags |= os.O_TRUNC // the server ignored Range: start over
		have = 0
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && have > 0:
		// The part is already whole (or bigger than the file): check it.
		total = have
	default:
		return fmt.Errorf("HTTP status %s", resp.Status)
	}
	f, err := os.OpenFile(part, flags, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		w := io.Writer(f)
		if o.Progress != nil {
			o.Progress(have, total)
			w = &progressWriter{w: f, done: have, total: total, report: o.Progress}
		}
		n, err := io.Copy(w, resp.Body)
		if err != nil {
			return fmt.Errorf("after %d bytes (kept in %s, resumed next time): %w", have+n, part, err)
		}
		if resp.ContentLength >= 0 && n != resp.ContentLength {
			return fmt.Errorf("got %d bytes, want %d (kept in %s, resumed next time)", n, resp.ContentLength, part)
		}
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if o.Hash != nil {
		got, err := digest(part, o.Hash())
		if err != nil {
			return err
		}
		if got != o.Sum && !(o.SumPrefix && len(o.Sum) >= 8 && strings.HasPrefix(got, o.Sum)) {
			os.Remove(part)
			return fmt.Errorf("digest %s, want %s: %w", got, o.Sum, ErrChecksum)
		}
	}
	return atomicfile.Rename(part, dst)
}

func digest(path string, h hash.Hash) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

type progressWriter struct {
	w           io.Writer
	done, total int64
	report      func(done, total int64)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.done += int64(n)
	p.report(p.done, p.total)
	return n, err
}
