package serve

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
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

// TestBatcher queues jobs of 1, 2 and 3 samples before the batcher runs:
// they are run as batches of at most maxBatch samples, each job getting its
// own rows of the outputs, and a job whose context ended is answered with
// its error without running.
func TestBatcher(t *testing.T) {
	m, err := graph.SequentialSeed(1, graph.Input(2), &graph.Dense{Units: 3})
	if err != nil {
		t.Fatal(err)
	}
	v := &version{number: 1, model: m, in: m.InputShape(), out: m.OutputShape()}
	var batches []int
	b := &batcher{queue: make(chan *job, 16), maxBatch: 5, current: func() *version { return v },
		observe: func(n int) { batches = append(batches, n) }, stop: make(chan struct{}), stopped: make(chan struct{})}
	var jobs []*job
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for k, n := range []int{1, 2, 3, 1, 2} {
		x := make([]float32, 2*n)
		for i := range x {
			x[i] = float32(k*10 + i)
		}
		ctx := context.Background()
		if k == 3 {
			ctx = cancelled
		}
		j := &job{ctx: ctx, v: v, x: x, n: n, done: make(chan result, 1)}
		if err := b.submit(j); err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, j)
	}
	go b.run()
	for k, j := range jobs {
		r := <-j.done
		if k == 3 {
			if !errors.Is(r.err, context.Canceled) {
				t.Errorf("the cancelled job: %v", r.err)
			}
			continue
		}
		want, err := m.Predict(j.x, j.n)
		if err != nil || r.err != nil || !slices.Equal(r.y, want) {
			t.Errorf("job %d: %v %v, want %v", k, r.y, r.err, want)
		}
	}
	b.close()
	// 1+2, then 3 (with the cancelled job, not run), then 2: a job that
	// would take a batch past 5 samples waits for the next.
	if !slices.Equal(batches, []int{3, 3, 2}) {
		t.Errorf("batches %v, want [3 3 2]", batches)
	}
}
