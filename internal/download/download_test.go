package download

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var payload = bytes.Repeat([]byte("capa-download-"), 5000) // 70 kB

func sum(b []byte) string { h := md5.Sum(b); return hex.EncodeToString(h[:]) }

// server serves payload with Range support (http.ServeContent), or
// ignoring Range, or breaking off after half the bytes of the first
// request.
func server(t *testing.T, mode string) (*httptest.Server, *[]string) {
	var ranges []string
	breakOnce := mode == "break"
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ranges = append(ranges, r.Header.Get("Range"))
		switch {
		case mode == "norange":
			w.Header().Set("Content-Length", strconv.Itoa(len(payload)))
			w.Write(payload)
		case breakOnce:
			breakOnce = false
			w.Header().Set("Content-Length", strconv.Itoa(len(payload)))
			w.Write(payload[:len(payload)/2])
			// Returning with fewer bytes than Content-Length makes the
			// server close the connection: the client sees an error.
		default:
			http.ServeContent(w, r, "f", timeZero, bytes.NewReader(payload))
		}
	}))
	t.Cleanup(s.Close)
	return s, &ranges
}

func TestFile(t *testing.T) {
	s, _ := server(t, "range")
	dst := filepath.Join(t.TempDir(), "f.gz")
	var last [2]int64
	err := File(context.Background(), s.URL, dst, Options{Hash: md5.New, Sum: sum(payload),
		Progress: func(d, n int64) { last = [2]int64{d, n} }})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dst); !bytes.Equal(b, payload) {
		t.Error("the file differs from what was served")
	}
	if last != [2]int64{int64(len(payload)), int64(len(payload))} {
		t.Errorf("last progress %v", last)
	}
	if _, err := os.Stat(PartPath(dst)); !os.IsNotExist(err) {
		t.Errorf("the partial file is still there: %v", err)
	}
}

func TestFileChecksum(t *testing.T) {
	s, _ := server(t, "range")
	dir := t.TempDir()
	dst := filepath.Join(dir, "f.gz")
	err := File(context.Background(), s.URL, dst, Options{Hash: md5.New, Sum: sum([]byte("other"))})
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), s.URL) {
		t.Fatalf("error %v, want ErrChecksum naming the URL", err)
	}
	if es, _ := os.ReadDir(dir); len(es) != 0 {
		t.Errorf("a failed download left %v", es)
	}
}

// TestFileSumPrefix: a digest prefix (torch.hub's 8 digits) is accepted
// only with SumPrefix, and a wrong or too short prefix is refused.
func TestFileSumPrefix(t *testing.T) {
	s, _ := server(t, "range")
	full := sum(payload)
	for _, c := range []struct {
		sum    string
		prefix bool
		ok     bool
	}{{full[:8], true, true}, {full[:8], false, false}, {"00000000", true, false}, {full[:4], true, false}, {full, true, true}} {
		dst := filepath.Join(t.TempDir(), "f")
		err := File(context.Background(), s.URL, dst, Options{Hash: md5.New, Sum: c.sum, SumPrefix: c.prefix})
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrChecksum)) {
			t.Errorf("sum %q prefix %v: %v", c.sum, c.prefix, err)
		}
	}
}

func TestFileResume(t *testing.T) {
	s, ranges := server(t, "break")
	dst := filepath.Join(t.TempDir(), "f.gz")
	o := Options{Hash: md5.New, Sum: sum(payload)}
	err := File(context.Background(), s.URL, dst, o)
	if err == nil || !strings.Contains(err.Error(), "resumed next time") {
		t.Fatalf("broken download: %v", err)
	}
	if st, err := os.Stat(PartPath(dst)); err != nil || st.Size() != int64(len(payload)/2) {
		t.Fatalf("partial file: %v %v", st, err)
	}
	if err := File(context.Background(), s.URL, dst, o); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dst); !bytes.Equal(b, payload) {
		t.Error("the resumed file differs from what was served")
	}
	if want := "bytes=" + strconv.Itoa(len(payload)/2) + "-"; len(*ranges) != 2 || (*ranges)[1] != want {
		t.Errorf("requests' Range headers %q, want \"\" then %q", *ranges, want)
	}
}

func TestFileServerIgnoresRange(t *testing.T) {
	s, _ := server(t, "norange")
	dst := filepath.Join(t.TempDir(), "f.gz")
	if err := os.WriteFile(PartPath(dst), []byte("stale bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := File(context.Background(), s.URL, dst, Options{Hash: md5.New, Sum: sum(payload)}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dst); !bytes.Equal(b, payload) {
		t.Error("a server ignoring Range: the part was not started over")
	}
}

func TestFileHTTPError(t *testing.T) {
	s := httptest.NewServer(http.NotFoundHandler())
	defer s.Close()
	dir := t.TempDir()
	err := File(context.Background(), s.URL, filepath.Join(dir, "f"), Options{})
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("404: %v", err)
	}
	if es, _ := os.ReadDir(dir); len(es) != 0 {
		t.Errorf("a 404 left %v", es)
	}
}

var timeZero = time.Time{}
