package serve

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/capa-ml/capa/graph"
)

// stalled serves a model whose batcher never runs (its queue holds
// queue jobs), to fill the queue and let requests time out at will.
func stalled(t *testing.T, queue int, timeout time.Duration) *httptest.Server {
	t.Helper()
	m, err := graph.SequentialSeed(1, graph.Input(2), &graph.Dense{Units: 2})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	s := New(Options{Timeout: timeout, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := s.Add("m", path); err != nil {
		t.Fatal(err)
	}
	sv, _ := s.model("m")
	sv.batch.close()
	sv.batch = &batcher{queue: make(chan *job, queue), stop: make(chan struct{}), stopped: make(chan struct{})}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts
}

func postJSON(t *testing.T, url, body string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct{ Error string }
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &e)
	return resp, e.Error
}

// TestQueueFull fills a model's queue: the next request is answered 503
// with Retry-After at once, instead of waiting in a queue that grows.
func TestQueueFull(t *testing.T) {
	ts := stalled(t, 0, time.Minute)
	resp, msg := postJSON(t, ts.URL+"/v1/models/m:predict", `{"instances": [[1, 2]]}`)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" || !strings.Contains(msg, "queue is full") {
		t.Errorf("%d %q %q", resp.StatusCode, resp.Header.Get("Retry-After"), msg)
	}
}

// TestTimeout lets a request wait in the queue past the server's timeout.
func TestTimeout(t *testing.T) {
	ts := stalled(t, 4, 50*time.Millisecond)
	resp, msg := postJSON(t, ts.URL+"/v2/models/m/infer", `{"inputs": [{"name": "input", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}]}`)
	if resp.StatusCode != 503 || !strings.Contains(msg, "timed out after 50ms") {
		t.Errorf("%d %q", resp.StatusCode, msg)
	}
}
